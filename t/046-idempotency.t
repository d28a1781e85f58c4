# Idempotency-Key (SPEC 1.6) as a client sees it, one request at a time:
# the recorded answer replayed (200, and the 404/403/400 only the database
# can tell) with Idempotent-Replayed: true and nothing changed; 422 for
# another list, body or preference; keys scoped to organization and user;
# a quoted key is the same key; malformed and repeated keys are 400s on
# field Idempotency-Key, in the order of checks; answers before the
# database, 5xx and dry runs are not recorded; leadlist_idempotency_ttl,
# its expiry, and the table staying bounded under a stream of keys; the
# directive's nginx -t errors.
#
# The 409 of a key whose first request still runs, and the retry after a
# connection lost past the commit, need requests in parallel and a broken
# connection: t/047-idempotency-faults.t.
#
# Organizations t046 and t046x.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use Time::HiRes ();

repeat_each(1);
no_shuffle();
no_long_string();

END { eval { boom_off('t046') } }

db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't046-%';
INSERT INTO global.persons (id, profile)
SELECT 't046-' || lpad(i::text, 4, '0'),
       jsonb_build_object('id', 't046-' || lpad(i::text, 4, '0'),
                          'companyDomain', 't046.example')
  FROM generate_series(1, 1001) AS i;
_SQL_

sub reset_db {
    boom_off('t046');
    db("DELETE FROM tenant.idempotency_keys WHERE org_id IN ('t046', 't046x');");
    db_fixture('t046',
        lists => [['list-a', 'person', 'u-1', 'u-2'],
                  ['list-b', 'person', 'u-2'],
                  ['list-c', 'person', 'u-1']],
        searches => [['s-all', '{"companyDomains":["t046.example"]}']]);
    db_fixture('t046x', lists => [['list-a', 'person', 'u-1']]);
}

reset_db();

sub H {
    my ($key, @more) = @_;
    return join "\n", "Authorization: Bearer user=u-1;org=t046",
                      'Content-Type: application/json',
                      (defined $key ? ("Idempotency-Key: $key") : ()), @more;
}

our $URI = '/api/lead-lists/list-a/add-prospects';

sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }

our $BODY = '{"persons":[{"id":"p-1"},{"id":"p-2"}]}';
our $OK2 = '{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}';

our $KEYS = "SELECT user_id, key, outcome FROM tenant.idempotency_keys WHERE org_id IN ('t046', 't046x') ORDER BY org_id, user_id, key;";
our $ROWS = "SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't046' ORDER BY 1, 2;";

our $BADKEY = err('BAD_REQUEST', 'Invalid Idempotency-Key',
                  [['Idempotency-Key', 'must be 1 to 255 printable ASCII characters, plain or as a quoted string']]);
our $TWOKEYS = err('BAD_REQUEST', 'Invalid Idempotency-Key',
                   [['Idempotency-Key', 'must be sent once']]);
our $R422 = err('UNPROCESSABLE_CONTENT',
                'Idempotency-Key was used with another request: another list, body or preference');

sub nap { Time::HiRes::sleep($_[0]) }

# --- stream_round: N  round N of a stream: 20 requests with a 1s TTL, each
#                      with a key and a person of its own, all 200
# --- bad_ttl: V       nginx -t refuses "leadlist_idempotency_ttl V;" with
#                      the values the directive takes
add_block_preprocessor(sub {
    my $block = shift;
    if (defined(my $n = $block->stream_round)) {
        $block->set_value(config =>
                          Leadlist::endpoint("leadlist_idempotency_ttl 1s;"));
        $block->set_value(more_headers => [map { H("stream-$n-$_") } 1 .. 20]);
        $block->set_value(request =>
            [map { post(qq({"persons":[{"id":"s-$n-$_"}]})) } 1 .. 20]);
        $block->set_value(error_code => [(200) x 20]);
    }
    if (defined(my $v = $block->bad_ttl)) {
        $block->set_value(config => "    leadlist_idempotency_ttl $v;\n");
        $block->set_value(must_die => '');
        $block->set_value(error_log => qq(invalid value "$v" in)
                          . ' "leadlist_idempotency_ttl", must be a time'
                          . " from 1s to 2147483647s\n");
    }
});

