# Validation of POST /api/lead-lists/{id}/add-prospects (SPEC 1.2, 1.3, 1.4
# "Order of checks", 1.5): the method, the path id, the content type, every
# rule of the body with the exact details, the limits and the directives
# that move them, 413, bodies that arrive chunked or in a temporary file,
# and which check wins when several fail.
#
# Organization t030 owns the lists; t030x is another tenant.  Each block
# starts from the same fixture (the preprocessor's init) and, unless it says
# otherwise, checks that the answer is JSON with an X-Request-Id.
#
# Expected error bodies are built by bad()/err() below: an anchored regex
# of the exact JSON, where only the requestId may vary.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use IO::Compress::Gzip ();

repeat_each(1);
no_shuffle();
no_long_string();

# the catalogue: one person, t030-g1, for the searches of selection blocks
db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't030-%';
INSERT INTO global.persons (id, profile) VALUES
 ('t030-g1', '{"id":"t030-g1","companyDomain":"t030.example"}');
_SQL_

sub reset_db {
    db_fixture('t030',
        lists => [['list-a', 'person', 'u-1'],
                  ['list-co', 'company', 'u-1']],
        searches => [['s-t030', '{"companyDomains":["t030.example"]}']]);
    db_fixture('t030x',
        lists => [['list-x', 'person', 'u-1']]);
}

reset_db();

our $H = "Authorization: Bearer user=u-1;org=t030\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';

# every status an endpoint answers (SPEC 1.5, and nginx's 411 and 408)
our @STATUSES = (400, 401, 403, 404, 405, 409, 411, 413, 422, 500, 503);

# "POST uri\nbody" for request eval
sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }

# a body gzipped, and the headers that send it as it is (exact length)
sub gz {
    my ($body) = @_;
    my $z;
    IO::Compress::Gzip::gzip(\$body => \$z) or die "gzip failed";
    return $z;
}

# {"persons":[...]} of n persons made by $make->($i)
sub persons {
    my ($n, $make) = @_;
    $make //= sub { sprintf '{"id":"p-%04d"}', $_[0] };
    return '{"persons":[' . CORE::join(',', map { $make->($_) } 1 .. $n) . ']}';
}

# a person nested $depth levels deep in all, the body object being level 1
sub nested {
    my ($depth) = @_;
    my $k = $depth - 3;
    return '{"persons":[{"id":"deep","x":' . ('[' x $k) . (']' x $k) . '}]}';
}

# a person object of exactly $size bytes as sent
sub person_of_size {
    my ($id, $size) = @_;
    my $pre = qq({"id":"$id","blob":");
    my $post = '"}';
    return $pre . ('x' x ($size - length($pre) - length($post))) . $post;
}

# Problems the parser or the scanner finds (SPEC 1.3), each in persons[1],
# after a persons[0] of $size bytes: 40 makes a body parsed whole, 65520
# one parsed person by person (over 65536 bytes).  [body, field, message]
# each; the column is that of the marker's last character, plus delta.
sub parser_problems {
    my ($size) = @_;
    my $pre = '{"persons":[' . person_of_size('p-0', $size) . ',';
    my @cases = (
        ['{"id":"p-1","id":"p-2"}', 'persons[1]',
         q{invalid JSON: duplicate object key near '"id"'}, '"id":"p-1","id"', 0],
        [qq({"id":"p-1","city":"x\xffy"}), 'persons[1].city',
         q{invalid UTF-8: unable to decode byte 0xff near '"x'}, '"city":"x', 0],
        ['{"id":"p-1","departments":["\u0000"]}', 'persons[1].departments[0]',
         '\u0000 is not allowed', '"departments":["\u0000"', 0],
        ['{"id":"p-1","k\u0000":1}', 'persons[1]',
         '\u0000 is not allowed', '"k\u0000"', 0],
        ['{"id":"p-1","x":{"y":[1e-20000]}}', 'persons[1].x.y[0]',
         'number out of range', '"y":[', 1],
        ['{"id":"p-1","x":' . ('[' x 30) . (']' x 30) . '}', 'persons[1].x' . ('[0]' x 29),
         'must not nest arrays and objects more than 32 levels deep', '"x":' . ('[' x 30), 0],
        ['{"id":"p-1","x":}', 'persons[1].x',
         q~invalid JSON: unexpected token near '}'~, '"x":}', 0],
    );
    return map {
        my ($person, $field, $what, $marker, $delta) = @$_;
        my $body = $pre . $person . ']}';
        die "the body must be parsed person by person" if $size > 65536 - 100
                                                          && length($body) <= 65536;
        my $col = index($body, $marker) + length($marker) + $delta;
        [$body, $field, "$what at line 1, column $col"]
    } @cases;
}

sub chunked {
    my ($uri, @chunks) = @_;
    my $head = "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
             . "Authorization: Bearer user=u-1;org=t030\r\n"
             . "Content-Type: application/json\r\n"
             . "Transfer-Encoding: chunked\r\n\r\n";
    return [ $head, (map { sprintf("%x\r\n%s\r\n", length $_, $_) } @chunks),
             "0\r\n\r\n" ];
}

# --- request_id_everywhere
# The requestId of the body, the X-Request-Id header and nginx's
# $request_id are one value: the block's config logs the latter two to
# logs/rid.log ($rid_log_format), this finds the body's id there.
add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    return if $dry || !defined $block->request_id_everywhere;
    my $id = request_id_of($body);
    Test::More::ok(defined $id && rid_logged($id),
                   $block->name . " - requestId " . ($id // '(none)')
                   . " is \$request_id and the X-Request-Id header");
});

endpoint_defaults(init => 'reset_db()', json => 1);

run_tests();

__DATA__

=== TEST 1: GET: 405 with Allow: POST and a JSON body
--- more_headers eval: $::H
--- request
GET /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]



=== TEST 2: PUT with a valid body: 405, nothing stored
--- more_headers eval: $::H
--- request
PUT /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 3: DELETE: 405
--- more_headers eval: $::H
--- request
DELETE /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]



