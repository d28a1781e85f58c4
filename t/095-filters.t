# The module's answers pass through nginx's header and body filters as any
# content handler's do, so that an operator's usual directives in the
# endpoint's location (or server) apply to them: add_header, without
# "always" on its success codes only and with it on every answer, the
# module's JSON errors and the pages nginx makes itself included; gzip
# for the JSON answer of a client that accepts it (on the statuses nginx's
# gzip compresses: 200, 403 and 404); an inherited error_page does not
# turn nginx's errors there into HTML.  And the error log's context, which
# nginx appends to a line: the module says what the request is doing (the
# auth subrequest's upstream would leave "sending to client" behind).

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use IO::Uncompress::Gunzip ();

repeat_each(1);
no_shuffle();
no_long_string();

db_fixture('t095', lists => [['l', 'person', 'u']]);

our $A = "Authorization: Bearer user=u;org=t095\nContent-Type: application/json";

our $http_config = $Leadlist::http_config . <<'_EOC_';
    upstream down {
        leadlist_pg_server "host=127.0.0.1 port=1 dbname=x user=x";
    }
_EOC_

our $headers = <<'_EOC_';
        add_header X-Frame-Options DENY;
        add_header Access-Control-Allow-Origin "https://app.example" always;
        client_max_body_size 64;
_EOC_

our $config = Leadlist::endpoint($headers) . <<'_EOC_';
    location = /down/add-prospects {
        leadlist_add_prospects down;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        add_header Access-Control-Allow-Origin "https://app.example" always;
    }
_EOC_

# the body as the client reads it once it inflates it
sub gunzip {
    my ($z) = @_;
    my $out;
    IO::Uncompress::Gunzip::gunzip(\$z => \$out)
        or return "not gzip: $IO::Uncompress::Gunzip::GunzipError";
    return $out;
}

our $gzip = Leadlist::endpoint(<<'_EOC_');
        gzip on;
        gzip_types application/json;
        gzip_min_length 1;
_EOC_

# every block's unless it says otherwise: this file's http_config and
# config, and the caller u of t095
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(http_config => $::http_config)
        unless defined $block->http_config;
    $block->set_value(config => $::config) unless defined $block->config;
    $block->set_value(more_headers => $::A)
        unless defined $block->more_headers;
});

run_tests();

__DATA__

=== TEST 1: 200: both headers
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{"id":"p1"}]}
--- error_code: 200
--- response_headers
X-Frame-Options: DENY
Access-Control-Allow-Origin: https://app.example
--- response_body_like: ^\{"addedCount":1,



=== TEST 2: the module's 400: only the "always" one
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[]}
--- error_code: 400
--- response_headers
X-Frame-Options:
Access-Control-Allow-Origin: https://app.example
--- response_body_like: ^\{"code":"BAD_REQUEST",



=== TEST 3: 401
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{"id":"p1"}]}
--- error_code: 401
--- response_headers
X-Frame-Options:
Access-Control-Allow-Origin: https://app.example
--- response_body_like: ^\{"code":"UNAUTHORIZED",



=== TEST 4: nginx's own 413, rewritten to JSON
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . '{"persons":[{"id":"' . ('x' x 100) . '"}]}'
--- error_code: 413
--- response_headers
X-Frame-Options:
Access-Control-Allow-Origin: https://app.example
--- response_body_like: ^\{"code":"PAYLOAD_TOO_LARGE",



=== TEST 5: 503 of a database that cannot be reached
--- request
POST /down/add-prospects
{"persons":[{"id":"p1"}]}
--- error_code: 503
--- response_headers
Access-Control-Allow-Origin: https://app.example
Retry-After: 1
--- response_body_like: ^\{"code":"SERVICE_UNAVAILABLE",
--- error_log eval
qr/\[error\].* no PostgreSQL server of upstream "down" is available, request_id: [0-9a-f]{32} while waiting for PostgreSQL, client: /



=== TEST 6: gzip on, a client that accepts it: the JSON answer compressed
--- config eval: $::gzip
--- more_headers eval: "$::A\nAccept-Encoding: gzip"
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{"id":"p2"}]}
--- error_code: 200
--- response_headers
Content-Encoding: gzip
Content-Type: application/json
--- response_body_filters eval: \&::gunzip
--- response_body chomp
{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}



=== TEST 7: the same client's 404, compressed too
--- config eval: $::gzip
--- more_headers eval: "$::A\nAccept-Encoding: gzip"
--- request
POST /api/lead-lists/nope/add-prospects
{"persons":[{"id":"p2"}]}
--- error_code: 404
--- response_headers
Content-Encoding: gzip
--- response_body_filters eval: \&::gunzip
--- response_body_like: ^\{"code":"NOT_FOUND","message":"[^"]+","requestId":"[0-9a-f]{32}"\}$



=== TEST 7b: and its 400 as it is: nginx's gzip takes 200, 403 and 404 only
--- config eval: $::gzip
--- more_headers eval: "$::A\nAccept-Encoding: gzip"
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{}]}
--- error_code: 400
--- response_headers
Content-Encoding:
--- response_body_like: ^\{"code":"BAD_REQUEST",



=== TEST 8: a client that does not accept it: plain JSON
--- config eval: $::gzip
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[{"id":"p2"}]}
--- error_code: 200
--- response_headers
Content-Encoding:
--- response_body chomp
{"addedCount":0,"alreadyInListCount":1,"notMatchedCount":0}



