# What a 200 reports, and dry runs (SPEC 1.5, 1.6): the three counts and
# their identities in every mode (direct, selectAll, ids), the per-id
# report of Prefer: return=representation (ids ascending in code point
# order) with Preference-Applied, Prefer as RFC 7240 reads it (several
# headers, parameters, case, unknown and malformed preferences, the first
# instance wins), and Prefer: tx=rollback: the exact answer, and the whole
# database unchanged (list rows, tenant copies, idempotency keys, every
# other table).
#
# Organization t045 owns the lists and searches.  The catalogue rows of
# this file are global.persons "t045-*" with company domains under
# t045.example; their ids sort differently by code point than by any
# case-insensitive or numeric order ("t045-10" < "t045-9" < "t045-B" <
# "t045-_" < "t045-a").

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't045-%';
INSERT INTO global.persons (id, profile) VALUES
 ('t045-10', '{"id":"t045-10","title":"CTO","companyDomain":"t045.example"}'),
 ('t045-9',  '{"id":"t045-9","title":"CTO","companyDomain":"t045.example"}'),
 ('t045-B',  '{"id":"t045-B","title":"CEO","companyDomain":"t045.example"}'),
 ('t045-_',  '{"id":"t045-_","title":"CTO","companyDomain":"t045.example"}'),
 ('t045-a',  '{"id":"t045-a","title":"CTO","companyDomain":"t045.example"}'),
 ('t045-x',  '{"id":"t045-x","title":"CTO","companyDomain":"other.t045.example"}');
INSERT INTO global.persons (id, profile)
SELECT 't045-big-' || lpad(i::text, 4, '0'),
       jsonb_build_object('id', 't045-big-' || lpad(i::text, 4, '0'),
                          'companyDomain', 'big.t045.example')
  FROM generate_series(1, 1001) AS i;
_SQL_

# Each block starts with: list-a holding p-9 and t045-9 (added by u-old),
# t045 holding a tenant copy of each, lacking members the requests send.
sub reset_db {
    db_fixture('t045',
        lists => [['list-a', 'person', 'u-1'],
                  ['list-b', 'person', 'u-2'],
                  ['list-co', 'company', 'u-1']],
        searches => [['s-dom', '{"companyDomains":["t045.example"]}'],
                     ['s-cto', '{"companyDomains":["t045.example"],"titles":["cto"]}'],
                     ['s-big', '{"companyDomains":["big.t045.example"]}']],
        sql => <<'_SQL_');
INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
VALUES ('t045', 'list-a', 'p-9', 'u-old'), ('t045', 'list-a', 't045-9', 'u-old');
INSERT INTO tenant.persons (org_id, id, profile)
VALUES ('t045', 'p-9', '{"id":"p-9"}'), ('t045', 't045-9', '{"id":"t045-9"}');
_SQL_
}

reset_db();

our $H = "Authorization: Bearer user=u-1;org=t045\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';

sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }

# the direct body most blocks send: p-9 is in list-a already, p-a twice
our $DIRECT = '{"persons":[{"id":"p-a","x":1},{"id":"p-B"},{"id":"p-10"},'
            . '{"id":"p-9","title":"CTO"},{"id":"p-a","x":2},{"id":"p-_"}]}';
our $DIRECT_COUNTS = '{"addedCount":4,"alreadyInListCount":1,"notMatchedCount":0}';
our $DIRECT_REPORT = '{"addedCount":4,"alreadyInListCount":1,"notMatchedCount":0,'
    . '"added":["p-10","p-B","p-_","p-a"],"alreadyInList":["p-9"],"notMatched":[]}';

# what $DIRECT leaves in the database
our $DIRECT_ROWS = "SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't045' ORDER BY lead_list_id, person_id COLLATE \"C\";
SELECT id, profile FROM tenant.persons WHERE org_id = 't045' ORDER BY id COLLATE \"C\";";
our $DIRECT_EXPECTED = <<'_EOT_';
list-a	p-10	u-1
list-a	p-9	u-old
list-a	p-B	u-1
list-a	p-_	u-1
list-a	p-a	u-1
list-a	t045-9	u-old
p-10	{"id": "p-10"}
p-9	{"id": "p-9", "title": "CTO"}
p-B	{"id": "p-B"}
p-_	{"id": "p-_"}
p-a	{"x": 1, "id": "p-a"}
t045-9	{"id": "t045-9"}
_EOT_

# the 200 of a request that added the one new person $id: the counts, and
# with $report the ids behind them too
sub added_one {
    my ($id, $report) = @_;
    return '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0'
           . ($report ? qq(,"added":["$id"],"alreadyInList":[],"notMatched":[]})
                      : '}');
}