=== TEST 4: PATCH: 405
--- more_headers eval: $::H
--- request
PATCH /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]



=== TEST 5: OPTIONS: 405
--- request
OPTIONS /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]



=== TEST 6: HEAD: 405 with Allow: POST, the JSON headers and no body
--- more_headers eval: $::H
--- request
HEAD /api/lead-lists/list-a/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body:
--- no_error_log
[error]



=== TEST 7: 405 comes before the path check
--- request
GET /api/lead-lists/a.b/add-prospects
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval: main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]



=== TEST 8: path id of 65 characters: 400 on leadListId
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/' . ('a' x 65) . '/add-prospects')
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])
--- no_error_log
[error]



=== TEST 9: path id of 64 characters is valid: the list is looked up (404)
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/' . ('a' x 64) . '/add-prospects')
--- error_code: 404
--- response_body_like eval: main::err('NOT_FOUND', 'Lead list not found')
--- no_error_log
[error]



=== TEST 10: path id with every allowed kind of character is valid (404)
--- more_headers eval: $::H
--- request
POST /api/lead-lists/AZaz09_-x/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like eval: main::err('NOT_FOUND', 'Lead list not found')
--- no_error_log
[error]



=== TEST 11: path id "a.b": 400 on leadListId
--- more_headers eval: $::H
--- request
POST /api/lead-lists/a.b/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])
--- no_error_log
[error]



=== TEST 12: path id "%20" (a space): 400 on leadListId
--- more_headers eval: $::H
--- request
POST /api/lead-lists/%20/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])
--- no_error_log
[error]



=== TEST 13: path id "list%2Da" decodes to a valid id (list-a): 200
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list%2Da/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT lead_list_id, person_id FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
list-a	p-1
--- no_error_log
[error]



=== TEST 14: path ids with a non-ASCII letter, a tilde, a quote: 400 on leadListId
--- more_headers eval: $::H
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/%C3%A9t%C3%A9/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/a~b/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/a%22b/add-prospects')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])) x 3]
--- no_error_log
[error]



=== TEST 15: no Content-Type: 400
--- more_headers
Authorization: Bearer user=u-1;org=t030
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 16: Content-Type text/plain: 400
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: text/plain
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']])
--- no_error_log
[error]



=== TEST 17: Content-Types that only look like JSON: 400
--- more_headers eval
["Authorization: Bearer user=u-1;org=t030\nContent-Type: application/jsonx",
 "Authorization: Bearer user=u-1;org=t030\nContent-Type: application/json-patch+json",
 "Authorization: Bearer user=u-1;org=t030\nContent-Type: application/x-www-form-urlencoded",
 "Authorization: Bearer user=u-1;org=t030\nContent-Type: text/json"]
--- request eval
[(main::post('{"persons":[{"id":"p-1"}]}')) x 4]
--- error_code eval
[400, 400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 4]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']])) x 4]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 18: Content-Type application/json; charset=utf-8: accepted
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: application/json; charset=utf-8
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
p-1
--- no_error_log
[error]



=== TEST 19: Content-Type APPLICATION/JSON (any case): accepted
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: APPLICATION/JSON
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 20: Content-Type application/json;charset="UTF-8" (quoted, no space): accepted
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: application/json;charset="UTF-8"
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 21: application/json with a charset other than UTF-8 (latin1, us-ascii, quoted, utf-16): 400 that names the charset
--- more_headers eval
[map { "Authorization: Bearer user=u-1;org=t030\nContent-Type: $_" }
 'application/json; charset=latin1',
 'application/json; charset=us-ascii',
 'Application/JSON;charset="ISO-8859-1"',
 'application/json; charset=utf-16',
 'application/json; charset=utf-8; charset=latin1']
--- request eval
[(main::post('{"persons":[{"id":"p-1"}]}')) x 5]
--- error_code eval
[(400) x 5]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 5]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'charset must be utf-8']])) x 5]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 21b: another type with a charset, or a malformed one, is still a wrong type
--- more_headers eval
[map { "Authorization: Bearer user=u-1;org=t030\nContent-Type: $_" }
 'text/plain; charset=latin1',
 'text/plain; charset=utf-8',
 'application/json; charset']
--- request eval
[(main::post('{"persons":[{"id":"p-1"}]}')) x 3]
--- error_code eval
[(400) x 3]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']])) x 3]
--- no_error_log
[error]



=== TEST 21c: two Content-Type headers, equal or not: 400 "must be sent once" (nginx would keep the first one silently)
--- more_headers eval
[map { "Authorization: Bearer user=u-1;org=t030\n$_" }
 "Content-Type: application/json\nContent-Type: application/json",
 "Content-Type: application/json\nContent-Type: text/plain",
 "Content-Type: text/plain\nContent-Type: application/json"]
--- request eval
[(main::post('{"persons":[{"id":"p-1"}]}')) x 3]
--- error_code eval
[(400) x 3]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Invalid Content-Type',
    [['Content-Type', 'must be sent once']])) x 3]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 21d: Content-Encoding other than identity: 400 on Content-Encoding (nginx does not decode a body), whether the body is gzip or plain, nothing stored
--- more_headers eval
[(map { "$::H\nContent-Encoding: $_" }
  'gzip', 'br', 'deflate', 'GZIP', 'identity, gzip', 'gzip, identity'),
 "$::H\nContent-Encoding: identity\nContent-Encoding: gzip",
 "$::H\nContent-Encoding: gzip\nContent-Length: "
     . length(main::gz('{"persons":[{"id":"p-1"}]}'))]
--- request eval
[(main::post('{"persons":[{"id":"p-1"}]}')) x 7,
 main::post(main::gz('{"persons":[{"id":"p-1"}]}'))]
--- error_code eval
[(400) x 8]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 8]
--- response_body_like eval
[(main::err_re('BAD_REQUEST', 'Unsupported content encoding',
    [['Content-Encoding', 'is not supported: send the body uncompressed']])) x 8]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 21e: Content-Encoding identity (any case, listed twice, empty) is no coding: accepted
