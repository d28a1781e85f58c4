# Authentication and authorization of POST /api/lead-lists/{id}/add-prospects
# (SPEC 1.1, 1.5): the auth subrequest and what each of its answers means,
# where identity may come from (the subrequest's response only), admins,
# the configurable header names, and that nothing is stored when a caller
# is turned away.
#
# Organization t020 owns the lists; t020x is "another tenant".  Every block
# starts from the same fixture (the preprocessor's init), and, unless it says
# otherwise, checks that the answer is JSON with a request id in the
# X-Request-Id header.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use IO::Socket::INET;

repeat_each(1);
no_shuffle();
no_long_string();

# A port nothing listens on (auth service down) and a socket that accepts
# connections but never answers (auth service hanging).
{
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    $ENV{TEST_NGINX_CLOSED_PORT} = $s->sockport;
    close $s;
}
our $blackhole = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                       LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
$ENV{TEST_NGINX_BLACKHOLE_PORT} = $blackhole->sockport;

sub reset_db {
    db_fixture('t020',
        lists => [['list-a', 'person', 'u-1', 'u-2x'],
                  ['list-open', 'person'],
                  ['list-co', 'company', 'u-1']]);
    db_fixture('t020x',
        lists => [['list-b', 'person', 'u-1']]);
}

reset_db();

# An endpoint location with its own auth locations: $verify is the body of
# location = /_verify, which the /_auth subrequest reaches through
# proxy_pass, as a real auth service is.
sub custom_config {
    my ($verify, $extra) = @_;
    $extra //= '';
    return <<"_EOC_";
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:\$TEST_NGINX_SERVER_PORT/_verify;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location = /_verify {
$verify
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id \$list_id;
        leadlist_auth_request /_auth;
$extra
    }
_EOC_
}

# --- logged_with_request_id: TEXT
# The error log has a line with TEXT and the requestId of the response body.
add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    my $want = $block->logged_with_request_id;
    return if $dry || !defined $want;
    my $id = request_id_of($body);
    my $found = 0;
    if (defined $id && open my $fh, '<', server_root() . '/logs/error.log') {
        while (my $l = <$fh>) {
            if (index($l, $want) >= 0 && index($l, $id) >= 0) {
                $found = 1;
                last;
            }
        }
        close $fh;
    }
    Test::More::ok($found, $block->name . " - error log has \"$want\" with"
                           . " the request id " . ($id // '(none)'));
});

endpoint_defaults(init => 'reset_db()', json => 1);

run_tests();

__DATA__

=== TEST 1: no credentials: 401, the valid body is not used
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
SELECT count(*) FROM tenant.persons WHERE org_id = 't020';
--- db_expected
0
0
--- no_error_log
[error]
[alert]



=== TEST 2: no credentials and an invalid body: still 401, not 400
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons": [{"id": 42}], "bogus": tru
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 3: no credentials, no content type, invalid path id: 401 comes first
--- request
POST /api/lead-lists/a.b/add-prospects
hello
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 4: no credentials and a huge body (3 MB): 401, the body is discarded
--- more_headers
Content-Type: application/json
--- request eval
"POST /api/lead-lists/list-a/add-prospects\n"
. q({"persons":[) . CORE::join(",", map {; q({"id":"p-) . $_ . q(","headline":") . ("x" x 300) . q("}) } 1 .. 10000) . q(]})
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 5: the discarded body does not leak into the next request on the connection
--- more_headers eval
["Content-Type: application/json",
 "Authorization: Bearer user=u-1;org=t020\nContent-Type: application/json"]
--- pipelined_requests eval
["POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-smuggled\"}]}",
 "POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-5\"}]}"]
