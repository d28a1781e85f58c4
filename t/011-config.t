use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

# Every misconfiguration is caught when nginx starts (nginx -t), with a
# message that names the directive, never at request time.

repeat_each(1);
no_shuffle();
no_long_string();

# whether line $n of $file holds $text: a message that names a file and a
# line names the right one
sub line_has {
    my ($file, $n, $text) = @_;
    open my $fh, '<', $file or return 0;
    my @lines = <$fh>;
    return defined $lines[$n - 1] && index($lines[$n - 1], $text) >= 0;
}

# an endpoint location naming upstream u
our $uses_u = <<'_EOC_';
    location /a {
        leadlist_add_prospects u;
        leadlist_list_id x;
        leadlist_auth_request /_auth;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a complete configuration starts and serves
--- http_config eval
$::http_config . <<'_EOC_';
    upstream full {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO application_name=second";
        leadlist_pg_keepalive 2;
        leadlist_pg_max 8;
        leadlist_pg_queue 16 timeout=1s;
        leadlist_pg_connect_timeout 2s;
        leadlist_pg_connect_concurrency 2;
        leadlist_pg_query_timeout 3s;
        leadlist_pg_keepalive_timeout 30s;
        leadlist_pg_keepalive_time 10m;
        leadlist_pg_keepalive_requests 100;
    }
    leadlist_auth_user_header X-User-Id;
    leadlist_max_persons 10;
_EOC_
--- config eval
Leadlist::endpoint("leadlist_max_selection 20;")
--- request
GET /api/lead-lists/x/add-prospects
--- error_code: 405
--- no_error_log
[emerg]
[alert]



=== TEST 2: unknown upstream
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects nosuch;
        leadlist_list_id x;
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
"leadlist_add_prospects" names unknown upstream "nosuch"



=== TEST 3: an upstream block without leadlist_pg_server
--- http_config
    upstream empty {
        leadlist_pg_keepalive 2;
    }
--- config
    location /a {
        leadlist_add_prospects empty;
        leadlist_list_id x;
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
upstream "empty" has no "leadlist_pg_server"



=== TEST 4: an upstream defined after the location still resolves
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        server_name later.test;
        location /a {
            leadlist_add_prospects later;
            leadlist_list_id x;
            leadlist_auth_request /_auth;
        }
    }

    upstream later {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
    }
--- config
--- more_headers
Host: later.test
--- request
GET /a
--- error_code: 405



=== TEST 5: the endpoint without leadlist_auth_request
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id x;
    }
--- must_die
--- error_log
"leadlist_add_prospects" needs "leadlist_auth_request"



=== TEST 6: leadlist_auth_request inherited from server level is enough
--- http_config eval: $::http_config
--- config
    leadlist_auth_request /_auth;
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id x;
    }
--- request
GET /a
--- error_code: 405



=== TEST 7: the endpoint without leadlist_list_id
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
"leadlist_add_prospects" needs "leadlist_list_id"



=== TEST 8: leadlist_pg_keepalive is not a number
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_keepalive many;
    }
--- config
--- must_die
--- error_log
invalid value "many" in "leadlist_pg_keepalive"



=== TEST 9: leadlist_max_persons 0
--- config
    leadlist_max_persons 0;
--- must_die
--- error_log
invalid value "0" in "leadlist_max_persons", must be a number from 1 to 100000



=== TEST 10: leadlist_max_selection negative
--- config
    leadlist_max_selection -5;
--- must_die
--- error_log
invalid value "-5" in "leadlist_max_selection"



=== TEST 11: leadlist_pg_max 0
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_max 0;
    }
--- config
--- must_die
--- error_log
invalid value "0" in "leadlist_pg_max"



=== TEST 12: keepalive larger than the cap on open connections
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_keepalive 10;
        leadlist_pg_max 4;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_keepalive" 10 is larger than "leadlist_pg_max" 4



=== TEST 13: duplicate leadlist_pg_keepalive
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_keepalive 1;
        leadlist_pg_keepalive 2;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_keepalive" directive is duplicate



=== TEST 14: duplicate leadlist_add_prospects
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_add_prospects leadlist_db;
        leadlist_list_id x;
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
"leadlist_add_prospects" directive is duplicate



=== TEST 15: duplicate leadlist_list_id
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id x;
        leadlist_list_id y;
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
"leadlist_list_id" directive is duplicate



=== TEST 16: duplicate leadlist_auth_request
--- config
    leadlist_auth_request /a;
    leadlist_auth_request /b;
--- must_die
--- error_log
"leadlist_auth_request" directive is duplicate



=== TEST 17: leadlist_auth_request must be a URI
--- config
    leadlist_auth_request auth;