--- more_headers eval
[map { "$::H\nContent-Encoding: $_" } 'identity', 'Identity', 'identity, identity', '']
--- request eval
[map { main::post(qq({"persons":[{"id":"p-$_"}]})) } 1 .. 4]
--- error_code eval
[(200) x 4]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 4]
--- response_body eval
[('{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}') x 4]
--- db_check
SELECT string_agg(person_id, ',' ORDER BY person_id) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
p-1,p-2,p-3,p-4
--- no_error_log
[error]



=== TEST 22: invalid JSON
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
not json
--- error_code: 400
--- response_body_like eval
main::bad(['', "invalid JSON: invalid token near 'not' at line 1, column 3"])
--- no_error_log
[error]



=== TEST 23: JSON followed by garbage
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]} x
--- error_code: 400
--- response_body_like eval
main::bad(['', "invalid JSON: end of file expected near 'x' at line 1, column 28"])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 24: empty body
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
--- error_code: 400
--- response_body_like eval
main::bad(['', 'must be a JSON object; the body is empty'])
--- no_error_log
[error]



=== TEST 25: a top-level array
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
[{"persons":[{"id":"p-1"}]}]
--- error_code: 400
--- response_body_like eval
main::bad(['', 'must be a JSON object'])
--- no_error_log
[error]



=== TEST 26: both persons and selection
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}],"selection":{"searchId":"s-1","ids":["p-1"]}}
--- error_code: 400
--- response_body_like eval
main::bad(['', 'must contain only one of persons and selection'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 27: neither persons nor selection
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{}
--- error_code: 400
--- response_body_like eval
main::bad(['', 'must contain persons or selection'])
--- no_error_log
[error]



=== TEST 28: unknown top-level members, each reported, in the order sent
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"zeta":1,"persons":[{"id":"p-1"}],"alpha":null}
--- error_code: 400
--- response_body_like eval
main::bad(['zeta', 'unknown member'], ['alpha', 'unknown member'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 29: an unknown member alone: neither persons nor selection, and unknown
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"people":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['', 'must contain persons or selection'], ['people', 'unknown member'])
--- no_error_log
[error]



=== TEST 30: persons is not an array
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"persons":{"id":"p-1"}}'),
 main::post('{"persons":"p-1"}'),
 main::post('{"persons":null}')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[(main::bad(['persons', 'must be an array of 1 to 1000 items'])) x 3]
--- no_error_log
[error]



=== TEST 31: persons is an empty array
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons', 'must be an array of 1 to 1000 items'])
--- no_error_log
[error]



=== TEST 32: 1,001 persons: 400, nothing stored
--- more_headers eval: $::H
--- request eval
main::post(main::persons(1001))
--- error_code: 400
--- response_body_like eval
main::bad(['persons', 'must be an array of 1 to 1000 items'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 33: 1,000 persons: the maximum is accepted
--- more_headers eval: $::H
--- request eval
main::post(main::persons(1000))
--- error_code: 200
--- response_body: {"addedCount":1000,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*), min(person_id), max(person_id) FROM tenant.lead_list_persons WHERE org_id = 't030' AND lead_list_id = 'list-a';
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
1000	p-0001	p-1000
1000
--- no_error_log
[error]



=== TEST 34: persons items that are not objects
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[1,"p-2",null,[],{"id":"p-5"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0]', 'must be an object'], ['persons[1]', 'must be an object'],
          ['persons[2]', 'must be an object'], ['persons[3]', 'must be an object'])
--- no_error_log
[error]



=== TEST 35: a person without id
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"firstName":"Ann"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[1].id', 'is required'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 36: ids that are not strings: number, null, object, array, boolean
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":42},{"id":null},{"id":{"v":"p"}},{"id":["p"]},{"id":true}]}
--- error_code: 400
--- response_body_like eval
main::bad(map { ["persons[$_].id", 'must be a string'] } 0 .. 4)
--- no_error_log
[error]



=== TEST 37: an empty id
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":""}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be 1 to 128 characters'])
--- no_error_log
[error]



=== TEST 38: an id of 129 characters (ASCII, then non-ASCII)
--- more_headers eval: $::H
--- request eval
main::post(main::u8('{"persons":[{"id":"' . ('i' x 129) . '"},{"id":"' . ("\x{e9}" x 129) . '"}]}'))
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be 1 to 128 characters'],
          ['persons[1].id', 'must be 1 to 128 characters'])
--- no_error_log
[error]



=== TEST 39: ids of 128 characters are accepted; characters, not bytes, are counted
--- more_headers eval: $::H
--- request eval
main::post(main::u8('{"persons":[{"id":"' . ('i' x 128) . '"},{"id":"' . ("\x{e9}" x 128) . '"},{"id":"' . ("\x{1f600}" x 128) . '"}]}'))
--- error_code: 200
--- response_body: {"addedCount":3,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT char_length(person_id), octet_length(person_id) FROM tenant.lead_list_persons WHERE org_id = 't030' ORDER BY 2;
--- db_expected
128	128
128	256
128	512
--- no_error_log
[error]



=== TEST 40: ids with control characters: U+0001, a tab, U+001F, DEL, U+0085
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"a\u0001b"},{"id":"a\tb"},{"id":"\u001f"},{"id":"a\u007f"},{"id":"a\u0085"}]}
--- error_code: 400
--- response_body_like eval
main::bad(map { ["persons[$_].id", 'must not contain control characters'] } 0 .. 4)
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 41: email is a number
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","email":42}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].email', 'must be a string or null'])
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 42: several wrong fields in one person: id first, then the fields in the table's order, then departments
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"departments":"Sales","country":1,"email":[],"firstName":true,"id":7,"companyId":{},"linkedinUrl":1.5}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be a string'],
          ['persons[0].firstName', 'must be a string or null'],
          ['persons[0].email', 'must be a string or null'],
          ['persons[0].linkedinUrl', 'must be a string or null'],
          ['persons[0].companyId', 'must be a string or null'],
          ['persons[0].country', 'must be a string or null'],
          ['persons[0].departments', 'must be an array of strings or null'])