--- error_code eval
[401, 200]
--- response_headers_like eval
["Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}",
 "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
['^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$',
 '^\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}$']
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1;
--- db_expected
p-5	u-1
--- no_error_log
[error]



=== TEST 6: auth answers 401: 401
--- more_headers
Authorization: Bearer status=401
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 7: auth answers 403: 401, not 403
--- more_headers
Authorization: Bearer status=403
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 8: auth answers 200 without any identity header: 401
--- more_headers
Authorization: Bearer status=200
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 9: auth answers 204 with a user but no organization: 401 "organization ID is missing"
--- more_headers
Authorization: Bearer user=u-1
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"organization ID is missing","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 10: auth answers 204 with an organization but no user: 401 (not the organization message)
--- config eval
main::custom_config(q{
        add_header X-Org-Id t020;
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 11: an auth location that answers 204 by itself, with no headers: 401
--- config
    location = /_auth {
        internal;
        return 204;
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
--- more_headers
X-User-Id: u-1
X-Org-Id: t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 12: an auth location that answers 403 by itself: 401
--- config
    location = /_auth {
        internal;
        return 403;
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 13: an empty user id (a blank header value) is no user id: 401
--- config eval
main::custom_config(q{
        add_header X-User-Id " ";
        add_header X-Org-Id t020;
        add_header X-User-Role admin;
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 14: an empty organization id is no organization id: 401 "organization ID is missing"
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-Org-Id " ";
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"organization ID is missing","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 15: two X-User-Id headers from the auth: ambiguous, 401
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-User-Id u-2x;
        add_header X-Org-Id t020;
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 16: two identical X-User-Id headers are still not exactly one: 401
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 17: two X-Org-Id headers from the auth: 401 "organization ID is missing"
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        add_header X-Org-Id t020x;
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"organization ID is missing","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x');
--- db_expected
0
--- no_error_log
[error]



=== TEST 18: auth answers 302: 500, logged with the request id
--- more_headers
Authorization: Bearer status=302
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- error_log eval
qr/\[error\].*auth request.*302/
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0



=== TEST 19: auth answers 404: 500, logged with the request id
--- more_headers
Authorization: Bearer status=404
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- error_log eval
qr/\[error\].*auth request.*404/



=== TEST 20: auth answers 500: 500, logged with the request id
--- more_headers
Authorization: Bearer status=500
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- error_log eval
qr/\[error\].*auth request.*500/



=== TEST 21: auth answers 503: 500 (not 503: the database is fine), logged with the request id
--- more_headers
Authorization: Bearer status=503
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- error_log eval
qr/\[error\].*auth request.*503/



=== TEST 22: auth service unreachable (connection refused): 500, logged with the request id
--- config
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOSED_PORT/verify;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0



=== TEST 23: auth service times out: 500, logged with the request id
--- config
    location = /_auth {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT/verify;
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_connect_timeout 300ms;
        proxy_send_timeout 300ms;
        proxy_read_timeout 300ms;
    }

    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request
--- error_log
timed out



=== TEST 24: auth location missing (the subrequest finds nothing there): 500
--- config
    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_no_such_auth;
    }
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 500
--- response_body_like: ^\{"code":"INTERNAL_ERROR","message":"Internal server error","requestId":"[0-9a-f]{32}"\}$
--- logged_with_request_id: auth request



=== TEST 25: a member of the list adds (the baseline for the spoofing blocks)
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x') ORDER BY 1, 2, 3;
--- db_expected
t020	list-a	p-1	u-1
--- no_error_log
[error]



=== TEST 26: a user not in user_ids: 403, nothing stored
--- more_headers
Authorization: Bearer user=u-3;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
SELECT count(*) FROM tenant.persons WHERE org_id = 't020';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 27: user ids are compared exactly: "U-1" and "u-" are not "u-1"
--- more_headers eval
["Authorization: Bearer user=U-1;org=t020\nContent-Type: application/json",
 "Authorization: Bearer user=u-;org=t020\nContent-Type: application/json",
 "Authorization: Bearer user=u-2;org=t020\nContent-Type: application/json"]
--- request eval
["POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-1\"}]}",
 "POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-1\"}]}",
 "POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-1\"}]}"]
--- error_code eval
[403, 403, 403]
--- response_headers_like eval
["Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}",
 "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}",
 "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
['^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$',
 '^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$',
 '^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$']
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 28: spoofing: a non-member sends X-User-Id of a member: still 403
--- more_headers
Authorization: Bearer user=u-3;org=t020
X-User-Id: u-1
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 29: spoofing: a non-member sends X-User-Role: admin: still 403
--- more_headers
Authorization: Bearer user=u-3;org=t020;role=viewer
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 30: spoofing: a user without any role sends X-User-Role: admin: still 403
--- more_headers
Authorization: Bearer user=u-3;org=t020
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 31: spoofing all three headers at once: still 403
--- more_headers
Authorization: Bearer user=u-3;org=t020
X-User-Id: u-1
X-Org-Id: t020
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 32: spoofing X-Org-Id of another tenant to reach its list: still 404
--- more_headers
Authorization: Bearer user=u-1;org=t020
X-Org-Id: t020x
Content-Type: application/json
--- request
POST /api/lead-lists/list-b/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like: ^\{"code":"NOT_FOUND","message":"Lead list not found","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x');
SELECT count(*) FROM tenant.persons WHERE org_id IN ('t020', 't020x');
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 33: spoofing X-Org-Id, X-User-Id and the role together against another tenant: still 404
--- more_headers
Authorization: Bearer user=u-3;org=t020
X-User-Id: u-1
X-Org-Id: t020x
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-b/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like: ^\{"code":"NOT_FOUND","message":"Lead list not found","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x');
--- db_expected
0
--- no_error_log
[error]



=== TEST 34: a spoofed X-Org-Id does not move the caller's own write to another tenant
--- more_headers
Authorization: Bearer user=u-1;org=t020
X-Org-Id: t020x
X-User-Id: u-evil
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x') ORDER BY 1, 2, 3;
SELECT org_id, id FROM tenant.persons WHERE org_id IN ('t020', 't020x') ORDER BY 1, 2;
--- db_expected
t020	list-a	p-1	u-1
t020	p-1
--- no_error_log
[error]



=== TEST 35: spoofed identity headers without credentials: 401
--- more_headers
X-User-Id: u-1
X-Org-Id: t020
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 36: spoofed identity headers while the auth says 2xx without identity: 401
--- more_headers
Authorization: Bearer status=200
X-User-Id: u-1
X-Org-Id: t020
X-User-Role: admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 37: a spoofed X-Org-Id does not fill in the organization the auth left out: 401
--- more_headers
Authorization: Bearer user=u-1
X-Org-Id: t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"organization ID is missing","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 38: role "viewer, ADMIN" makes the user an admin: adds to a list it is not listed in
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=viewer, ADMIN
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-2"}]}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1;
--- db_expected
p-1	u-9
p-2	u-9
--- no_error_log
[error]



=== TEST 39: role "Admin" alone, on a list with empty user_ids
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=Admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1, 2;
--- db_expected
list-open	p-1	u-9
--- no_error_log
[error]



=== TEST 40: admin among other roles with spaces around the commas
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=billing ,  admin  ,viewer
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 41: role "administrator" is not admin: 403
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=administrator
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 42: roles that only contain "admin" are not admin: 403
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=superadmin,admin-lite,admins,"admin"
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 43: an admin of another organization gets 404 for this organization's list
--- more_headers
Authorization: Bearer user=u-1;org=t020x;role=admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like: ^\{"code":"NOT_FOUND","message":"Lead list not found","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t020', 't020x');
SELECT count(*) FROM tenant.persons WHERE org_id IN ('t020', 't020x');
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 44: a member of a list in another organization with the same name as the caller's: 404, never 403
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-b/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like: ^\{"code":"NOT_FOUND","message":"Lead list not found","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 45: a non-member asking for a list that does not exist: 404 before 403
--- more_headers
Authorization: Bearer user=u-3;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/no-such-list/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like: ^\{"code":"NOT_FOUND","message":"Lead list not found","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 46: a non-member on a company list: 403 comes before the list-type 400
--- more_headers
Authorization: Bearer user=u-3;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-co/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 47: custom header names: identity comes from the configured headers
--- config eval
main::custom_config(q{
        if ($ll_user = "") { return 401; }
        add_header X-Auth-User $ll_user;
        add_header X-Auth-Org $ll_org;
        add_header X-Auth-Roles $ll_role;
        return 204;
}, q{
        leadlist_auth_user_header X-Auth-User;
        leadlist_auth_org_header X-Auth-Org;
        leadlist_auth_role_header X-Auth-Roles;
})
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1;
--- db_expected
p-1	u-1
--- no_error_log
[error]



=== TEST 48: custom header names: the configured role header makes an admin
--- config eval
main::custom_config(q{
        if ($ll_user = "") { return 401; }
        add_header X-Auth-User $ll_user;
        add_header X-Auth-Org $ll_org;
        add_header X-Auth-Roles $ll_role;
        return 204;
}, q{
        leadlist_auth_user_header X-Auth-User;
        leadlist_auth_org_header X-Auth-Org;
        leadlist_auth_role_header X-Auth-Roles;
})
--- more_headers
Authorization: Bearer user=u-9;org=t020;role=admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1;
--- db_expected
p-1	u-9
--- no_error_log
[error]



=== TEST 49: custom header names: the default X-User-Id/X-Org-Id/X-User-Role from the auth are ignored
--- config eval
main::custom_config(q{
        if ($ll_user = "") { return 401; }
        add_header X-Auth-User $ll_user;
        add_header X-Auth-Org $ll_org;
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        add_header X-User-Role admin;
        return 204;
}, q{
        leadlist_auth_user_header X-Auth-User;
        leadlist_auth_org_header X-Auth-Org;
        leadlist_auth_role_header X-Auth-Roles;
})
--- more_headers
Authorization: Bearer user=u-3;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like: ^\{"code":"FORBIDDEN","message":"You do not have access to this lead list","requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
0
--- no_error_log
[error]



=== TEST 50: custom header names: only the default X-User-Id from the auth is no user: 401
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        return 204;
}, q{
        leadlist_auth_user_header X-Auth-User;
        leadlist_auth_org_header X-Auth-Org;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 51: custom header names set at server level apply to the endpoint
--- config eval
"    leadlist_auth_user_header X-Auth-User;\n"
. "    leadlist_auth_org_header X-Auth-Org;\n"
. main::custom_config(q{
        if ($ll_user = "") { return 401; }
        add_header X-Auth-User $ll_user;
        add_header X-Auth-Org $ll_org;
        return 204;
})
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 52: the client's Cookie travels with the auth subrequest
--- config eval
main::custom_config(q{
        if ($cookie_sid != "s3cret") { return 401; }
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        return 204;
})
--- more_headers eval
["Cookie: sid=s3cret\nContent-Type: application/json",
 "Cookie: sid=wrong\nContent-Type: application/json"]
--- request eval
["POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-1\"}]}",
 "POST /api/lead-lists/list-a/add-prospects\n{\"persons\":[{\"id\":\"p-2\"}]}"]
--- error_code eval
[200, 401]
--- response_headers_like eval
["Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}",
 "Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}"]
--- response_body_like eval
['^\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}$',
 '^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$']
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't020' ORDER BY 1;
--- db_expected
p-1
--- no_error_log
[error]



=== TEST 53: WWW-Authenticate of the auth's 401 is passed on
--- config eval
main::custom_config(q{
        add_header WWW-Authenticate 'Bearer realm="leadlist"' always;
        return 401;
})
--- more_headers
Authorization: Bearer expired
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
WWW-Authenticate: Bearer realm="leadlist"
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 53b: every WWW-Authenticate challenge of the auth's 401 is passed on, in its order
--- config eval
main::custom_config(q{
        add_header WWW-Authenticate 'Bearer realm="leadlist", error="invalid_token"' always;
        add_header WWW-Authenticate 'Basic realm="leadlist", charset="UTF-8"' always;
        return 401;
})
--- more_headers
Authorization: Bearer expired
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- raw_response_headers_like eval
qr/\r\nWWW-Authenticate: \QBearer realm="leadlist", error="invalid_token"\E\r\nWWW-Authenticate: \QBasic realm="leadlist", charset="UTF-8"\E\r\n/
--- raw_response_headers_unlike eval
qr/(?:WWW-Authenticate:.*){3}/s
--- response_body_like: ^\{"code":"UNAUTHORIZED","message":"Authentication required","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 54: the auth runs only for POST: GET is 405 even when the auth would fail
--- more_headers
Authorization: Bearer status=500
--- request
GET /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like: ^\{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed, use POST","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
auth request
[error]



=== TEST 55: without credentials, GET is 405, not 401
--- request
GET /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like: ^\{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed, use POST","requestId":"[0-9a-f]{32}"\}$
--- no_error_log
[error]



=== TEST 56: an auth that answers 200 with a body and the identity headers: signed in
--- config eval
main::custom_config(q{
        add_header X-User-Id u-1;
        add_header X-Org-Id t020;
        return 200 "welcome, this body is not used";
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
p-1	u-1
--- no_error_log
[error]



=== TEST 57: roles in several X-User-Role headers: admin in any of them counts
--- config eval
main::custom_config(q{
        add_header X-User-Id u-9;
        add_header X-Org-Id t020;
        add_header X-User-Role viewer;
        add_header X-User-Role "billing, admin";
        return 204;
})
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't020';
--- db_expected
p-1	u-9
--- no_error_log
[error]



=== TEST 58: leadlist_auth_request set at server level serves the endpoint
--- config eval
"    leadlist_auth_request /_auth;\n" . $Leadlist::auth_locations . q{
    location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
    }
}
--- more_headers
Authorization: Bearer user=u-1;org=t020
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 59: an unauthenticated body over client_max_body_size is still a 401
--- http_config eval: $::http_config
--- config eval: Leadlist::endpoint("client_max_body_size 1k;")
--- more_headers
Content-Type: application/json
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ('{"persons":[' . join(',', map { qq({"id":"p$_"}) } 1..400) . ']}')
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"code":"UNAUTHORIZED",



=== TEST 60: the same body, authenticated, is a 413 JSON
--- http_config eval: $::http_config
--- config eval: Leadlist::endpoint("client_max_body_size 1k;")
--- more_headers
Authorization: Bearer user=u;org=t020
Content-Type: application/json
--- request eval
"POST /api/lead-lists/l/add-prospects\n" . ('{"persons":[' . join(',', map { qq({"id":"p$_"}) } 1..400) . ']}')
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"code":"PAYLOAD_TOO_LARGE","message":"Request body is too large","requestId":"[0-9a-f]{32}"\}$