# --- request_ids_own
# Each answer's requestId is its own request's $request_id and
# X-Request-Id (the block logs them with $rid_log_format), and no earlier
# answer of the block had it (a replay does not repeat the recorded id).
my %seen_ids;
add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    return if $dry || !defined $block->request_ids_own;
    %seen_ids = () if $i == 0;
    my $id = request_id_of($body);
    Test::More::ok(defined $id && rid_logged($id) && !$seen_ids{$id}++,
                   $block->name . " - answer $i carries its own request's id "
                   . ($id // '(none)'));
});

endpoint_defaults(init => 'reset_db()');

run_tests();

__DATA__

=== TEST 1: the first request with a key runs, and its outcome is recorded for this user
--- more_headers eval: main::H('k-1')
--- request eval: main::post($::BODY)
--- error_code: 200
--- response_headers
Content-Type: application/json
!Idempotent-Replayed
--- response_body eval: $::OK2
--- db_check eval
[$::KEYS, $::ROWS]
--- db_expected eval
["u-1\tk-1\tok", "list-a\tp-1\tu-1\nlist-a\tp-2\tu-1"]
--- no_error_log
[error]



=== TEST 2: the retry gets the same status and body, with Idempotent-Replayed, and adds nothing
--- more_headers eval
[(main::H('k-1')) x 3]
--- request eval
[(main::post($::BODY)) x 3]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Content-Type: application/json\n!Idempotent-Replayed",
 "Content-Type: application/json\nIdempotent-Replayed: true",
 "Content-Type: application/json\nIdempotent-Replayed: true"]
--- response_body eval
[$::OK2, $::OK2, $::OK2]
--- db_check eval
[$::KEYS, $::ROWS]
--- db_expected eval
["u-1\tk-1\tok", "list-a\tp-1\tu-1\nlist-a\tp-2\tu-1"]
--- no_error_log
[error]



=== TEST 3: a replay does not run the work: the rows the first request added are gone, the replay does not add them again
--- init
db(q{DELETE FROM tenant.lead_list_persons WHERE org_id = 't046';});
--- more_headers eval: main::H('k-1')
--- request eval: main::post($::BODY)
--- error_code: 200
--- response_headers
Idempotent-Replayed: true
--- response_body eval: $::OK2
--- db_check eval: $::ROWS
--- db_expected:



=== TEST 4: the same body as a JSON value is the same request: member order, whitespace and escapes do not matter
--- more_headers eval
[(main::H('k-2')) x 3]
--- request eval
[main::post('{"persons":[{"id":"p-1","a":1,"b":[1,2]}]}'),
 main::post(qq({ "persons" : [ { "b" : [ 1 , 2 ] , "a" : 1 , "id" : "p-1" } ] }\n)),
 main::post('{"persons":[{"id":"\u0070-1","b":[1,2],"a":1}]}')]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true", "Idempotent-Replayed: true"]
--- response_body eval
[('{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}') x 3]



=== TEST 4b: numbers are compared as jsonb prints them: 100, 1e2 and 1.00E+2 are one number, and -0 is 0; 100.0 is not 100, nor 0.0 0
--- more_headers eval
[(main::H('k-num')) x 5]
--- request eval
[main::post('{"persons":[{"id":"p-1","n":100,"z":0}]}'),
 main::post('{"persons":[{"id":"p-1","n":1e2,"z":-0}]}'),
 main::post('{"persons":[{"id":"p-1","n":1.00E+2,"z":0}]}'),
 main::post('{"persons":[{"id":"p-1","n":100.0,"z":0}]}'),
 main::post('{"persons":[{"id":"p-1","n":100,"z":0.0}]}')]
--- error_code eval
[200, 200, 200, 422, 422]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true",
 "Idempotent-Replayed: true", "!Idempotent-Replayed", "!Idempotent-Replayed"]
--- response_body_like eval
[(qr/^\Q{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}\E\z/) x 3,
 ($::R422) x 2]



=== TEST 4c: array order is part of the body: the same persons in another order are another request
--- more_headers eval
[(main::H('k-order')) x 2]
--- request eval
[main::post('{"persons":[{"id":"p-1"},{"id":"p-2"}]}'),
 main::post('{"persons":[{"id":"p-2"},{"id":"p-1"}]}')]
--- error_code eval
[200, 422]
--- response_body_like eval
[qr/^\Q$::OK2\E\z/, $::R422]