--- no_error_log
[error]



=== TEST 43: every profile field may be null; unknown members may be anything
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":null,"lastName":null,"fullName":null,"title":null,"headline":null,"email":null,"phone":null,"linkedinUrl":null,"companyId":null,"companyName":null,"companyDomain":null,"industry":null,"seniority":null,"city":null,"state":null,"country":null,"departments":null,"score":1.5e3,"tags":[1,"a",null,{}],"x":false}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile->>'score', profile->'tags', profile ? 'firstName' FROM tenant.persons WHERE org_id = 't030';
--- db_expected
1500	[1, "a", null, {}]	t
--- no_error_log
[error]



=== TEST 44: a text field of 1,025 characters
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","title":"' . ('t' x 1025) . '"}]}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].title', 'must be at most 1024 characters'])
--- no_error_log
[error]



=== TEST 45: text fields of 1,024 characters (non-ASCII, 2,048 bytes) are accepted
--- more_headers eval: $::H
--- request eval
main::post(main::u8('{"persons":[{"id":"p-1","headline":"' . ("\x{e9}" x 1024) . '","city":"' . ('c' x 1024) . '"}]}'))
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT char_length(profile->>'headline'), char_length(profile->>'city') FROM tenant.persons WHERE org_id = 't030';
--- db_expected
1024	1024
--- no_error_log
[error]



=== TEST 46: departments with 65 items
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","departments":[' . CORE::join(',', map { qq("d$_") } 1 .. 65) . ']}]}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].departments', 'must have at most 64 items'])
--- no_error_log
[error]



=== TEST 47: departments with 64 items are accepted
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","departments":[' . CORE::join(',', map { qq("d$_") } 1 .. 64) . ']}]}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT jsonb_array_length(profile->'departments') FROM tenant.persons WHERE org_id = 't030';
--- db_expected
64
--- no_error_log
[error]



=== TEST 48: departments items that are not strings, beside a long one
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","departments":["Sales",1,null,"' . ('d' x 1025) . '",{}]}]}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].departments[1]', 'must be a string'],
          ['persons[0].departments[2]', 'must be a string'],
          ['persons[0].departments[4]', 'must be a string'])
--- no_error_log
[error]



=== TEST 48b: department items of 1,025 and 5,000 characters are accepted and stored as sent
SPEC 1.3 limits departments to 64 items, not the length of each: the
1,024-character limit is the listed string fields'.
--- more_headers eval: $::H
--- request eval
main::post(main::u8('{"persons":[{"id":"p-1","departments":["Sales","' . ('d' x 1025) . '","' . ("\x{e9}" x 5000) . '"]}]}'))
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT char_length(profile->'departments'->>1), char_length(profile->'departments'->>2), profile->'departments' = jsonb_build_array('Sales', repeat('d', 1025), repeat(U&'\00e9', 5000)) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
1025	5000	t
--- no_error_log
[error]



=== TEST 49: nested 33 levels deep
--- more_headers eval: $::H
--- request eval
main::post(main::nested(33))
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].x' . '[0]' x 29, 'must not nest arrays and objects more than 32 levels deep at line 1, column 59'])
--- no_error_log
[error]



=== TEST 50: nested 32 levels deep is accepted
--- more_headers eval: $::H
--- request eval
main::post(main::nested(32))
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile->'x' FROM tenant.persons WHERE org_id = 't030';
--- db_expected eval
'[' x 29 . ']' x 29
--- no_error_log
[error]



=== TEST 51: nesting far deeper (100,000 levels) is refused without harm
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","x":' . ('[' x 100000) . (']' x 100000) . '}]}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].x' . '[0]' x 29, 'must not nest arrays and objects more than 32 levels deep at line 1, column 58'])
--- no_error_log
[error]



=== TEST 52: a member name repeated in a person
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","id":"p-2"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0]', q{invalid JSON: duplicate object key near '"id"' at line 1, column 28}])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 53: a member name repeated at the top level and deep inside a profile
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-1"}],"persons":[{"id":"p-2"}]}'),
 main::post('{"persons":[{"id":"p-1","x":{"k":1,"k":2}}]}')]
--- error_code eval
[400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_like eval
[main::bad(['', q{invalid JSON: duplicate object key near '"persons"' at line 1, column 35}]),
 main::bad(['persons[0].x', q{invalid JSON: duplicate object key near '"k"' at line 1, column 38}])]
--- no_error_log
[error]



=== TEST 54: \u0000 in a string value, in an id and in a member name
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-1","firstName":"A\u0000B"}]}'),
 main::post('{"persons":[{"id":"p-\u0000"}]}'),
 main::post('{"persons":[{"id":"p-1","k\u0000":1}]}')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::bad(['persons[0].firstName', '\u0000 is not allowed at line 1, column 46']),
 main::bad(['persons[0].id', '\u0000 is not allowed at line 1, column 28']),
 main::bad(['persons[0]', '\u0000 is not allowed at line 1, column 33'])]
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 55: a raw NUL byte in the body
--- more_headers eval: $::H
--- request eval
main::post(qq({"persons":[{"id":"p-1","x":"a\0b"}]}))
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].x', 'invalid JSON: NUL byte at line 1, column 31'])
--- no_error_log
[error]



=== TEST 56: invalid UTF-8: a 0xFF byte in an id
--- more_headers eval: $::H
--- request eval
main::post(qq({"persons":[{"id":"p\xff1"}]}))
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', q{invalid UTF-8: unable to decode byte 0xff near '"p' at line 1, column 20}])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 57: invalid UTF-8: an overlong encoding, a lone surrogate escape, a byte order mark
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post(qq({"persons":[{"id":"p-1","city":"\xc0\xaf"}]})),
 main::post('{"persons":[{"id":"p-1","city":"\ud800"}]}'),
 main::post(qq(\xef\xbb\xbf{"persons":[{"id":"p-1"}]}))]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::bad(['persons[0].city', q{invalid UTF-8: unable to decode byte 0xc0 near '"' at line 1, column 32}]),
 main::bad(['persons[0].city', q{invalid JSON: invalid Unicode '\uD800' near '"\ud800"' at line 1, column 39}]),
 main::bad(['', 'must not start with a UTF-8 byte order mark'])]