# --- prefer_each: [Prefer header value(s), 1 when return=representation
# applies], one a request; request i adds the new person p-i with that
# Prefer and answers 200, with the report and "Preference-Applied:
# return=representation" when it applies, else the counts and no
# Preference-Applied.  Unless the block checks the database itself, list-a
# then holds p-1 .. p-n (and its p-9) as its "p-_" members.
add_block_preprocessor(sub {
    my $block = shift;
    my $each = $block->prefer_each or return;
    my @n = 1 .. @$each;
    unless (defined $block->db_check) {
        $block->set_value(db_check => "SELECT person_id FROM"
            . " tenant.lead_list_persons WHERE org_id = 't045' AND"
            . " lead_list_id = 'list-a' AND person_id LIKE 'p-_' ORDER BY 1;");
        $block->set_value(db_expected => join "\n", (map { "p-$_" } @n), 'p-9');
    }
    $block->set_value(more_headers => [map { "$H\nPrefer: $_->[0]" } @$each]);
    $block->set_value(request =>
                      [map { post(qq({"persons":[{"id":"p-$_"}]})) } @n]);
    $block->set_value(error_code => [(200) x @n]);
    $block->set_value(response_headers => [
        map { $_->[1] ? 'Preference-Applied: return=representation'
                      : '!Preference-Applied' } @$each]);
    $block->set_value(response_body =>
                      [map { added_one("p-$_", $each->[$_ - 1][1]) } @n]);
});

endpoint_defaults(init => 'reset_db()');

run_tests();

__DATA__

=== TEST 1: direct mode: counts by reason; distinct ids = added + alreadyInList; no Prefer, no report
--- more_headers eval: $::H
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Content-Type: application/json
!Preference-Applied
!Idempotent-Replayed
--- response_body eval: $::DIRECT_COUNTS
--- db_check eval: $::DIRECT_ROWS
--- db_expected eval: $::DIRECT_EXPECTED
--- no_error_log
[error]



=== TEST 2: direct mode with return=representation: the ids behind each count, ascending by code point
--- more_headers eval: "$::H\nPrefer: return=representation"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Content-Type: application/json
Preference-Applied: return=representation
--- response_body eval: $::DIRECT_REPORT
--- db_check eval: $::DIRECT_ROWS
--- db_expected eval: $::DIRECT_EXPECTED
--- no_error_log
[error]



=== TEST 3: selectAll: selected = added + alreadyInList, with and without the report
--- more_headers eval
[$::H, "$::H\nPrefer: return=representation", "$::H\nPrefer: return=representation"]
--- request eval
[main::post('{"selection":{"searchId":"s-cto","selectAll":true,"limit":2}}'),
 main::post('{"selection":{"searchId":"s-cto","selectAll":true}}'),
 main::post('{"selection":{"searchId":"s-dom","selectAll":true,"excludeIds":["t045-a"],"offset":1}}')]
--- error_code eval
[200, 200, 200]
--- response_body eval
['{"addedCount":1,"alreadyInListCount":1,"notMatchedCount":0}',
 '{"addedCount":2,"alreadyInListCount":2,"notMatchedCount":0,"added":["t045-_","t045-a"],"alreadyInList":["t045-10","t045-9"],"notMatched":[]}',
 '{"addedCount":1,"alreadyInListCount":2,"notMatchedCount":0,"added":["t045-B"],"alreadyInList":["t045-9","t045-_"],"notMatched":[]}']
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't045' AND lead_list_id = 'list-a' ORDER BY person_id COLLATE "C";
--- db_expected
p-9	u-old
t045-10	u-1
t045-9	u-old
t045-B	u-1
t045-_	u-1
t045-a	u-1
--- no_error_log
[error]



=== TEST 4: ids: distinct ids = added + alreadyInList + notMatched; unknown, unmatched and repeated ids
--- more_headers eval
[$::H, "$::H\nPrefer: return=representation"]
--- request eval
[main::post('{"selection":{"searchId":"s-cto","ids":["t045-a","t045-B","t045-nope","t045-9","t045-a","t045-x"]}}'),
 main::post('{"selection":{"searchId":"s-cto","ids":["t045-a","t045-B","t045-nope","t045-9","t045-a","t045-x","t045-10"]}}')]
--- error_code eval
[200, 200]
--- response_body eval
['{"addedCount":1,"alreadyInListCount":1,"notMatchedCount":3}',
 '{"addedCount":1,"alreadyInListCount":2,"notMatchedCount":3,"added":["t045-10"],"alreadyInList":["t045-9","t045-a"],"notMatched":["t045-B","t045-nope","t045-x"]}']
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't045' AND lead_list_id = 'list-a' ORDER BY person_id COLLATE "C";
--- db_expected
p-9
t045-10
t045-9
t045-a
--- no_error_log
[error]