=== TEST 5: the replay of a per-id report carries its Preference-Applied too
--- more_headers eval
[(main::H('k-3', 'Prefer: return=representation')) x 2]
--- request eval
[(main::post($::BODY)) x 2]
--- error_code eval
[200, 200]
--- response_headers eval
["Preference-Applied: return=representation\n!Idempotent-Replayed",
 "Preference-Applied: return=representation\nIdempotent-Replayed: true"]
--- response_body eval
[('{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0,"added":["p-1","p-2"],"alreadyInList":[],"notMatched":[]}') x 2]



=== TEST 6: a recorded 404 is replayed, even after the list was created
--- more_headers eval
[(main::H('k-404')) x 2]
--- request eval
[(main::post($::BODY, '/api/lead-lists/list-new/add-prospects')) x 2]
--- error_code eval
[404, 404]
--- response_headers eval
["Content-Type: application/json\n!Idempotent-Replayed",
 "Content-Type: application/json\nIdempotent-Replayed: true"]
--- response_body_like eval
[(main::err('NOT_FOUND', 'Lead list not found')) x 2]
--- db_check eval: $::KEYS
--- db_expected eval: "u-1\tk-404\tnot_found"



=== TEST 7: (continued) the list now exists: the key still answers its recorded 404; another key runs
--- init
db(q{INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids) VALUES ('t046', 'list-new', 'n', 'person', '{u-1}');});
--- more_headers eval
[main::H('k-404'), main::H('k-404b')]
--- request eval
[(main::post($::BODY, '/api/lead-lists/list-new/add-prospects')) x 2]
--- error_code eval
[404, 200]
--- response_headers eval
["Idempotent-Replayed: true", "!Idempotent-Replayed"]



=== TEST 7b: a replayed error is the recorded status and body with the retry's own requestId, the one in its X-Request-Id and its log lines
--- http_config eval: $::http_config . $::rid_log_format
--- config eval: $::rid_access_log . main::endpoint()
--- more_headers eval
[(main::H('k-404r')) x 2]
--- request eval
[(main::post($::BODY, '/api/lead-lists/list-new/add-prospects')) x 2]
--- error_code eval
[404, 404]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- response_body_like eval
[(main::err('NOT_FOUND', 'Lead list not found')) x 2]
--- request_ids_own



=== TEST 8: recorded 403 and the 400s only the database can tell are replayed (an empty searchId is one)
--- more_headers eval
[(main::H('k-403')) x 2, (main::H('k-nosearch')) x 2, (main::H('k-big')) x 2,
 (main::H('k-emptysearch')) x 2]
--- request eval
[(main::post($::BODY, '/api/lead-lists/list-b/add-prospects')) x 2,
 (main::post('{"selection":{"searchId":"s-nope","ids":["t046-0001"]}}')) x 2,
 (main::post('{"selection":{"searchId":"s-all","selectAll":true}}')) x 2,
 (main::post('{"selection":{"searchId":"","ids":["t046-0001"]}}')) x 2]
--- error_code eval
[403, 403, 400, 400, 400, 400, 400, 400]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true",
 "!Idempotent-Replayed", "Idempotent-Replayed: true",
 "!Idempotent-Replayed", "Idempotent-Replayed: true",
 "!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- response_body_like eval
[(main::err('FORBIDDEN', 'You do not have access to this lead list')) x 2,
 (main::bad(['selection.searchId', 'no such saved search'])) x 2,
 (main::bad(['selection', 'selects 1001 prospects, but at most 1000 may be added per call: page with offset and limit'])) x 2,
 (main::bad(['selection.searchId', 'no such saved search'])) x 2]
--- db_check eval: $::KEYS
--- db_expected
u-1	k-403	forbidden
u-1	k-big	selection_too_large
u-1	k-emptysearch	search_not_found
u-1	k-nosearch	search_not_found



=== TEST 9: the key with another body, list or preference: 422, and the recorded answer stays
--- more_headers eval
[main::H('k-9'), main::H('k-9'), main::H('k-9'), main::H('k-9', 'Prefer: return=representation'),
 main::H('k-9', 'Prefer: tx=rollback'), main::H('k-9', 'Prefer: return=minimal'), main::H('k-9')]
--- request eval
[main::post($::BODY),
 main::post('{"persons":[{"id":"p-1"}]}'),
 main::post($::BODY, '/api/lead-lists/list-c/add-prospects'),
 main::post($::BODY),
 main::post($::BODY),
 main::post($::BODY),
 main::post($::BODY)]