--- no_error_log
[error]



=== TEST 58: numbers PostgreSQL's jsonb cannot store: a detail on each one's path
--- more_headers eval
[($::H) x 6]
--- request eval
[main::post('{"persons":[{"id":"p-1","x":1e-20000}]}'),
 main::post('{"persons":[{"id":"p-1","x":[1e131072]}]}'),
 main::post('{"persons":[{"id":"p-1","x":0.' . ('0' x 16383) . '1}]}'),
 main::post('{"persons":[{"id":"p-1","x":{"y":0e1073741823}}]}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":1e-20000}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":1e400,"offset":12345678901234567890}}')]
--- error_code eval
[(400) x 6]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 6]
--- response_body_like eval
[main::bad(['persons[0].x', 'number out of range at line 1, column 29']),
 main::bad(['persons[0].x[0]', 'number out of range at line 1, column 30']),
 main::bad(['persons[0].x', 'number out of range at line 1, column 29']),
 main::bad(['persons[0].x.y', 'number out of range at line 1, column 34']),
 main::bad(['selection.limit', 'number out of range at line 1, column 57']),
 main::bad(['selection.offset', 'must be an integer from 0 to 999999999999999999'],
           ['selection.limit', 'must be an integer from 1 to 1000'])]
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 59: numbers jsonb stores are accepted and kept exactly, whatever their size
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1","a":1e-1000,"b":-0.0,"c":9223372036854775807,"d":0.1,'
           . '"big":1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890,"e":1e400,"f":-9223372036854775809,"g":1e131071,'
           . '"h":0.' . ('0' x 16382) . '1,"i":1e-16383,"j":0e1073741822}]}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile->>'b', profile->>'c', profile->>'d', (profile->>'a')::numeric > 0,
       profile->>'big' = '1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890',
       (profile->'big')::numeric = 1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890::numeric,
       (profile->'e')::numeric = 1e400::numeric,
       (profile->'f')::numeric = -9223372036854775809::numeric,
       (profile->'g')::numeric = 1e131071::numeric,
       (profile->'h')::numeric = ('0.' || repeat('0', 16382) || '1')::numeric,
       (profile->'i')::numeric = 1e-16383::numeric,
       (profile->'j')::numeric = 0
  FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0.0	9223372036854775807	0.1	t	t	t	t	t	t	t	t	t
--- no_error_log
[error]



=== TEST 60: a person object over 64 KiB as sent
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"},' . main::person_of_size('big', 65537) . ']}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[1]', 'must be at most 65536 bytes'])
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 61: a person object of exactly 64 KiB is accepted
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[' . main::person_of_size('big', 65536) . ']}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT id, octet_length(profile->>'blob') FROM tenant.persons WHERE org_id = 't030';
--- db_expected
big	65514
--- no_error_log
[error]



=== TEST 62: selection: ids with selectAll true
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-1","selectAll":true,"ids":["p-1"]}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.ids', 'is not allowed with selectAll true'])
--- no_error_log
[error]



=== TEST 63: selection: excludeIds, offset and limit without selectAll
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-1","ids":["p-1"],"excludeIds":["p-2"],"offset":0,"limit":5}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.excludeIds', 'is only allowed with selectAll true'],
          ['selection.offset', 'is only allowed with selectAll true'],
          ['selection.limit', 'is only allowed with selectAll true'])
--- no_error_log
[error]



=== TEST 64: selection: limit with selectAll false (explicitly)
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-1","selectAll":false,"ids":["p-1"],"limit":10}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.limit', 'is only allowed with selectAll true'])
--- no_error_log
[error]



=== TEST 65: selection: no ids without selectAll
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-1"}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.ids', 'is required'])
--- no_error_log
[error]



=== TEST 66: selection: limit 0 and limit 1001
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":0}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":1001}}')]
--- error_code eval
[400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_like eval
[(main::bad(['selection.limit', 'must be an integer from 1 to 1000'])) x 2]
--- no_error_log
[error]



=== TEST 67: selection: limit and offset that are not integers in range
Reals are not integers here, even whole ones (2.0, 1e2): README says so.
--- more_headers eval
[($::H) x 7]
--- request eval
[main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":"5"}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":2.5}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"offset":-1}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"offset":null,"limit":1}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":2.0}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"offset":1e2,"limit":1}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":-0}}')]
--- error_code eval
[(400) x 7]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 7]
--- response_body_like eval
[main::bad(['selection.limit', 'must be an integer from 1 to 1000']),
 main::bad(['selection.limit', 'must be an integer from 1 to 1000']),
 main::bad(['selection.offset', 'must be an integer from 0 to 999999999999999999']),
 main::bad(['selection.offset', 'must be an integer from 0 to 999999999999999999']),
 main::bad(['selection.limit', 'must be an integer from 1 to 1000']),
 main::bad(['selection.offset', 'must be an integer from 0 to 999999999999999999']),
 main::bad(['selection.limit', 'must be an integer from 1 to 1000'])]
--- no_error_log
[error]



=== TEST 68: selection: not an object, empty object, selectAll not a boolean
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"selection":["s-1"]}'),
 main::post('{"selection":{}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":"true","ids":[]}}')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::bad(['selection', 'must be an object']),
 main::bad(['selection.searchId', 'is required'], ['selection.ids', 'is required']),
 main::bad(['selection.selectAll', 'must be a boolean'],
           ['selection.ids', 'must be an array of 1 to 1000 items'])]
--- no_error_log
[error]



