# The embedded variables for log_format (SPEC 6, README "Embedded
# variables"): caller, list, outcome, counts, pool wait and statement time,
# server; each one empty (never "-") while it is not known.  No
# leadlist_metrics here: the variables do not need it.
#
# Every block logs the endpoint with the format "ll" below into the
# access log that the driver reads, and checks that line.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

# keys outlive the lists the fixture clears: a key of an earlier run
# would replay at once
db_fixture('t093', lists => [['l', 'person', 'u'], ['co', 'company', 'u']],
           sql => "DELETE FROM tenant.idempotency_keys"
                  . " WHERE org_id = 't093';");

our $A = "Authorization: Bearer user=u;org=t093\nContent-Type: application/json";

our $http_config = $Leadlist::http_config . <<'_EOC_';
    log_format ll 'll org=[$leadlist_org_id] user=[$leadlist_user_id] '
                  'list=[$leadlist_list_id] outcome=[$leadlist_outcome] '
                  'added=[$leadlist_added] selected=[$leadlist_selected] '
                  'wait=[$leadlist_pool_wait_time] '
                  'statement=[$leadlist_statement_time] '
                  'server=[$leadlist_server] status=$status';

    upstream down {
        leadlist_pg_server "host=127.0.0.1 port=1 dbname=x user=x";
    }
_EOC_

our $log = '        access_log $TEST_NGINX_SERVER_ROOT/logs/access.log ll;';

our $config = Leadlist::endpoint($log) . <<'_EOC_';
    location = /plain {
        access_log $TEST_NGINX_SERVER_ROOT/logs/access.log ll;
        return 200 "plain\n";
    }
_EOC_

# what the pool did: times as seconds.milliseconds, the server that ran it
our $ran = qr/wait=\[\d+\.\d{3}\] statement=\[\d+\.\d{3}\] server=\[127\.0\.0\.1:$ENV{TEST_NGINX_PG_PORT}\/leadlist\]/;
our $none = 'wait=[] statement=[] server=[]';

sub body { return '{"persons":[' . join(',', map { qq({"id":"$_"}) } @_) . ']}' }

run_tests();

__DATA__

=== TEST 1: a new prospect: who, which list, added, the pool's times and server
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p1")
--- error_code: 200
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[added\] added=\[1\] selected=\[1\] $::ran status=200$/



=== TEST 2: already in the list, and one new: added 1 of 2 selected
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p1", "p2")
--- error_code: 200
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[added\] added=\[1\] selected=\[2\] $::ran status=200$/



=== TEST 3: nothing new: added 0
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p2")
--- error_code: 200
--- access_log eval
qr/ outcome=\[added\] added=\[0\] selected=\[1\] /



=== TEST 4: not signed in: nothing known but the outcome, and empty, not "-"
--- request
POST /api/lead-lists/l/add-prospects
{}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- access_log
ll org=[] user=[] list=[] outcome=[unauthorized] added=[] selected=[] wait=[] statement=[] server=[] status=401



=== TEST 5: a bad body: the caller and the list, no database
--- more_headers eval: $::A
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{"id":5}]}
--- error_code: 400
--- access_log eval
"ll org=[t093] user=[u] list=[l] outcome=[bad_request] added=[] selected=[] $::none status=400"



=== TEST 6: a bad list id is not logged as one
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/a.b/add-prospects\n" . ::body("p1")
--- error_code: 400
--- access_log eval
"ll org=[t093] user=[u] list=[] outcome=[bad_request] added=[] selected=[] $::none status=400"



=== TEST 7: no such list: not_found, after the statement
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/nope/add-prospects\n" . ::body("p1")
--- error_code: 404
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[nope\] outcome=\[not_found\] added=\[\] selected=\[\] $::ran status=404$/



=== TEST 8: not in the list's users: forbidden
--- more_headers
Authorization: Bearer user=x;org=t093
Content-Type: application/json
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p1")
--- error_code: 403
--- access_log eval
qr/^ll org=\[t093\] user=\[x\] list=\[l\] outcome=\[forbidden\] added=\[\] selected=\[\] $::ran status=403$/



=== TEST 9: a company list: the statement's own outcome
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/co/add-prospects\n" . ::body("p1")
--- error_code: 400
--- access_log eval
qr/ list=\[co\] outcome=\[company_list\] added=\[\] selected=\[\] $::ran status=400$/



