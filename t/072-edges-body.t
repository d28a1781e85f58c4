# Edges of the body and headers a client meets (from the sixteenth
# session's audit): limits counted in characters at their boundaries
# (astral ids as surrogate pairs, 4-byte titles), escaped member names,
# whitespace everywhere, an id spelled two ways, selection sizes at their
# caps, Content-Type parameters, Prefer spelled loosely, and
# Idempotency-Key edges (quoted, 255 characters, a dry run after a real
# request).  Organization ta1.
use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 'ta1-%';
INSERT INTO global.persons (id, profile)
SELECT 'ta1-' || lpad(i::text, 5, '0'),
       jsonb_build_object('id', 'ta1-' || lpad(i::text, 5, '0'),
                          'companyDomain', 'ta1.example')
  FROM generate_series(1, 1200) AS i;
_SQL_

sub reset_db {
    db("DELETE FROM tenant.idempotency_keys WHERE org_id = 'ta1';");
    db_fixture('ta1',
        lists => [['list-a', 'person', 'u-1'], ['list-b', 'person', 'u-1']],
        searches => [['s-all', '{"companyDomains":["ta1.example"]}']]);
}
reset_db();

our $H = "Authorization: Bearer user=u-1;org=ta1\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';
sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }
our $ROWS = "SELECT string_agg(person_id, ',' ORDER BY person_id COLLATE \"C\") FROM tenant.lead_list_persons WHERE org_id = 'ta1';";

endpoint_defaults(init => 'reset_db()', json => 1);
run_tests();

__DATA__

=== TEST 1: id of 128 astral characters as surrogate-pair escapes: accepted
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"' . ('\ud83d\ude00' x 128) . '"}]}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT length(person_id), octet_length(person_id) FROM tenant.lead_list_persons WHERE org_id = 'ta1';
--- db_expected
128	512

=== TEST 2: id of 129 astral characters as surrogate-pair escapes: 400
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"' . ('\ud83d\ude00' x 129) . '"}]}')
--- error_code: 400
--- response_body_like eval: main::bad(['persons[0].id', 'must be 1 to 128 characters'])

=== TEST 3: title of 1,024 astral characters raw UTF-8: accepted; 1,025: 400
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"t3","title":"' . main::u8("\x{1F600}" x 1024) . '"}]}'),
 main::post('{"persons":[{"id":"t3b","title":"' . main::u8("\x{1F600}" x 1025) . '"}]}')]
--- error_code eval
[200, 400]
--- response_body_like eval
[qr/addedCount":1/, main::bad(['persons[0].title', 'must be at most 1024 characters'])]
--- response_headers_like eval
["X-Request-Id: [0-9a-f]{32}", "X-Request-Id: [0-9a-f]{32}"]

=== TEST 4: escaped member names are the members they spell: pe\u0072sons, \u0069d, \u0074itle
--- more_headers eval: $::H
--- request eval: main::post('{"pe\u0072sons":[{"\u0069d":"x1","\u0074itle":5}]}')
--- error_code: 400
--- response_body_like eval: main::bad(['persons[0].title', 'must be a string or null'])

=== TEST 5: whitespace everywhere (CR LF TAB SP)
--- more_headers eval: $::H
--- request eval: main::post(" \r\n\t{\r\n\t\"persons\"\t:\r\n[ {\n\"id\" :\t\"ws\" } , { \"id\":\"ws2\" }\n]\r\n}\r\n\t ")
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}

=== TEST 6: the same id spelled with an escape and raw counts once
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"p\u002d1","n":1},{"id":"p-1","n":2}]}')
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile FROM tenant.persons WHERE org_id='ta1';
--- db_expected
{"n": 1, "id": "p-1"}

=== TEST 7: selectAll with 10,000 excludeIds is accepted
--- more_headers eval: $::H
--- request eval: main::post('{"selection":{"searchId":"s-all","selectAll":true,"limit":5,"excludeIds":[' . CORE::join(',', map { qq("ta1-) . sprintf('%05d', $_) . '"' } 1 .. 10000) . ']}}')
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0}

=== TEST 8: selectAll limit 1000 accepted
--- more_headers eval: $::H
--- request eval: main::post('{"selection":{"searchId":"s-all","selectAll":true,"limit":1000,"offset":200}}')
--- error_code: 200
--- response_body: {"addedCount":1000,"alreadyInListCount":0,"notMatchedCount":0}