=== TEST 5: all already in the list: addedCount 0, empty arrays are []
--- more_headers eval: "$::H\nPrefer: return=representation"
--- request eval
main::post('{"persons":[{"id":"t045-9"},{"id":"p-9"}]}')
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":2,"notMatchedCount":0,"added":[],"alreadyInList":["p-9","t045-9"],"notMatched":[]}
--- no_error_log
[error]



=== TEST 6: ids that the JSON escapes come back escaped, in code point order
--- more_headers eval: "$::H\nPrefer: return=representation"
--- request eval
main::post('{"persons":[{"id":"q\"uote"},{"id":"back\\\\slash"},{"id":"\u00e9t\u00e9"},{"id":"Zed"}]}')
--- error_code: 200
--- response_body eval
'{"addedCount":4,"alreadyInListCount":0,"notMatchedCount":0,"added":["Zed","back\\\\slash","q\"uote","' . Leadlist::u8("\x{e9}t\x{e9}") . '"],"alreadyInList":[],"notMatched":[]}'
--- no_error_log
[error]



=== TEST 7: return=minimal: the counts only, and no Preference-Applied
--- more_headers eval: "$::H\nPrefer: return=minimal"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Content-Type: application/json
!Preference-Applied
--- response_body eval: $::DIRECT_COUNTS
--- db_check eval: $::DIRECT_ROWS
--- db_expected eval: $::DIRECT_EXPECTED



=== TEST 8: Prefer: preferences are case-insensitive, take parameters, and may be quoted
--- more_headers eval
["$::H\nPrefer: RETURN=Representation; foo=bar",
 "$::H\nPrefer: return = \"representation\";x",
 "$::H\nPrefer: Return=REPRESENTATION"]
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}'),
 main::post('{"persons":[{"id":"p-2"}]}'),
 main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[200, 200, 200]
--- response_headers eval
[("Preference-Applied: return=representation") x 3]
--- response_body eval
[main::added_one('p-1', 1), main::added_one('p-2', 1),
 '{"addedCount":0,"alreadyInListCount":1,"notMatchedCount":0,"added":[],"alreadyInList":["p-1"],"notMatched":[]}']



=== TEST 9: Prefer: unknown preferences and values are ignored, never an error
--- prefer_each eval
[["respond-async, wait=100, handling=strict, return=representation", 1],
 ["return=everything, tx=maybe", 0],
 ["handling=lenient", 0],
 ["tx=commit", 0]]



=== TEST 10: Prefer: only the first instance of a preference counts, in one header or across several
--- prefer_each eval
[["return=minimal, return=representation", 0],
 ["return=minimal\nPrefer: return=representation", 0],
 ["return=representation\nPrefer: return=minimal, tx=commit\nPrefer: tx=rollback", 1],
 ["return\nPrefer: return=representation", 0]]



=== TEST 11: Prefer: a malformed preference is skipped, the others apply; garbage is no error
--- prefer_each eval
[["return=representation x, tx=commit", 0],
 ["return=rep resentation, return=representation", 1],
 ["foo bar=\"a, b\", return=representation", 1],
 [";;;=,\",", 0],
 ["foo=\"unterminated, return=representation", 1],
 ["caf\xc3\xa9, return=representation", 1]]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't045' AND lead_list_id = 'list-a' AND person_id LIKE 'p-_';
--- db_expected
7



=== TEST 12: dry run, direct mode: the exact answer, nothing stored anywhere (a tenant copy it would merge included)
--- more_headers eval: "$::H\nPrefer: tx=rollback"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Content-Type: application/json
Preference-Applied: tx=rollback
--- response_body eval: $::DIRECT_COUNTS
--- db_unchanged
--- no_error_log
[error]



=== TEST 12b: dry run asked for after an unterminated quote: the quote ends its element at the next comma, tx=rollback still applies, nothing stored
--- more_headers eval: "$::H\nPrefer: return=\"unterminated, tx=rollback"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Content-Type: application/json
Preference-Applied: tx=rollback
--- response_body eval: $::DIRECT_COUNTS
--- db_unchanged
--- no_error_log
[error]



=== TEST 13: dry run with the report, both preferences in one header: one Preference-Applied with both
--- more_headers eval: "$::H\nPrefer: tx=rollback, return=representation"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Preference-Applied: return=representation, tx=rollback
--- response_body eval: $::DIRECT_REPORT
--- db_unchanged