=== TEST 10: an unknown saved search
--- more_headers eval: $::A
--- request
POST /api/lead-lists/l/add-prospects
{"selection":{"searchId":"nope","ids":["p1"]}}
--- error_code: 400
--- access_log eval
qr/ outcome=\[search_not_found\] added=\[\] selected=\[\] $::ran status=400$/



=== TEST 11: another method
--- more_headers eval: $::A
--- request
GET /api/lead-lists/l/add-prospects
--- error_code: 405
--- access_log eval
qr/^ll .* outcome=\[method_not_allowed\] added=\[\] selected=\[\] wait=\[\] statement=\[\] server=\[\] status=405$/



=== TEST 12: a database that cannot be reached: how long the request waited for one, no statement, no server
--- http_config eval: $::http_config
--- config eval
Leadlist::endpoint($::log) =~ s/leadlist_db/down/r
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p1")
--- error_code: 503
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[service_unavailable\] added=\[\] selected=\[\] wait=\[\d+\.\d{3}\] statement=\[\] server=\[\] status=503$/



=== TEST 13: outside an endpoint location every one is empty
--- http_config eval: $::http_config
--- config eval: $::config
--- request
GET /plain
--- error_code: 200
--- access_log
ll org=[] user=[] list=[] outcome=[] added=[] selected=[] wait=[] statement=[] server=[] status=200



=== TEST 14: a dry run stores nothing: dry_run, with the counts its answer gave
--- http_config eval: $::http_config
--- config eval: $::config
--- more_headers eval: "$::A\nPrefer: tx=rollback"
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p3")
--- error_code: 200
--- response_headers
Preference-Applied: tx=rollback
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[dry_run\] added=\[1\] selected=\[1\] $::ran status=200$/



=== TEST 15: a dry run the database refuses: that outcome, as without one
--- more_headers eval: "$::A\nPrefer: tx=rollback"
--- request eval
"POST /api/lead-lists/nope/add-prospects\n" . ::body("p3")
--- error_code: 404
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[nope\] outcome=\[not_found\] added=\[\] selected=\[\] $::ran status=404$/



=== TEST 16: the dry run's add, for real: added, and it adds what the dry run did not store
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p3")
--- error_code: 200
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[added\] added=\[1\] selected=\[1\] $::ran status=200$/



=== TEST 17: an add with an Idempotency-Key
--- more_headers eval: "$::A\nIdempotency-Key: k093"
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p4", "p5")
--- error_code: 200
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[added\] added=\[2\] selected=\[2\] $::ran status=200$/



=== TEST 18: its replay: replayed, no counts: it added nothing this time
--- more_headers eval: "$::A\nIdempotency-Key: k093"
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p4", "p5")
--- error_code: 200
--- response_headers
Idempotent-Replayed: true
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[replayed\] added=\[\] selected=\[\] $::ran status=200$/



=== TEST 19: a line of several hosts: the host that ran the statement, not the line
--- http_config eval
$::http_config . <<"_EOC_";
    upstream multi {
        leadlist_pg_server "host=127.0.0.1,127.0.0.1 port=1,$ENV{TEST_NGINX_PG_PORT} dbname=leadlist user=leadlist_app password=$ENV{TEST_NGINX_PG_PASSWORD}";
    }
_EOC_
--- config eval
Leadlist::endpoint($::log) =~ s/leadlist_db/multi/r
--- more_headers eval: $::A
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ::body("p6")
--- error_code: 200
--- access_log eval
qr/^ll org=\[t093\] user=\[u\] list=\[l\] outcome=\[added\] added=\[1\] selected=\[1\] $::ran status=200$/



=== TEST 20: a client that leaves while sending its body: client_closed, though nginx's $status says 400
--- http_config eval: $::http_config
--- config eval
Leadlist::endpoint('        access_log $TEST_NGINX_SERVER_ROOT/logs/error.log ll;')
--- raw_request eval
"POST /api/lead-lists/l/add-prospects HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer user=u;org=t093\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"persons\":["
--- timeout: 0.5
--- abort
--- ignore_response
--- wait: 0.3
--- error_log eval
qr/ll org=\[t093\] user=\[u\] list=\[l?\] outcome=\[client_closed\] added=\[\] selected=\[\] wait=\[\] statement=\[\] server=\[\] status=400/