=== TEST 69: selection: searchId and ids of the wrong types and sizes, an unknown member
--- more_headers eval: $::H
--- request eval
main::post('{"selection":{"searchId":5,"ids":["p-1","",7,"' . ('i' x 129) . '"],"sort":"name"}}')
--- error_code: 400
--- response_body_like eval
main::bad(['selection.searchId', 'must be a string'],
          ['selection.ids[2]', 'must be a string'],
          ['selection.sort', 'unknown member'])
--- no_error_log
[error]



=== TEST 70: selection: 1,001 ids; 10,001 excludeIds
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-1","ids":[' . CORE::join(',', map { qq("p-$_") } 1 .. 1001) . ']}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":1,"excludeIds":[' . CORE::join(',', map { qq("p-$_") } 1 .. 10001) . ']}}')]
--- error_code eval
[400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_like eval
[main::bad(['selection.ids', 'must be an array of 1 to 1000 items']),
 main::bad(['selection.excludeIds', 'must be an array of at most 10000 items'])]
--- no_error_log
[error]



=== TEST 71: leadlist_max_persons 2: three persons are a 400
--- config eval: main::endpoint("        leadlist_max_persons 2;")
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-2"},{"id":"p-3"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons', 'must be an array of 1 to 2 items'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 72: leadlist_max_persons 2: two persons are fine
--- config eval: main::endpoint("        leadlist_max_persons 2;")
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-2"}]}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 73: leadlist_max_selection 5 bounds ids and limit
--- config eval: main::endpoint("        leadlist_max_selection 5;")
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-1","ids":["a","b","c","d","e","f"]}}'),
 main::post('{"selection":{"searchId":"s-1","selectAll":true,"limit":6}}')]
--- error_code eval
[400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_like eval
[main::bad(['selection.ids', 'must be an array of 1 to 5 items']),
 main::bad(['selection.limit', 'must be an integer from 1 to 5'])]
--- no_error_log
[error]



=== TEST 74: order: 401 comes before the path 400
--- more_headers
Content-Type: application/json
--- request
POST /api/lead-lists/a.b/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 401
--- response_body_like eval: main::err('UNAUTHORIZED', 'Authentication required')
--- no_error_log
[error]



=== TEST 75: order: 401 comes before the content-type 400 and the body 400
--- more_headers
Authorization: Bearer status=401
Content-Type: text/plain
--- request
POST /api/lead-lists/list-a/add-prospects
not json
--- error_code: 401
--- response_body_like eval: main::err('UNAUTHORIZED', 'Authentication required')
--- no_error_log
[error]



=== TEST 76: order: the path 400 comes before the content-type and body 400s
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: text/plain
--- request
POST /api/lead-lists/a.b/add-prospects
not json
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])
--- no_error_log
[error]



=== TEST 77: order: the content-type 400 comes before the body 400
--- more_headers
Authorization: Bearer user=u-1;org=t030
Content-Type: text/plain
--- request
POST /api/lead-lists/list-a/add-prospects
not json
--- error_code: 400
--- response_body_like eval
main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']])
--- no_error_log
[error]



=== TEST 77b: order: 401, the path 400 and the content-type 400 come before the content-encoding 400, which comes before the Idempotency-Key 400 and the body 400
--- more_headers eval
["Authorization: Bearer status=401\nContent-Type: application/json\nContent-Encoding: gzip",
 "$::H\nContent-Encoding: gzip",
 "Authorization: Bearer user=u-1;org=t030\nContent-Type: text/plain\nContent-Encoding: gzip",
 "$::H\nContent-Encoding: gzip\nIdempotency-Key: ",
 "$::H\nContent-Encoding: gzip"]
--- request eval
[main::post('not json'),
 main::post('not json', '/api/lead-lists/a.b/add-prospects'),
 main::post('not json'),
 main::post('not json'),
 main::post('not json')]
--- error_code eval
[401, 400, 400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 5]
--- response_body_like eval
[main::err('UNAUTHORIZED', 'Authentication required'),
 main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']]),
 main::err_re('BAD_REQUEST', 'Unsupported content type',
    [['Content-Type', 'must be application/json']]),
 (main::err_re('BAD_REQUEST', 'Unsupported content encoding',
    [['Content-Encoding', 'is not supported: send the body uncompressed']])) x 2]
--- no_error_log
[error]