=== TEST 14: dry run with the report, the preferences in two headers
--- more_headers eval: "$::H\nPrefer: return=representation\nPrefer: TX=RollBack"
--- request eval: main::post($::DIRECT)
--- error_code: 200
--- response_headers
Preference-Applied: return=representation, tx=rollback
--- response_body eval: $::DIRECT_REPORT
--- db_unchanged



=== TEST 15: dry run, then the real request: the same answer; then the dry run again sees what the real one stored
--- more_headers eval
["$::H\nPrefer: return=representation, tx=rollback",
 "$::H\nPrefer: return=representation",
 "$::H\nPrefer: return=representation; tx=rollback, tx=rollback"]
--- request eval
[(main::post($::DIRECT)) x 3]
--- error_code eval
[200, 200, 200]
--- response_headers eval
["Preference-Applied: return=representation, tx=rollback",
 "Preference-Applied: return=representation",
 "Preference-Applied: return=representation, tx=rollback"]
--- response_body eval
[$::DIRECT_REPORT, $::DIRECT_REPORT,
 '{"addedCount":0,"alreadyInListCount":5,"notMatchedCount":0,"added":[],"alreadyInList":["p-10","p-9","p-B","p-_","p-a"],"notMatched":[]}']
--- db_check eval: $::DIRECT_ROWS
--- db_expected eval: $::DIRECT_EXPECTED



=== TEST 16: dry run, bulk modes: selectAll and ids, nothing stored
--- more_headers eval
[("$::H\nPrefer: tx=rollback, return=representation") x 2]
--- request eval
[main::post('{"selection":{"searchId":"s-dom","selectAll":true}}'),
 main::post('{"selection":{"searchId":"s-cto","ids":["t045-a","t045-B","t045-9"]}}')]
--- error_code eval
[200, 200]
--- response_body eval
['{"addedCount":4,"alreadyInListCount":1,"notMatchedCount":0,"added":["t045-10","t045-B","t045-_","t045-a"],"alreadyInList":["t045-9"],"notMatched":[]}',
 '{"addedCount":1,"alreadyInListCount":1,"notMatchedCount":1,"added":["t045-a"],"alreadyInList":["t045-9"],"notMatched":["t045-B"]}']
--- db_unchanged



=== TEST 17: dry run of 1,000 prospects: nothing stored
--- more_headers eval: "$::H\nPrefer: tx=rollback"
--- request eval
main::post('{"selection":{"searchId":"s-big","selectAll":true,"limit":1000}}')
--- error_code: 200
--- response_body: {"addedCount":1000,"alreadyInListCount":0,"notMatchedCount":0}
--- db_unchanged



=== TEST 18: dry run of requests the list checks refuse: the same errors, no Preference-Applied, nothing stored
--- more_headers eval
["$::H\nPrefer: tx=rollback, return=representation",
 "Authorization: Bearer user=u-1;org=t045\nContent-Type: application/json\nPrefer: tx=rollback",
 "$::H\nPrefer: tx=rollback",
 "$::H\nPrefer: tx=rollback",
 "$::H\nPrefer: tx=rollback"]
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/nosuch/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/list-b/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/list-co/add-prospects'),
 main::post('{"selection":{"searchId":"s-nope","ids":["t045-a"]}}'),
 main::post('{"selection":{"searchId":"s-big","selectAll":true}}')]
--- error_code eval
[404, 403, 400, 400, 400]
--- response_headers eval
[("Content-Type: application/json\n!Preference-Applied") x 5]
--- response_body_like eval
[main::err('NOT_FOUND', 'Lead list not found'),
 main::err('FORBIDDEN', 'You do not have access to this lead list'),
 main::err('BAD_REQUEST', 'This lead list holds companies: add to it with POST /api/lead-lists/{leadListId}/add-companies',
           [['leadListId', 'is a company list; use the /add-companies endpoint']]),
 main::bad(['selection.searchId', 'no such saved search']),
 main::bad(['selection', 'selects 1001 prospects, but at most 1000 may be added per call: page with offset and limit'])]
--- db_unchanged



=== TEST 19: the report on an error: no Preference-Applied, the usual error body
--- more_headers eval: "$::H\nPrefer: return=representation"
--- request eval
main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/nosuch/add-prospects')
--- error_code: 404
--- response_headers
!Preference-Applied
--- response_body_like eval
main::err('NOT_FOUND', 'Lead list not found')



=== TEST 20: Prefer on a request refused before the database: no Preference-Applied
--- more_headers eval
["$::H\nPrefer: return=representation, tx=rollback",
 "Content-Type: application/json\nPrefer: return=representation, tx=rollback"]
--- request eval
[main::post('{"persons":[{"id":5}]}'), main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[400, 401]
--- response_headers eval
[("!Preference-Applied") x 2]
--- db_unchanged