=== TEST 9: selectAll offset 2147483648 (an integer >= 0, beyond the end)
--- more_headers eval: $::H
--- request eval: main::post('{"selection":{"searchId":"s-all","selectAll":true,"limit":10,"offset":2147483648}}')
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0}

=== TEST 10: Content-Type application/json; (empty parameter)
--- more_headers
Authorization: Bearer user=u-1;org=ta1
Content-Type: application/json;
--- request eval: main::post('{"persons":[{"id":"ct1"}]}')
--- error_code: 200

=== TEST 11: Content-Type application/problem+json: 400
--- more_headers
Authorization: Bearer user=u-1;org=ta1
Content-Type: application/problem+json
--- request eval: main::post('{"persons":[{"id":"ct2"}]}')
--- error_code: 400
--- response_body_like eval: main::err('BAD_REQUEST', 'Unsupported content type', [['Content-Type', 'must be application/json']])

=== TEST 12: Content-Type with a charset and a quoted parameter holding ';'
--- more_headers
Authorization: Bearer user=u-1;org=ta1
Content-Type: application/json;charset=UTF-8;foo="bar;baz"
--- request eval: main::post('{"persons":[{"id":"ct3"}]}')
--- error_code: 200

=== TEST 13: Prefer with BWS around "=": return = representation
--- more_headers eval: "$::H\nPrefer: return = representation"
--- request eval: main::post('{"persons":[{"id":"pr1"}]}')
--- error_code: 200
--- response_headers
Preference-Applied: return=representation
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0,"added":["pr1"],"alreadyInList":[],"notMatched":[]}

=== TEST 14: Prefer with a trailing ';' and an empty list element
--- more_headers eval: "$::H\nPrefer: , return=representation;, tx=rollback ;"
--- request eval: main::post('{"persons":[{"id":"pr2"}]}')
--- error_code: 200
--- response_headers
Preference-Applied: return=representation, tx=rollback
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0,"added":["pr2"],"alreadyInList":[],"notMatched":[]}
--- db_check eval: $::ROWS
--- db_expected:

=== TEST 15: Idempotency-Key "" (an empty quoted string): 400
--- more_headers eval: "$::H\nIdempotency-Key: \"\""
--- request eval: main::post('{"persons":[{"id":"k1"}]}')
--- error_code: 400
--- response_body_like: Idempotency-Key

=== TEST 16: Idempotency-Key quoted, 255 characters inside
--- more_headers eval: "$::H\nIdempotency-Key: \"" . ('k' x 255) . "\""
--- request eval: main::post('{"persons":[{"id":"k2"}]}')
--- error_code: 200

=== TEST 17: a real request with a key, then a dry run with the same key and body: 422 (another preference)
--- more_headers eval
["$::H\nIdempotency-Key: dk1", "$::H\nIdempotency-Key: dk1\nPrefer: tx=rollback"]
--- request eval
[main::post('{"persons":[{"id":"d1"}]}'), main::post('{"persons":[{"id":"d1"}]}')]
--- error_code eval
[200, 422]
--- response_headers_like eval
["X-Request-Id: [0-9a-f]{32}", "X-Request-Id: [0-9a-f]{32}"]

=== TEST 18: key with return=minimal then none: same request (README), replayed
--- more_headers eval
["$::H\nIdempotency-Key: rm1\nPrefer: return=minimal", "$::H\nIdempotency-Key: rm1"]
--- request eval
[main::post('{"persons":[{"id":"m1"}]}'), main::post('{"persons":[{"id":"m1"}]}')]
--- error_code eval
[200, 200]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true"]

=== TEST 19: key with charset parameter the second time: same request, replayed
--- more_headers eval
["$::H\nIdempotency-Key: cs1", "Authorization: Bearer user=u-1;org=ta1\nContent-Type: application/json; charset=utf-8\nIdempotency-Key: cs1"]
--- request eval
[main::post('{"persons":[{"id":"c1"}]}'), main::post('{"persons":[{"id":"c1"}]}')]
--- error_code eval
[200, 200]
--- response_headers eval
["!Idempotent-Replayed", "Idempotent-Replayed: true"]