--- error_code eval
[200, 422, 422, 422, 422, 200, 200]
--- response_headers eval
["!Idempotent-Replayed", ("Content-Type: application/json\n!Idempotent-Replayed\n!Preference-Applied") x 4,
 "Idempotent-Replayed: true", "Idempotent-Replayed: true"]
--- response_body_like eval
[qr/^\Q$::OK2\E\z/, ($::R422) x 4, qr/^\Q$::OK2\E\z/, qr/^\Q$::OK2\E\z/]
--- db_check eval
[$::KEYS, $::ROWS]
--- db_expected eval
["u-1\tk-9\tok", "list-a\tp-1\tu-1\nlist-a\tp-2\tu-1"]
--- no_error_log
[error]



=== TEST 9b: a 422 has a reason phrase on its status line, RFC 9110's "Unprocessable Content" (nginx 1.22 has none for 422)
--- more_headers eval
[main::H('k-9b'), main::H('k-9b')]
--- request eval
[main::post($::BODY), main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[200, 422]
--- raw_response_headers_like eval
[qr{^HTTP/1\.1 200 OK\r\n}, qr{^HTTP/1\.1 422 Unprocessable Content\r\n}]
--- response_body_like eval
[qr/^\Q$::OK2\E\z/, $::R422]
--- no_error_log
[error]



=== TEST 10: keys are scoped to the caller: the same key of another user, or of another organization, is another key
--- more_headers eval
[main::H('k-10'),
 "Authorization: Bearer user=u-2;org=t046\nContent-Type: application/json\nIdempotency-Key: k-10",
 "Authorization: Bearer user=u-1;org=t046x\nContent-Type: application/json\nIdempotency-Key: k-10",
 main::H('k-10')]
--- request eval
[(main::post($::BODY)) x 4]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["!Idempotent-Replayed", "!Idempotent-Replayed", "!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- response_body eval
[$::OK2, '{"addedCount":0,"alreadyInListCount":2,"notMatchedCount":0}', $::OK2, $::OK2]
--- db_check
SELECT org_id, user_id, key, added_count FROM tenant.idempotency_keys WHERE org_id IN ('t046', 't046x') ORDER BY 1, 2;
--- db_expected
t046	u-1	k-10	2
t046	u-2	k-10	0
t046x	u-1	k-10	2



=== TEST 11: a quoted key (RFC 8941 sf-string) is the same key unquoted
--- more_headers eval
[main::H('"k-q"'), main::H('k-q'), main::H('"a\\"b\\\\c"'), main::H('a"b\\c')]
--- request eval
[main::post($::BODY), main::post($::BODY),
 main::post($::BODY, '/api/lead-lists/list-c/add-prospects'),
 main::post($::BODY, '/api/lead-lists/list-c/add-prospects')]
--- error_code eval
[200, 200, 200, 200]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true", "!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- db_check eval: $::KEYS
--- db_expected eval: "u-1\ta\"b\\c\tok\nu-1\tk-q\tok"



=== TEST 12: the longest key, 255 characters of every printable kind
--- more_headers eval
main::H(CORE::join('', map { chr } 0x21 .. 0x7e) . ('x' x (255 - 94)))
--- request eval: main::post($::BODY)
--- error_code: 200
--- db_check
SELECT length(key), left(key, 3) FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
255	!"#



=== TEST 13: malformed keys: 400 with a detail on Idempotency-Key, nothing stored
--- more_headers eval
[main::H(''), main::H('k' x 256), main::H('"' . ('k' x 256) . '"'),
 main::H("a\x01b"), main::H("a\x7fb"), main::H("caf\xc3\xa9"),
 main::H('"abc'), main::H('"abc"x'), main::H('"a\\x"'), main::H('""'),
 main::H('"abc";p=1'), main::H("\"a\tb\"")]
--- request eval
[(main::post($::BODY)) x 12]
--- error_code eval
[(400) x 12]
--- response_body_like eval
[($::BADKEY) x 12]
--- db_unchanged
--- error_log
"Invalid Idempotency-Key" Idempotency-Key: must be 1 to 255
--- no_error_log
[error]



=== TEST 14: two Idempotency-Key headers are a 400, equal or not
--- more_headers eval
[main::H('k-1', 'Idempotency-Key: k-2'), main::H('k-1', 'Idempotency-Key: k-1'),
 main::H('k-1', 'Idempotency-Key: "k-1"')]
--- request eval
[(main::post($::BODY)) x 3]
--- error_code eval
[400, 400, 400]
--- response_body_like eval
[($::TWOKEYS) x 3]
--- db_unchanged



=== TEST 15: the order of checks: 401, 413, then the path, the Content-Type, the key, the body
--- config eval: Leadlist::endpoint("client_max_body_size 100;")
--- more_headers eval
["Content-Type: application/json\nIdempotency-Key: ",
 main::H(''),
 main::H(''),
 "Authorization: Bearer user=u-1;org=t046\nContent-Type: text/plain\nIdempotency-Key: ",
 main::H(''),
 main::H('k-ok')]
--- request eval
[main::post($::BODY),
 main::post('{"persons":[' . CORE::join(',', map { qq({"id":"p-$_"}) } 1 .. 20) . ']}'),
 main::post($::BODY, '/api/lead-lists/bad!id/add-prospects'),
 main::post($::BODY),
 main::post('{"persons":[{"id":5}]}'),
 main::post('{"persons":[{"id":5}]}')]
--- error_code eval
[401, 413, 400, 400, 400, 400]
--- response_body_like eval
[main::err('UNAUTHORIZED', 'Authentication required'),
 main::err('PAYLOAD_TOO_LARGE', 'Request body is too large'),
 main::err('BAD_REQUEST', 'Invalid lead list id', [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']]),
 main::err('BAD_REQUEST', 'Unsupported content type', [['Content-Type', 'must be application/json']]),
 $::BADKEY,
 main::bad(['persons[0].id', 'must be a string'])]
--- db_unchanged



=== TEST 16: answers given before the database are not recorded: a retry after them runs
--- more_headers eval
["Content-Type: application/json\nIdempotency-Key: k-16",
 main::H('k-16'),
 main::H('k-16'),
 "Authorization: Bearer user=u-1;org=t046\nContent-Type: text/plain\nIdempotency-Key: k-16"]
--- request eval
[main::post($::BODY), main::post('{"persons":[{"id":5}]}'), main::post($::BODY), main::post($::BODY)]
--- error_code eval
[401, 400, 200, 400]
--- response_headers eval
["!Idempotent-Replayed", "!Idempotent-Replayed", "!Idempotent-Replayed", "!Idempotent-Replayed"]
--- db_check eval
[$::KEYS, $::ROWS]
--- db_expected eval
["u-1\tk-16\tok", "list-a\tp-1\tu-1\nlist-a\tp-2\tu-1"]



=== TEST 17: a dry run with a key runs every time and is never recorded
--- more_headers eval
[(main::H('k-17', 'Prefer: tx=rollback')) x 2]
--- request eval
[(main::post($::BODY)) x 2]
--- error_code eval
[200, 200]
--- response_headers eval
[("Preference-Applied: tx=rollback\n!Idempotent-Replayed") x 2]
--- response_body eval
[$::OK2, $::OK2]
--- db_unchanged



=== TEST 18: after a dry run with the key, the real request with it runs (nothing recorded to mismatch)
--- more_headers eval
[main::H('k-18', 'Prefer: tx=rollback'), main::H('k-18'), main::H('k-18')]
--- request eval
[(main::post($::BODY)) x 3]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["!Idempotent-Replayed", "!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- response_body eval
[$::OK2, $::OK2, $::OK2]
--- db_check eval: $::KEYS
--- db_expected eval: "u-1\tk-18\tok"



=== TEST 19: a 500 is not recorded: the statement failed, its work and its key rolled back
--- init
reset_db();
boom_on('t046');
--- more_headers eval: main::H('k-19')
--- request eval: main::post('{"persons":[{"id":"p-1"},{"id":"p-boom"}]}')
--- error_code: 500
--- response_body_like eval: main::err('INTERNAL_ERROR', 'Internal server error')
--- db_check eval
[$::KEYS, $::ROWS]
--- db_expected eval
['', '']
--- error_log
t046 boom



=== TEST 20: (continued) the cause is gone: the retry with the key runs, and is recorded
--- init
boom_off('t046');
--- more_headers eval: main::H('k-19')
--- request eval: main::post('{"persons":[{"id":"p-1"},{"id":"p-boom"}]}')
--- error_code: 200
--- response_headers
!Idempotent-Replayed
--- response_body eval: $::OK2
--- db_check eval: $::KEYS
--- db_expected eval: "u-1\tk-19\tok"



=== TEST 21: leadlist_idempotency_ttl: the default keeps a key 24h
--- more_headers eval: main::H('k-21')
--- request eval: main::post($::BODY)
--- error_code: 200
--- db_check
SELECT extract(epoch FROM expires_at - created_at) FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
86400.000000



=== TEST 22: leadlist_idempotency_ttl in the location, and inherited from server level
--- config eval
Leadlist::endpoint("leadlist_idempotency_ttl 90s;") . <<'_EOC_';
    leadlist_idempotency_ttl 2h;
    location ~ ^/other/(?<list_id>[^/]+)$ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $list_id;
        leadlist_auth_request /_auth;
    }
_EOC_
--- more_headers eval
[main::H('k-22a'), main::H('k-22b')]
--- request eval
[main::post($::BODY), main::post($::BODY, '/other/list-c')]
--- error_code eval
[200, 200]
--- db_check
SELECT key, extract(epoch FROM expires_at - created_at) FROM tenant.idempotency_keys WHERE org_id = 't046' ORDER BY 1;
--- db_expected
k-22a	90.000000
k-22b	7200.000000



=== TEST 23: a key is forgotten after its TTL: (1) recorded with leadlist_idempotency_ttl 1s
--- config eval: Leadlist::endpoint("leadlist_idempotency_ttl 1s;")
--- more_headers eval
[(main::H('k-23')) x 2]
--- request eval
[(main::post($::BODY)) x 2]
--- error_code eval
[200, 200]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true"]
--- response_body eval
[$::OK2, $::OK2]



=== TEST 24: (2) more than 1s later the key is unknown: the request runs again, and is recorded anew
--- init
main::nap(1.2);
--- config eval: Leadlist::endpoint("leadlist_idempotency_ttl 1s;")
--- more_headers eval: main::H('k-23')
--- request eval: main::post($::BODY)
--- error_code: 200
--- response_headers
!Idempotent-Replayed
--- response_body: {"addedCount":0,"alreadyInListCount":2,"notMatchedCount":0}
--- db_check
SELECT key, added_count, expires_at > now() FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
k-23	0	t



=== TEST 25: (3) and with another body it is no 422 any more
--- init
main::nap(1.2);
--- config eval: Leadlist::endpoint("leadlist_idempotency_ttl 1s;")
--- more_headers eval: main::H('k-23')
--- request eval: main::post('{"persons":[{"id":"p-3"}]}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}



=== TEST 26: the table stays bounded: a stream of unique keys with a 1s TTL, round 1 of 3 (20 keys)
--- stream_round: 1
--- db_check
SELECT count(*) BETWEEN 1 AND 20 FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
t



=== TEST 27: round 2, after the first round's keys expired: they are deleted as new keys are recorded (up to 16 expired ones, oldest first, per recording)
--- init
main::nap(1.2);
--- stream_round: 2
--- db_check
SELECT count(*) FILTER (WHERE key LIKE 'stream-1-%'), count(*) <= 20 FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
0	t



=== TEST 28: round 3: the row count stays at one round's keys
--- init
main::nap(1.2);
--- stream_round: 3
--- db_check
SELECT count(*) FILTER (WHERE key NOT LIKE 'stream-3-%'), count(*) <= 20 FROM tenant.idempotency_keys WHERE org_id = 't046';
--- db_expected
0	t



=== TEST 29: leadlist_idempotency_ttl 0 fails nginx -t, naming the directive
--- bad_ttl: 0



=== TEST 30: leadlist_idempotency_ttl beyond an int of seconds
--- bad_ttl: 69y



=== TEST 31: leadlist_idempotency_ttl that is not a time
--- bad_ttl: 500ms



=== TEST 32: leadlist_idempotency_ttl twice in one context
--- config
    leadlist_idempotency_ttl 1h;
    leadlist_idempotency_ttl 2h;
--- must_die
--- error_log
"leadlist_idempotency_ttl" directive is duplicate



=== TEST 33: leadlist_idempotency_ttl is not valid in an upstream block
--- http_config
    upstream u {
        leadlist_pg_server "host=127.0.0.1";
        leadlist_idempotency_ttl 1h;
    }
--- config
--- must_die
--- error_log
"leadlist_idempotency_ttl" directive is not allowed here