=== TEST 9: the operator's own access rules in the location: their 403, 401 and 503 in the envelope, in words that fit
deny is nginx's 403, not the list's, and a return 404 is no list's
either; auth_basic's 401 and limit_req's 503 (the second request within
the rate; the first one passes and adds) read as the module's own.
--- http_config eval
$::http_config . "    limit_req_zone \$binary_remote_addr zone=t095:1m rate=1r/m;\n"
--- config eval
Leadlist::endpoint() . <<'_EOC_'
    location = /deny/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        deny all;
    }
    location = /basic/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        auth_basic "t095";
        auth_basic_user_file /nonexistent;
    }
    location = /rate/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        limit_req zone=t095;
        add_header X-T095 rate always;
    }
    location = /gone/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        return 404;
    }
_EOC_
--- request eval
[map { "POST /$_/add-prospects\n" . '{"persons":[{"id":"p3"}]}' } qw(deny basic rate rate gone)]
--- error_code eval
[403, 401, 200, 503, 404]
--- response_headers eval
["X-T095:", "X-T095:", "X-T095: rate", "X-T095: rate", "X-T095:"]
--- response_body_like eval
[(map { qr/^\{"code":"$_->[0]","message":"$_->[1]","requestId":"[0-9a-f]{32}"\}$/ }
  ['FORBIDDEN', 'Forbidden'],
  ['UNAUTHORIZED', 'Authentication required']),
 qr/^\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}$/,
 (map { qr/^\{"code":"$_->[0]","message":"$_->[1]","requestId":"[0-9a-f]{32}"\}$/ }
  ['SERVICE_UNAVAILABLE', 'Service temporarily unavailable, retry later'],
  ['NOT_FOUND', 'Not found'])]



=== TEST 10: error_page of the server (as nginx's stock one): not in an endpoint location, whose errors stay JSON; an error_page in the location itself applies
--- config eval
<<'_EOC_' . Leadlist::endpoint('return 503;')
    error_page 500 502 503 504 /50x.html;
    location = /50x.html {
        internal;
        return 200 "<html>50x</html>\n";
    }
    location = /plain {
        return 503;
    }
    location = /own/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        error_page 503 /50x.html;
        return 503;
    }
_EOC_
--- request eval
["POST /api/lead-lists/l/add-prospects\n" . '{"persons":[{"id":"p4"}]}',
 "GET /plain",
 "POST /own/add-prospects\n" . '{"persons":[{"id":"p4"}]}']
--- error_code eval
[503, 503, 503]
--- response_body_like eval
[qr/^\{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable, retry later","requestId":"[0-9a-f]{32}"\}$/,
 qr/^<html>50x<\/html>$/,
 qr/^<html>50x<\/html>$/]



=== TEST 11: with nginx's default error_log level (error), every 4xx answer leaves a line with its requestId: the module's 400 and 401, nginx's 403 (deny), the 413
leadlist_client_error_log_level is error unless set; the other files
set info, so that their "no [error]" means no unexpected error.
--- log_level: error
--- http_config eval
$::http_config =~ s/^\s*leadlist_client_error_log_level info;\n//mr
--- config eval
Leadlist::endpoint('client_max_body_size 64;') . <<'_EOC_'
    location = /deny/add-prospects {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id l;
        leadlist_auth_request /_auth;
        deny all;
    }
_EOC_
--- more_headers eval
[$::A, "Content-Type: application/json", $::A, $::A]
--- request eval
["POST /api/lead-lists/l/add-prospects\n" . '{"persons":[]}',
 "POST /api/lead-lists/l/add-prospects\n" . '{"persons":[{"id":"p1"}]}',
 "POST /deny/add-prospects\n" . '{"persons":[{"id":"p1"}]}',
 "POST /api/lead-lists/l/add-prospects\n" . '{"persons":[{"id":"p1","title":"' . ('x' x 80) . '"}]}']
--- error_code eval
[400, 401, 403, 413]
--- logged_with_request_id: [error]



=== TEST 12: leadlist_client_error_log_level info files them with nginx's client faults
--- log_level: error
--- http_config eval
$::http_config =~ s/^\s*leadlist_client_error_log_level info;\n//mr
--- config eval
Leadlist::endpoint('leadlist_client_error_log_level info;')
--- request
POST /api/lead-lists/l/add-prospects
{"persons":[]}
--- error_code: 400
--- no_error_log
[error]
[info]



=== TEST 13: leadlist_client_error_log_level takes nginx's levels from info to error
--- config
    leadlist_client_error_log_level debug;
--- must_die
--- error_log
invalid value "debug"