--- must_die
--- error_log
"leadlist_auth_request" must be a URI that starts with "/", not "auth"



=== TEST 18: a conninfo libpq cannot parse
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1 port";
    }
--- config
--- must_die
--- error_log
invalid conninfo in "leadlist_pg_server"



=== TEST 19: an unknown libpq keyword
--- http_config
    upstream u {
        leadlist_pg_server "hots=127.0.0.1";
    }
--- config
--- must_die
--- error_log
invalid conninfo in "leadlist_pg_server": invalid connection option "hots"



=== TEST 20: a host name that does not resolve fails at configuration time, at its own line
The name is resolved as the upstream block ends, yet the message names the
file and line of the directive: the line it cites holds the host name.
--- http_config
    upstream u {
        leadlist_pg_server "host=no-such-host.invalid dbname=x";
        leadlist_pg_keepalive 4;
    }
--- config
--- must_die
--- error_log eval
qr{"leadlist_pg_server" host "no-such-host\.invalid" not found in (\S+):(\d+)$(?(?{ !main::line_has($1, $2, 'host=no-such-host.invalid') })(*FAIL))}



=== TEST 21: "server" lines cannot be mixed in
--- http_config
    upstream u {
        server 127.0.0.1:5432;
        leadlist_pg_server "host=127.0.0.1";
    }
--- config
--- must_die
--- error_log
"server" cannot be mixed with "leadlist_pg_server" in upstream "u"



=== TEST 22: leadlist_pg_server outside an upstream block
--- config
    leadlist_pg_server "host=127.0.0.1";
--- must_die
--- error_log
"leadlist_pg_server" directive is not allowed here



=== TEST 23: a query timeout too short for the server-side margin
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_query_timeout 300ms;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_query_timeout" must be at least 1000ms



=== TEST 24: leadlist_pg_queue with a bad timeout
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_queue 10 timeout=soon;
    }
--- config
--- must_die
--- error_log
invalid timeout "timeout=soon" in "leadlist_pg_queue"



=== TEST 25: leadlist_add_prospects outside a location
--- http_config eval: $::http_config
--- config
    leadlist_add_prospects leadlist_db;
--- must_die
--- error_log
"leadlist_add_prospects" directive is not allowed here



=== TEST 26: a leadlist upstream cannot serve proxy_pass
--- http_config eval: $::http_config
--- config
    location /p {
        proxy_pass http://leadlist_db;
    }
--- request
GET /p
--- error_code: 500
--- error_log
leadlist: upstream "leadlist_db" is for leadlist_add_prospects only



=== TEST 27: leadlist_pg_connect_concurrency 0
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_connect_concurrency 0;
    }
--- config
--- must_die
--- error_log
invalid value "0" in "leadlist_pg_connect_concurrency"



=== TEST 28: a conninfo statement_timeout of 0 would outlive the query timer
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1 options='-c statement_timeout=0'";
    }
--- config
--- must_die
--- error_log
"leadlist_pg_server" options set a statement_timeout that is not a time from 1ms to less than "leadlist_pg_query_timeout" 10000ms



=== TEST 29: a conninfo statement_timeout not below the query timeout
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1 options='-c statement_timeout=2min'";
        leadlist_pg_query_timeout 30s;
    }
--- config
--- must_die
--- error_log
options set a statement_timeout that is not a time from 1ms to less than "leadlist_pg_query_timeout" 30000ms



=== TEST 30: an empty leadlist_auth_role_header would make every admin a 403
--- config
    leadlist_auth_role_header "";
--- must_die
--- error_log
invalid header name "" in "leadlist_auth_role_header" directive



=== TEST 31: an empty leadlist_auth_user_header
--- config
    leadlist_auth_user_header "";
--- must_die
--- error_log
invalid header name "" in "leadlist_auth_user_header" directive



=== TEST 32: an empty leadlist_auth_org_header
--- config
    location /a {
        leadlist_auth_org_header "";
    }
--- must_die
--- error_log
invalid header name "" in "leadlist_auth_org_header" directive



=== TEST 33: a header name with a space is no RFC 9110 token
--- config
    leadlist_auth_user_header "X User";
--- must_die
--- error_log
invalid header name "X User" in "leadlist_auth_user_header" directive



=== TEST 34: a header name with a colon is no RFC 9110 token
--- http_config
    leadlist_auth_org_header X-Org:Id;
--- config
--- must_die
--- error_log
invalid header name "X-Org:Id" in "leadlist_auth_org_header" directive



=== TEST 35: a header name with a non-ASCII letter is no RFC 9110 token
--- config eval
qq{    leadlist_auth_role_header "X-R\xc3\xb4le";\n}
--- must_die
--- error_log eval
qq{invalid header name "X-R\xc3\xb4le" in "leadlist_auth_role_header" directive}