=== TEST 78: order: a bad body on a list that does not exist is a 400, not a 404
--- more_headers eval: $::H
--- request
POST /api/lead-lists/no-such-list/add-prospects
{"persons":[]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons', 'must be an array of 1 to 1000 items'])
--- no_error_log
[error]



=== TEST 79: order: a bad body on another tenant's list is a 400, not a 404
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-x/add-prospects
{"persons":[{"id":1}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be a string'])
--- no_error_log
[error]



=== TEST 80: order: a bad body on a list the caller may not use is a 400, not a 403
--- more_headers
Authorization: Bearer user=u-3;org=t030
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":1}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be a string'])
--- no_error_log
[error]



=== TEST 81: order: a bad body on a company list is the body 400, not the list-type 400
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-co/add-prospects
{"persons":[{"id":1}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].id', 'must be a string'])
--- no_error_log
[error]



=== TEST 82: 413 for a Content-Length over client_max_body_size, as JSON
--- config eval: main::endpoint("        client_max_body_size 1k;")
--- more_headers eval: $::H
--- request eval
main::post(main::persons(200))
--- error_code: 413
--- response_body_like eval: main::err('PAYLOAD_TOO_LARGE', 'Request body is too large')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0



=== TEST 83: 413 for a chunked body that grows over client_max_body_size, as JSON
--- config eval: main::endpoint("        client_max_body_size 1k;")
--- raw_request eval
my $body = main::persons(200);
main::chunked('/api/lead-lists/list-a/add-prospects', substr($body, 0, 700), substr($body, 700, 700), substr($body, 1400))
--- error_code: 413
--- response_body_like eval: main::err('PAYLOAD_TOO_LARGE', 'Request body is too large')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0



=== TEST 83b: 413 for a chunk announced over client_max_body_size, at once: its bytes are not waited for
--- config eval: main::endpoint("        client_max_body_size 1k;\n        client_body_timeout 60s;")
--- raw_request eval
my ($head) = @{ main::chunked('/api/lead-lists/list-a/add-prospects') };
$head . "100000\r\n"
--- timeout: 5
--- error_code: 413
--- response_body_like eval: main::err('PAYLOAD_TOO_LARGE', 'Request body is too large')
--- error_log
client intended to send too large body: 0+1048576 bytes
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0



=== TEST 83c: 413 at once for a chunk that would take the bytes before it over client_max_body_size
--- config eval: main::endpoint("        client_max_body_size 1k;\n        client_body_timeout 60s;")
--- raw_request eval
my ($head) = @{ main::chunked('/api/lead-lists/list-a/add-prospects') };
$head . sprintf("%x\r\n%s\r\n", 600, 'x' x 600) . sprintf("%x\r\n", 600)
--- timeout: 5
--- error_code: 413
--- response_body_like eval: main::err('PAYLOAD_TOO_LARGE', 'Request body is too large')
--- error_log
client intended to send too large body: 600+600 bytes



=== TEST 84: a valid chunked body in several chunks and packets: 200
--- raw_request eval
my $body = main::persons(30);
main::chunked('/api/lead-lists/list-a/add-prospects', substr($body, 0, 5), substr($body, 5, 200), substr($body, 205))
--- raw_request_middle_delay: 0.01
--- error_code: 200
--- response_body: {"addedCount":30,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
30
--- no_error_log
[error]



=== TEST 85: broken chunked encoding: a JSON 400, not nginx's HTML page
--- raw_request eval
["POST /api/lead-lists/list-a/add-prospects HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nAuthorization: Bearer user=u-1;org=t030\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"]
--- error_code: 400
--- response_body_like: ^\{"code":"BAD_REQUEST","message":"[^"]+"(,"details":\[.*\])?,"requestId":"[0-9a-f]{32}"\}$
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0



=== TEST 86: a 20 KB body spooled to a temporary file (client_body_buffer_size 1k): 200
--- config eval: main::endpoint("        client_body_buffer_size 1k;")
--- more_headers eval: $::H
--- request eval
main::post(main::persons(100, sub { sprintf '{"id":"p-%04d","headline":"%s"}', $_[0], 'h' x 180 }))
--- error_code: 200
--- response_body: {"addedCount":100,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
SELECT count(*), sum(char_length(profile->>'headline')) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
100
100	18000
--- no_error_log
[error]
--- error_log
a client request body is buffered to a temporary file



=== TEST 87: client_body_in_file_only on: the body is read from the file: 200
--- config eval: main::endpoint("        client_body_in_file_only on;")
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"Filed"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT id, profile->>'firstName' FROM tenant.persons WHERE org_id = 't030';
--- db_expected
p-1	Filed
--- no_error_log
[error]
--- error_log
a client request body is buffered to a temporary file



=== TEST 88: a chunked body spooled to a temporary file: 200
--- config eval: main::endpoint("        client_body_buffer_size 1k;")
--- raw_request eval
my $body = main::persons(100, sub { sprintf '{"id":"p-%04d","headline":"%s"}', $_[0], 'h' x 180 });
main::chunked('/api/lead-lists/list-a/add-prospects', grep { length } map { substr($body, $_ * 3000, 3000) } 0 .. int(length($body) / 3000))
--- error_code: 200
--- response_body: {"addedCount":100,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
100
--- no_error_log
[error]
--- error_log
a client request body is buffered to a temporary file



=== TEST 89: 150 invalid persons: details stop at 100
--- more_headers eval: $::H
--- request eval
main::post(main::persons(150, sub { qq({"id":$_[0]}) }))
--- error_code: 400
--- response_body_like eval
main::bad(map { ["persons[$_].id", 'must be a string'] } 0 .. 99)
--- no_error_log
[error]



=== TEST 90: details stop at 100 however many problems each person has
--- more_headers eval: $::H
--- request eval
main::post(main::persons(60, sub { '{"email":1,"phone":2}' }))
--- error_code: 400
--- response_body_like eval
main::bad((map { (["persons[$_].id", q{is required}], ["persons[$_].email", q{must be a string or null}], ["persons[$_].phone", q{must be a string or null}]) } 0 .. 32), ["persons[33].id", q{is required}])
--- no_error_log
[error]



=== TEST 91: "details" belongs to 400 only: 404 and 403 have none
--- more_headers eval
[$::H, "Authorization: Bearer user=u-3;org=t030\nContent-Type: application/json"]
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/nope/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[404, 403]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_unlike eval
['"details"', '"details"']
--- no_error_log
[error]



=== TEST 92: unknown member names in details: escaped, control characters shown as "?", long names cut with "..."
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"}],"' . ('k' x 300) . '":1,"a\u0001b":2,"q\"t":3}')
--- error_code: 400
--- response_body_like eval
main::bad([('k' x 252) . '...', 'unknown member'], ['a?b', 'unknown member'], ['q"t', 'unknown member'])
--- no_error_log
[error]



=== TEST 93: a 400 is written in the error log with its request id
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","email":42}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0].email', 'must be a string or null'])
--- error_log eval
qr/leadlist: 400 .*persons\[0\]\.email.*request_id: [0-9a-f]{32}/
--- no_error_log
[error]



=== TEST 94: requestId, X-Request-Id and $request_id are the same value
--- http_config eval: $::http_config . $::rid_log_format
--- config eval: $::rid_access_log . main::endpoint()
--- more_headers eval
[$::H, $::H, "Content-Type: application/json"]
--- request eval
[main::post('{"persons":[]}'),
 main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/nope/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[400, 404, 401]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::bad(['persons', 'must be an array of 1 to 1000 items']),
 main::err('NOT_FOUND', 'Lead list not found'),
 main::err('UNAUTHORIZED', 'Authentication required')]
--- request_id_everywhere
--- no_error_log
[error]



=== TEST 95: leadlist_list_id takes any variable: the id from a query argument
--- config eval
$Leadlist::auth_locations . q{
    location = /by-arg {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id $arg_list;
        leadlist_auth_request /_auth;
    }
}
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}', '/by-arg?list=list-a'),
 main::post('{"persons":[{"id":"p-1"}]}', '/by-arg?list=a.b'),
 main::post('{"persons":[{"id":"p-1"}]}', '/by-arg')]
--- error_code eval
[200, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
['^\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}$',
 (main::err_re('BAD_REQUEST', 'Invalid lead list id',
    [['leadListId', 'must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -']])) x 2]
--- db_check
SELECT lead_list_id, person_id FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
list-a	p-1
--- no_error_log
[error]



=== TEST 96: a member name repeated in another spelling (\u escape) is still repeated
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","\u0069d":"p-2"}]}
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0]', q{invalid JSON: duplicate object key near '"\u0069d"' at line 1, column 33}])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 97: the 64 KiB limit holds when "persons" is spelled with an escape
--- more_headers eval: $::H
--- request eval
main::post('{"\u0070ersons":[' . main::person_of_size('big', 65537) . ']}')
--- error_code: 400
--- response_body_like eval
main::bad(['persons[0]', 'must be at most 65536 bytes'])
--- no_error_log
[error]



=== TEST 98: a 503 nginx makes in the location (return, limit_req, ...): JSON with Retry-After, as the module's own
--- config eval: main::endpoint('return 503;')
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"}]}')
--- error_code: 503
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Retry-After: 1
--- response_body_like eval
main::err_re('SERVICE_UNAVAILABLE', 'Service temporarily unavailable, retry later')
--- error_log
503 from nginx, request_id:



=== TEST 99: a 405 nginx makes in the location: JSON with Allow: POST
--- config eval: main::endpoint('return 405;')
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[{"id":"p-1"}]}')
--- error_code: 405
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Allow: POST
--- response_body_like eval
main::err('METHOD_NOT_ALLOWED', 'Method not allowed, use POST')
--- no_error_log
[error]


=== TEST 99b: every status an endpoint answers has a reason phrase on its status line (nginx makes them here, in an endpoint location each; the module's own go through the same filter)
--- config eval
main::endpoint() . CORE::join '', map { <<"_EOC_" } @::STATUSES
    location = /s/$_ {
        leadlist_add_prospects leadlist_db;
        leadlist_list_id list-a;
        leadlist_auth_request /_auth;
        return $_;
    }
_EOC_
--- more_headers eval: $::H
--- request eval
[map { main::post('{"persons":[{"id":"p-1"}]}', "/s/$_") } @::STATUSES]
--- error_code eval
[@::STATUSES]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x @::STATUSES]
--- raw_response_headers_like eval
[map { qr{^HTTP/1\.1 $_ [A-Z][A-Za-z -]+\r\n} } @::STATUSES]
--- raw_response_headers_unlike eval
[(qr{^HTTP/1\.1 \d{3} ?\r\n}) x @::STATUSES]



=== TEST 100: a problem the parser finds names the value that holds it (body parsed whole)
--- more_headers eval
[($::H) x 7]
--- request eval
[map { main::post($_->[0]) } main::parser_problems(40)]
--- error_code eval
[(400) x 7]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 7]
--- response_body_like eval
[map { main::bad([$_->[1], $_->[2]]) } main::parser_problems(40)]
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 101: a problem the parser finds names the value that holds it (body parsed person by person)
--- more_headers eval
[($::H) x 7]
--- request eval
[map { main::post($_->[0]) } main::parser_problems(65520)]
--- error_code eval
[(400) x 7]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 7]
--- response_body_like eval
[map { main::bad([$_->[1], $_->[2]]) } main::parser_problems(65520)]
--- db_check
SELECT count(*) FROM tenant.persons WHERE org_id = 't030';
--- db_expected
0
--- no_error_log
[error]



=== TEST 102: a body that ends too soon names what it left open
--- more_headers eval
[($::H) x 3]
--- request eval
[main::post('{"persons":[{"id"'),
 main::post('{"selection":{"searchId":"s-1","ids":["p-1"'),
 main::post('{"persons":[{"id":"p-1","x":"abc')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::bad(['persons[0].id', q{invalid JSON: ':' expected near end of file at line 1, column 17}]),
 main::bad(['selection.ids', q{invalid JSON: ']' expected near end of file at line 1, column 43}]),
 main::bad(['persons[0].x', q{invalid JSON: premature end of input near '"abc' at line 1, column 32}])]
--- no_error_log
[error]



=== TEST 103: a 100-digit integer in a body parsed person by person is stored exactly
--- more_headers eval: $::H
--- request eval
main::post('{"persons":[' . main::person_of_size('p-0', 65520)
           . ',{"id":"p-1","big":1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890,"x":[1 ,-1e400]}]}')
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT id, (profile->'big')::numeric = 1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890::numeric,
       (profile->'x'->1)::numeric = -1e400::numeric
  FROM tenant.persons WHERE org_id = 't030' AND id = 'p-1';
--- db_expected
p-1	t	t
--- no_error_log
[error]



=== TEST 104: selection: ids with control characters, empty or long are ids the search does not match: skipped, not a 400
--- more_headers eval: $::H
--- request eval
main::post('{"selection":{"searchId":"s-t030","ids":["t030-g1","t030-g1\u0001","a\u0001b","\u001f","","\t\n\u007f","\u0085","' . ('i' x 200) . '"]}}')
--- error_code: 200
--- response_body_like: ^\{"addedCount":1[,}]
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
t030-g1
--- no_error_log
[error]



=== TEST 105: selection: excludeIds with control characters or empty exclude nothing the search matches
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-t030","selectAll":true,"excludeIds":["t030-g1\u0001","","\u001f","t030-g1 "]}}
--- error_code: 200
--- response_body_like: ^\{"addedCount":1[,}]
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't030';
--- db_expected
t030-g1
--- no_error_log
[error]
