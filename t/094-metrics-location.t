# The leadlist_metrics location in one nginx process, in Test::Nginx's
# format, so that make test-valgrind and make test-asan run the zone, the
# hooks and the exposition too (t/092-metrics.t, which needs several
# workers, does not run under valgrind).

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

db_fixture('t094', lists => [['l', 'person', 'u']]);

our $A = "Authorization: Bearer user=u;org=t094\nContent-Type: application/json";

our $config = Leadlist::endpoint() . <<'_EOC_';
    location = /metrics {
        leadlist_metrics;
    }
_EOC_

our $loc = quotemeta '{location="^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$"';
our $up = quotemeta '{upstream="leadlist_db"';

run_tests();

__DATA__

=== TEST 1: a fresh zone: every family, zeros, no status yet
--- http_config eval: $::http_config
--- config eval: $::config
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body_like eval
qr/\A# HELP leadlist_pool_connections PostgreSQL connections of all workers, by state\.\n# TYPE leadlist_pool_connections gauge\n.*^leadlist_pool_connections_open$::up\} 0\n.*^leadlist_pool_limit$::up\} 32\n.*^leadlist_pool_statements_total$::up\} 0\n.*^leadlist_pool_wait_duration_seconds_bucket$::up,le="\+Inf"\} 0\n.*^# TYPE leadlist_responses_total counter\n# HELP /ms
--- response_body_unlike
leadlist_responses_total{
--- no_error_log
[error]



=== TEST 2: a request, then its figures
--- more_headers eval: $::A
--- request eval
['POST /api/lead-lists/l/add-prospects
{"persons":[{"id":"a"},{"id":"b"}]}',
 'GET /metrics']
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0\}$/,
 qr/^leadlist_responses_total$::loc,status="200"\} 1\n.*^leadlist_prospects_added_total$::loc\} 2\n.*^leadlist_prospects_selected_total$::loc\} 2\n.*^leadlist_request_duration_seconds_count$::loc\} 1\n/ms]
--- no_error_log
[error]



=== TEST 3: the pool: one statement, one connection kept idle
--- request
GET /metrics
--- response_body_like eval
qr/^leadlist_pool_connections$::up,state="idle"\} 1\nleadlist_pool_connections$::up,state="busy"\} 0\n.*^leadlist_pool_connects_total$::up\} 1\n.*^leadlist_pool_statements_total$::up\} 1\n.*^leadlist_pool_statement_duration_seconds_count$::up\} 1\n/ms



=== TEST 4: a 404 counts under its status
--- more_headers eval: $::A
--- request eval
['POST /api/lead-lists/nope/add-prospects
{"persons":[{"id":"a"}]}',
 'GET /metrics']
--- error_code eval
[404, 200]
--- response_body_like eval
[qr/NOT_FOUND/,
 qr/^leadlist_responses_total$::loc,status="200"\} 1\nleadlist_responses_total$::loc,status="404"\} 1\n/m]



=== TEST 5: so does a 401
--- more_headers
Content-Type: application/json
--- request eval
["POST /api/lead-lists/l/add-prospects\n{}", 'GET /metrics']
--- error_code eval
[401, 200]
--- response_body_like eval
[qr/UNAUTHORIZED/,
 qr/^leadlist_responses_total$::loc,status="200"\} 1\nleadlist_responses_total$::loc,status="401"\} 1\nleadlist_responses_total$::loc,status="404"\} 1\n/m]



=== TEST 6: HEAD: the headers only
--- request
HEAD /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4
--- response_body chomp



=== TEST 7: POST: 405 JSON with Allow, the body discarded
--- request
POST /metrics
{"x":1}
--- error_code: 405
--- response_headers
Allow: GET, HEAD
Content-Type: application/json
--- raw_response_headers_like: \r\nX-Request-Id: [0-9a-f]{32}\r\n
--- response_body_like: ^\{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed, use GET or HEAD","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]