=== TEST 36: header names of any RFC 9110 tchar are accepted
--- http_config eval
$::http_config . <<'_EOC_';
    leadlist_auth_user_header "!#$%&'*+-.^_`|~09azAZ";
_EOC_
--- config eval
Leadlist::endpoint("leadlist_auth_org_header x; leadlist_auth_role_header Y_1;")
--- request
GET /api/lead-lists/x/add-prospects
--- error_code: 405
--- no_error_log
[emerg]



=== TEST 37: leadlist_list_id empty as configured would blame every client
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id "";
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
invalid list id "" in "leadlist_list_id" directive



=== TEST 38: a constant leadlist_list_id with a character outside [A-Za-z0-9_-]
--- http_config eval: $::http_config
--- config
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id "a b";
        leadlist_auth_request /_auth;
    }
--- must_die
--- error_log
invalid list id "a b" in "leadlist_list_id" directive



=== TEST 39: a constant leadlist_list_id of 65 characters
--- http_config eval: $::http_config
--- config eval
"    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id " . ('x' x 65) . ";
        leadlist_auth_request /_auth;
    }"
--- must_die
--- error_log eval
'invalid list id "' . ('x' x 65) . '" in "leadlist_list_id" directive'



=== TEST 40: a constant leadlist_list_id of 64 valid characters serves its list
--- http_config eval: $::http_config
--- config eval
"    location = /_auth { return 204; }
    location /a {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id " . ('x' x 63) . "_;
        leadlist_auth_request /_auth;
    }"
--- request
GET /a
--- error_code: 405
--- no_error_log
[emerg]



=== TEST 41: a query timeout that would leave the server 1ms
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_query_timeout 501ms;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_query_timeout" must be at least 1000ms



=== TEST 42: a connect timeout of 0 would fail every connect
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_connect_timeout 0;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_connect_timeout" must be more than 0 in upstream "u"



=== TEST 43: a keepalive time of 0 would close every connection at release
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_keepalive_time 0;
    }
--- config
--- must_die
--- error_log
"leadlist_pg_keepalive_time" must be more than 0 in upstream "u"



=== TEST 44: a wait queue of 0 would never let a connection open
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_queue 0;
    }
--- config
--- must_die
--- error_log
invalid queue size "0" in "leadlist_pg_queue", it must be at least 1



=== TEST 45: a wait timeout of 0 would refuse every request that waits
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_pg_queue 10 timeout=0;
    }
--- config
--- must_die
--- error_log
invalid timeout "timeout=0" in "leadlist_pg_queue", it must be more than 0



=== TEST 46: a malformed URI conninfo: libpq's reason, never the password
--- http_config
    upstream u {
        leadlist_pg_server "postgres://leadlist_app:s3cr3tPW@[::1/leadlist";
    }
--- config
--- must_die
--- error_log
invalid conninfo in "leadlist_pg_server": end of string reached when looking for matching "]" in IPv6 host address in URI: "(the conninfo)"
--- no_error_log
s3cr3tPW



=== TEST 47: nginx's zone in a leadlist upstream (it crashed nginx -t)
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        zone u_zone 64k;
    }
--- config
--- must_die
--- error_log
"zone" cannot be used with "leadlist_pg_server" in upstream "u"



=== TEST 48: keepalive after leadlist_pg_server would wrap the pool's init
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        keepalive 4;
    }
--- config
--- must_die
--- error_log
upstream "u" with "leadlist_pg_server" takes no "keepalive" (see "leadlist_pg_keepalive") and no balancer such as "least_conn" or "hash"



=== TEST 49: a balancer before leadlist_pg_server, an endpoint naming it
--- http_config
    upstream u {
        least_conn;
        leadlist_pg_server "host=127.0.0.1";
    }
--- config eval: $::uses_u
--- must_die
--- error_log
upstream "u" with "leadlist_pg_server" takes no "keepalive"



=== TEST 50: a balancer after leadlist_pg_server, an endpoint naming it later
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        hash $remote_addr;
    }
--- config eval: $::uses_u
--- must_die
--- error_log
upstream "u" with "leadlist_pg_server" takes no "keepalive"



=== TEST 51: a balancer after leadlist_pg_server, nothing naming it
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        random;
    }
--- config
--- must_die
--- error_log
no servers in upstream "u"



=== TEST 52: an empty conninfo is a missing one, not libpq's defaults
--- http_config
    upstream u {
        leadlist_pg_server "  ";
    }
--- config
--- must_die
--- error_log
empty conninfo in "leadlist_pg_server"
