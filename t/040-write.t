# What POST /api/lead-lists/{id}/add-prospects writes (SPEC 1.1, 1.3, 1.4,
# 1.5): addedCount, duplicates, the tenant copy and its merge rule, tenant
# isolation, the list checks (404, 403, company list) leaving no trace,
# atomicity, profiles stored exactly, and bulk selection from saved
# searches.
#
# Organization t040 owns the lists and searches; t040x is another tenant.
# The catalogue rows of this file are global.persons "t040-*" with company
# domains under t040.example, and every search here filters on such a
# domain, so that other rows of global.persons never match.  Each block
# starts from the same fixture (the preprocessor's init) and, unless it says
# otherwise, checks that the answer is JSON with an X-Request-Id.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use IO::Socket::INET;

repeat_each(1);
no_shuffle();
no_long_string();

# The catalogue: t040-g01 .. t040-g10 (see the searches below for who
# matches what) and 1,005 persons t040-big-0001 .. t040-big-1005.
db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't040-%';
INSERT INTO global.persons (id, profile) VALUES
 ('t040-g01', '{"id":"t040-g01","firstName":"G1","title":"CTO","companyDomain":"t040.example","departments":["Engineering"]}'),
 ('t040-g02', '{"id":"t040-g02","firstName":"G2","title":"VP Sales","companyDomain":"T040.EXAMPLE","departments":["Sales"]}'),
 ('t040-g03', '{"id":"t040-g03","firstName":"G3","title":"cto","companyDomain":"t040.example","departments":["engineering","Product"]}'),
 ('t040-g04', '{"id":"t040-g04","firstName":"G4","title":"Engineer","companyDomain":"t040.example","departments":[]}'),
 ('t040-g05', '{"id":"t040-g05","firstName":"G5","title":"Cto","companyDomain":"t040.Example"}'),
 ('t040-g06', '{"id":"t040-g06","firstName":"G6","title":null,"companyDomain":"t040.example"}'),
 ('t040-g07', '{"id":"t040-g07","firstName":"G7","title":"CTO ","companyDomain":"t040.example"}'),
 ('t040-g08', '{"id":"t040-g08","firstName":"G8","title":"CTO","companyDomain":"other.t040.example"}'),
 ('t040-g09', '{"id":"t040-g09","firstName":"G9","title":"Designer","companyDomain":"t040.example","departments":"Engineering"}'),
 ('t040-g10', '{"id":"t040-g10","firstName":"G10","title":"CEO","companyDomain":"t040.example","custom":{"score":10,"tags":["a","b"]}}'),
 ('t040-c01', '{"id":"t040-c01","city":"M\u00dcNCHEN","companyDomain":"city.t040.example"}'),
 ('t040-c02', '{"id":"t040-c02","city":"Munchen","companyDomain":"city.t040.example"}'),
 ('t040-c03', '{"id":"t040-c03","city":"m\u00fcnchen","companyDomain":"city.t040.example"}'),
 ('t040-k1', '{"id":"t040-k1","companyDomain":"keys.t040.example","title":"Dev","seniority":"Senior","industry":"Software","companyName":"Acme Inc","country":"Germany","state":"Bavaria","city":"Munich"}'),
 ('t040-k2', '{"id":"t040-k2","companyDomain":"keys.t040.example","title":"Ops","seniority":"Junior","industry":"Retail","companyName":"Other Co","country":"France","state":"Ile","city":"Paris"}'),
 ('t040-k3', '{"id":"t040-k3","companyDomain":"keys.t040.example","title":"Senior","seniority":"Munich","industry":"Acme Inc","companyName":"Software","country":"Bavaria","state":"Germany","city":"Dev"}');
INSERT INTO global.persons (id, profile)
SELECT 't040-big-' || lpad(i::text, 4, '0'),
       jsonb_build_object('id', 't040-big-' || lpad(i::text, 4, '0'),
                          'companyDomain', 'big.t040.example')
  FROM generate_series(1, 1005) AS i;
_SQL_

END { eval { boom_off('t040') } }

# a port nothing listens on: the database is unreachable there
{
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    $ENV{TEST_NGINX_DEAD_PG_PORT} = $s->sockport;
    close $s;
}

sub reset_db {
    boom_off('t040');
    db_fixture('t040',
        lists => [['list-a', 'person', 'u-1', 'u-2'],
                  ['list-b', 'person', 'u-1'],
                  ['list-open', 'person'],
                  ['list-co', 'company', 'u-1'],
                  map { ["kl-$_", 'person', 'u-1'] } 1 .. 7],
        searches => [
            ['s-all',   '{"companyDomains":["t040.example"]}'],
            ['s-cto',   '{"companyDomains":["t040.example"],"titles":["CTO"]}'],
            ['s-dept',  '{"companyDomains":["t040.example"],"departments":["ENGINEERING"]}'],
            ['s-multi', '{"titles":["cto","Ceo"],"companyDomains":["T040.example","nowhere.example"]}'],
            ['s-empty', '{}'],
            ['s-big',   '{"companyDomains":["big.t040.example"]}'],
            ['s-badkey', '{"companyDomains":["t040.example"],"colour":["red"]}'],
            ['s-badval', '{"companyDomains":["t040.example"],"titles":"CTO"}'],
            ['s-badnum', '{"companyDomains":["t040.example"],"titles":["CTO",1]}'],
            ['s-notobj', '[]'],
            ['s-city',  '{"companyDomains":["city.t040.example"],"cities":["M\\u00fcnchen"]}'],
            ['s-none',  '{"companyDomains":["t040.example"],"titles":[]}'],
            ['k-titles',      '{"companyDomains":["keys.t040.example"],"titles":["dev"]}'],
            ['k-seniorities', '{"companyDomains":["keys.t040.example"],"seniorities":["SENIOR"]}'],
            ['k-industries',  '{"companyDomains":["keys.t040.example"],"industries":["software"]}'],
            ['k-companyNames','{"companyDomains":["keys.t040.example"],"companyNames":["ACME INC"]}'],
            ['k-countries',   '{"companyDomains":["keys.t040.example"],"countries":["germany"]}'],
            ['k-states',      '{"companyDomains":["keys.t040.example"],"states":["BAVARIA"]}'],
            ['k-cities',      '{"companyDomains":["keys.t040.example"],"cities":["munich"]}'],
        ]);
    db_fixture('t040x',
        lists => [['list-x', 'person', 'u-1']],
        searches => [['s-other', '{"companyDomains":["t040.example"]}']]);
}

reset_db();

our $H = "Authorization: Bearer user=u-1;org=t040\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';

sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }

# the list-type 400 of a company list
our $COMPANY = err_re('BAD_REQUEST',
    'This lead list holds companies: add to it with POST /api/lead-lists/{leadListId}/add-companies',
    [['leadListId', 'is a company list; use the /add-companies endpoint']]);

endpoint_defaults(init => 'reset_db()', json => 1);

run_tests();

__DATA__

=== TEST 1: addedCount counts only the prospects new to the list
--- init
reset_db();
db(q{INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
     VALUES ('t040', 'list-a', 'p-1', 'u-old');
     INSERT INTO tenant.persons (org_id, id, profile)
     VALUES ('t040', 'p-1', '{"id":"p-1"}');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-2"},{"id":"p-3"}]}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":1,"notMatchedCount":0}
--- db_check
SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1, 2;
SELECT id FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
list-a	p-1	u-old
list-a	p-2	u-1
list-a	p-3	u-1
p-1
p-2
p-3
--- no_error_log
[error]



=== TEST 2: the same person twice in one request counts once; the first occurrence is stored
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"First"},{"id":"p-2"},{"id":"p-1","firstName":"Second","extra":1}]}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT id, profile FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
p-1
p-2
p-1	{"id": "p-1", "firstName": "First"}
p-2	{"id": "p-2"}
--- no_error_log
[error]



=== TEST 3: only duplicates of one person: addedCount 1
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-1"},{"id":"p-1"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
1
--- no_error_log
[error]



=== TEST 4: persons already in the list are skipped across requests
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-1"},{"id":"p-2"}]}'),
 main::post('{"persons":[{"id":"p-2"},{"id":"p-3"}]}'),
 main::post('{"persons":[{"id":"p-3"},{"id":"p-1"},{"id":"p-2"}]}')]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body eval
['{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}', '{"addedCount":1,"alreadyInListCount":1,"notMatchedCount":0}', '{"addedCount":0,"alreadyInListCount":3,"notMatchedCount":0}']
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
p-1	u-1
p-2	u-1
p-3	u-1
3
--- no_error_log
[error]



=== TEST 5: ids are compared exactly: "P-1" and "p-1 " are other persons than "p-1"
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"},{"id":"P-1"},{"id":"p-1 "}]}
--- error_code: 200
--- response_body: {"addedCount":3,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT '[' || person_id || ']' FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY person_id COLLATE "C";
--- db_expected
[P-1]
[p-1]
[p-1 ]
--- no_error_log
[error]



=== TEST 6: one person added to two lists: two memberships, one tenant copy
--- more_headers eval
[$::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-1","firstName":"Ann"}]}', '/api/lead-lists/list-a/add-prospects'),
 main::post('{"persons":[{"id":"p-1","lastName":"Lee"}]}', '/api/lead-lists/list-b/add-prospects')]
--- error_code eval
[200, 200]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body eval
['{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}', '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}']
--- db_check
SELECT lead_list_id, person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1, 2;
SELECT id, profile FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
list-a	p-1
list-b	p-1
p-1	{"id": "p-1", "lastName": "Lee", "firstName": "Ann"}
--- no_error_log
[error]



=== TEST 7: the tenant merge rule: existing values stay, missing members are added
--- init
reset_db();
db(q{INSERT INTO tenant.persons (org_id, id, profile) VALUES ('t040', 'p-1',
     '{"id":"p-1","firstName":"Old","email":"old@example.com","title":null,"custom":{"a":1},"mine":"kept"}');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"New","lastName":"Added","email":null,"title":"CTO","custom":{"b":2},"phone":"+1 555"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile FROM tenant.persons WHERE org_id = 't040' AND id = 'p-1';
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
{"id": "p-1", "mine": "kept", "email": "old@example.com", "phone": "+1 555", "title": null, "custom": {"a": 1}, "lastName": "Added", "firstName": "Old"}
p-1
--- no_error_log
[error]



=== TEST 8: the merge rule: a record with nothing new is left as it is
--- init
reset_db();
db(q{INSERT INTO tenant.persons (org_id, id, profile) VALUES ('t040', 'p-1',
     '{"id":"p-1","firstName":"Old","lastName":"Kept"}');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"New"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile FROM tenant.persons WHERE org_id = 't040';
--- db_expected
{"id": "p-1", "lastName": "Kept", "firstName": "Old"}
--- no_error_log
[error]



=== TEST 9: another tenant's copy of the same person is neither read nor written
--- init
reset_db();
db(q{INSERT INTO tenant.persons (org_id, id, profile) VALUES ('t040x', 'p-1',
     '{"id":"p-1","firstName":"Theirs","secret":"x"}');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","lastName":"Ours"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT org_id, profile FROM tenant.persons WHERE id = 'p-1' AND org_id IN ('t040', 't040x') ORDER BY 1;
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040x';
--- db_expected
t040	{"id": "p-1", "lastName": "Ours"}
t040x	{"id": "p-1", "secret": "x", "firstName": "Theirs"}
0
--- no_error_log
[error]



=== TEST 10: an admin of the organization adds to a list with empty user_ids
--- more_headers
Authorization: Bearer user=u-admin;org=t040;role=admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"},{"id":"p-2"}]}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1, 2;
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
list-open	p-1	u-admin
list-open	p-2	u-admin
2
--- no_error_log
[error]



=== TEST 11: a member of other lists gets 403 on a list with empty user_ids; nothing written
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-open/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 403
--- response_body_like eval: main::err('FORBIDDEN', 'You do not have access to this lead list')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 12: 403 for a user not in user_ids: nothing written, not even the tenant copy
--- more_headers
Authorization: Bearer user=u-3;org=t040
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"Nope"}]}
--- error_code: 403
--- response_body_like eval: main::err('FORBIDDEN', 'You do not have access to this lead list')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 13: another organization's list: 404, nothing written in either organization
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-x/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like eval: main::err('NOT_FOUND', 'Lead list not found')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t040', 't040x');
SELECT count(*) FROM tenant.persons WHERE org_id IN ('t040', 't040x');
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 14: another organization's list, as an admin of the caller's organization: still 404
--- more_headers
Authorization: Bearer user=u-1;org=t040;role=admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-x/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 404
--- response_body_like eval: main::err('NOT_FOUND', 'Lead list not found')
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t040', 't040x');
--- db_expected
0
--- no_error_log
[error]



=== TEST 15: a company list: 400 pointing to /add-companies, nothing written
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-co/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 400
--- response_body_like eval
$::COMPANY
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 16: a company list in bulk mode: the list-type 400 comes before the search is looked at
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-co/add-prospects
{"selection":{"searchId":"no-such-search","ids":["t040-g01"]}}
--- error_code: 400
--- response_body_like eval
$::COMPANY
--- no_error_log
[error]



=== TEST 17: a list that does not exist with a search that does not exist: 404 first
--- more_headers eval: $::H
--- request
POST /api/lead-lists/no-such-list/add-prospects
{"selection":{"searchId":"no-such-search","ids":["t040-g01"]}}
--- error_code: 404
--- response_body_like eval: main::err('NOT_FOUND', 'Lead list not found')
--- no_error_log
[error]



=== TEST 18: a forbidden list with a search that does not exist: 403 first
--- more_headers
Authorization: Bearer user=u-3;org=t040
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"no-such-search","ids":["t040-g01"]}}
--- error_code: 403
--- response_body_like eval: main::err('FORBIDDEN', 'You do not have access to this lead list')
--- no_error_log
[error]



=== TEST 19: atomicity: a failure in the database mid-request stores nothing, answers a bare 500
--- init
reset_db();
db(q{INSERT INTO tenant.persons (org_id, id, profile) VALUES ('t040', 'p-a', '{"id":"p-a","old":true}');});
boom_on('t040');
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-a","new":1},{"id":"p-boom"},{"id":"p-z"}]}
--- error_code: 500
--- response_body_like eval: main::err('INTERNAL_ERROR', 'Internal server error')
--- logged_with_request_id: PostgreSQL
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT id, profile FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
0
p-a	{"id": "p-a", "old": true}
--- error_log
t040 boom
statement failed, SQLSTATE P0001: ERROR:



=== TEST 20: atomicity: after the failure, the next request on the same worker works
--- init
reset_db();
boom_on('t040');
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"persons":[{"id":"p-a"},{"id":"p-boom"}]}'),
 main::post('{"persons":[{"id":"p-a"},{"id":"p-b"}]}'),
 main::post('{"persons":[{"id":"p-boom"}]}')]
--- error_code eval
[500, 200, 500]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[main::err('INTERNAL_ERROR', 'Internal server error'),
 '^\{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0\}$',
 main::err('INTERNAL_ERROR', 'Internal server error')]
--- logged_with_request_id: PostgreSQL
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT id FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
p-a
p-b
p-a
p-b



=== TEST 21: profiles keep unknown members and nested JSON exactly
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"Ann","departments":["R&D","Ops"],"custom":{"nested":{"deep":[1,2.5,"x",null,true,false,{"k":"v"},[]]}},"emptyObj":{},"emptyArr":[],"n":-12.5e-3,"big":12345678901234567890.5,"s":"quote \" backslash \\ slash \/ tab \t nl \n"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile = '{"id":"p-1","firstName":"Ann","departments":["R&D","Ops"],"custom":{"nested":{"deep":[1,2.5,"x",null,true,false,{"k":"v"},[]]}},"emptyObj":{},"emptyArr":[],"n":-0.0125,"big":12345678901234567890.5,"s":"quote \" backslash \\ slash / tab \t nl \n"}'::jsonb FROM tenant.persons WHERE org_id = 't040';
SELECT profile->'custom', profile->>'n', profile->>'big' FROM tenant.persons WHERE org_id = 't040';
--- db_expected
t
{"nested": {"deep": [1, 2.5, "x", null, true, false, {"k": "v"}, []]}}	-0.0125	12345678901234567890.5
--- no_error_log
[error]



=== TEST 22: unicode in names round-trips (raw UTF-8 and \u escapes, astral plane included)
--- more_headers eval: $::H
--- request eval
main::post(main::u8(qq({"persons":[{"id":"p-\x{e9}","firstName":"Zo\x{eb}","lastName":"\x{141}ukasiewicz","fullName":"\x{5c71}\x{7530}\x{592a}\x{90ce}","headline":"\x{1f600} ok","city":"S\\u00e3o Paulo","title":"\\ud83d\\ude80"}]})))
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id = U&'p-\00E9' FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT profile->>'firstName' = U&'Zo\00EB', profile->>'lastName' = U&'\0141ukasiewicz', profile->>'fullName' = U&'\5C71\7530\592A\90CE', profile->>'headline' = U&'\+01F600 ok', profile->>'city' = U&'S\00E3o Paulo', profile->>'title' = U&'\+01F680', id = U&'p-\00E9' FROM tenant.persons WHERE org_id = 't040';
--- db_expected
t
t	t	t	t	t	t	t
--- no_error_log
[error]



=== TEST 23: bulk, selectAll with excludeIds, offset and limit: exactly those ids, ordered by id
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-all","selectAll":true,"excludeIds":["t040-g02","t040-nope"],"offset":1,"limit":3}}
--- error_code: 200
--- response_body: {"addedCount":3,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT id, profile->>'firstName' FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g03	u-1
t040-g04	u-1
t040-g05	u-1
t040-g03	G3
t040-g04	G4
t040-g05	G5
--- no_error_log
[error]



=== TEST 24: bulk, selectAll without limit under the cap: every match, case-insensitively
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":3,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT t.id FROM tenant.persons AS t JOIN global.persons AS g ON g.id = t.id WHERE t.org_id = 't040' AND t.profile = g.profile ORDER BY 1;
--- db_expected
t040-g01
t040-g03
t040-g05
t040-g01
t040-g03
t040-g05
--- no_error_log
[error]



=== TEST 25: bulk, every match of a search: the catalogue's profiles are copied exactly
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-all","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":9,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT string_agg(person_id, ',' ORDER BY person_id) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons AS t JOIN global.persons AS g ON g.id = t.id AND g.profile = t.profile WHERE t.org_id = 't040';
SELECT profile->'custom' FROM tenant.persons WHERE org_id = 't040' AND id = 't040-g10';
--- db_expected
t040-g01,t040-g02,t040-g03,t040-g04,t040-g05,t040-g06,t040-g07,t040-g09,t040-g10
9
{"tags": ["a", "b"], "score": 10}
--- no_error_log
[error]



=== TEST 26: bulk, the departments filter matches any department, case-insensitively
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-dept","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g01
t040-g03
--- no_error_log
[error]



=== TEST 27: bulk, several keys must all match; several values are alternatives
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-multi","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":4,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g01
t040-g03
t040-g05
t040-g10
--- no_error_log
[error]



=== TEST 28: bulk, picked ids: the ones the search does not match are skipped
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","ids":["t040-g02","t040-g01","t040-g04","t040-nope","t040-g08","t040-g01"]}}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":4}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
SELECT id FROM tenant.persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g01
t040-g01
--- no_error_log
[error]



=== TEST 29: bulk, a search with {} filters matches everyone: picked ids that exist are added
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-empty","ids":["t040-g08","t040-nope"]}}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":1}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g08
--- no_error_log
[error]



=== TEST 30: bulk, nothing selected (offset past the end): 200 with addedCount 0
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","selectAll":true,"offset":3}}
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 31: bulk, already-added prospects are skipped and not counted
--- init
reset_db();
db(q{INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id, added_by)
     VALUES ('t040', 'list-a', 't040-g03', 'u-2');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":1,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-g01	u-1
t040-g03	u-2
t040-g05	u-1
--- no_error_log
[error]



=== TEST 32: bulk, the merge rule holds for catalogue profiles too
--- init
reset_db();
db(q{INSERT INTO tenant.persons (org_id, id, profile) VALUES ('t040', 't040-g01',
     '{"id":"t040-g01","title":"Chief","note":"ours"}');});
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","ids":["t040-g01"]}}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT profile FROM tenant.persons WHERE org_id = 't040' AND id = 't040-g01';
--- db_expected
{"id": "t040-g01", "note": "ours", "title": "Chief", "firstName": "G1", "departments": ["Engineering"], "companyDomain": "t040.example"}
--- no_error_log
[error]



=== TEST 33: bulk, an unknown search: 400 on selection.searchId, nothing written
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"no-such-search","selectAll":true}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.searchId', 'no such saved search'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 34: bulk, another organization's search does not exist for the caller
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-other","ids":["t040-g01"]}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.searchId', 'no such saved search'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id IN ('t040', 't040x');
--- db_expected
0
--- no_error_log
[error]



=== TEST 35: bulk, a search with a filter key the endpoint does not know: 400, never a wider selection
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-badkey","selectAll":true}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection.searchId', 'the saved search uses filters this endpoint does not support'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 36: bulk, searches whose filter values are not arrays of strings, or whose filters are not an object: 400
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-badval","ids":["t040-g01"]}}'),
 main::post('{"selection":{"searchId":"s-badnum","selectAll":true,"limit":5}}'),
 main::post('{"selection":{"searchId":"s-notobj","selectAll":true}}')]
--- error_code eval
[400, 400, 400]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body_like eval
[(main::bad(['selection.searchId', 'the saved search uses filters this endpoint does not support'])) x 3]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0
--- no_error_log
[error]



=== TEST 37: bulk, selectAll without limit over the cap (1,005 matches): 400 on selection with the count
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-big","selectAll":true}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection', 'selects 1005 prospects, but at most 1000 may be added per call: page with offset and limit'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
0
0
--- no_error_log
[error]



=== TEST 38: bulk, over the cap counts what remains after offset and excludeIds
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-big","selectAll":true,"offset":2,"excludeIds":["t040-big-0500","t040-g01"]}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection', 'selects 1002 prospects, but at most 1000 may be added per call: page with offset and limit'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0
--- no_error_log
[error]



=== TEST 39: bulk, at the cap without limit (offset leaves exactly 1,000): accepted
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-big","selectAll":true,"offset":5}}
--- error_code: 200
--- response_body: {"addedCount":1000,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*), min(person_id), max(person_id) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
1000	t040-big-0006	t040-big-1005
--- no_error_log
[error]



=== TEST 40: bulk, paging the big search with offset and limit adds every match once
--- more_headers eval
[$::H, $::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-big","selectAll":true,"limit":1000}}'),
 main::post('{"selection":{"searchId":"s-big","selectAll":true,"offset":1000,"limit":1000}}'),
 main::post('{"selection":{"searchId":"s-big","selectAll":true,"offset":995,"limit":1000}}')]
--- error_code eval
[200, 200, 200]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 3]
--- response_body eval
['{"addedCount":1000,"alreadyInListCount":0,"notMatchedCount":0}', '{"addedCount":5,"alreadyInListCount":0,"notMatchedCount":0}', '{"addedCount":0,"alreadyInListCount":10,"notMatchedCount":0}']
--- db_check
SELECT count(*), count(DISTINCT person_id), min(person_id), max(person_id) FROM tenant.lead_list_persons WHERE org_id = 't040';
SELECT count(*) FROM tenant.persons WHERE org_id = 't040';
--- db_expected
1005	1005	t040-big-0001	t040-big-1005
1005
--- no_error_log
[error]



=== TEST 41: bulk, leadlist_max_selection 3: a selection of 9 without limit is a 400 with the count and the cap
--- config eval: main::endpoint("        leadlist_max_selection 3;")
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-all","selectAll":true}}
--- error_code: 400
--- response_body_like eval
main::bad(['selection', 'selects 9 prospects, but at most 3 may be added per call: page with offset and limit'])
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0
--- no_error_log
[error]



=== TEST 42: bulk, leadlist_max_selection 3: a selection of exactly 3 without limit is fine
--- config eval: main::endpoint("        leadlist_max_selection 3;")
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-cto","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":3,"alreadyInListCount":0,"notMatchedCount":0}
--- no_error_log
[error]



=== TEST 43: bulk, added by an admin to a list with empty user_ids
--- more_headers
Authorization: Bearer user=u-admin;org=t040;role=Admin
Content-Type: application/json
--- request
POST /api/lead-lists/list-open/add-prospects
{"selection":{"searchId":"s-dept","selectAll":true,"limit":1}}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
list-open	t040-g01	u-admin
--- no_error_log
[error]



=== TEST 44: bulk, case-insensitive matching covers non-ASCII letters (MÜNCHEN = münchen, not Munchen)
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-city","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1;
--- db_expected
t040-c01
t040-c03
--- no_error_log
[error]



=== TEST 45: bulk, a filter with no accepted values matches nobody
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"s-none","selectAll":true}}
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0
--- no_error_log
[error]



=== TEST 46: identities with quotes are data, not SQL
--- init
reset_db();
db_fixture("t040'q", lists => [['list-q', 'person', "u'1"]]);
--- more_headers
Authorization: Bearer user=u'1;org=t040'q
Content-Type: application/json
--- request
POST /api/lead-lists/list-q/add-prospects
{"persons":[{"id":"p-1'); DROP TABLE tenant.persons; --"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT org_id, lead_list_id, person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't040''q';
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
t040'q	list-q	p-1'); DROP TABLE tenant.persons; --	u'1
0
--- no_error_log
[error]



=== TEST 47: 404 and 403 are written in the error log with their request ids
--- more_headers eval
[$::H, "Authorization: Bearer user=u-3;org=t040\nContent-Type: application/json"]
--- request eval
[main::post('{"persons":[{"id":"p-1"}]}', '/api/lead-lists/list-x/add-prospects'),
 main::post('{"persons":[{"id":"p-1"}]}')]
--- error_code eval
[404, 403]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 2]
--- response_body_like eval
[main::err('NOT_FOUND', 'Lead list not found'),
 main::err('FORBIDDEN', 'You do not have access to this lead list')]
--- logged_with_request_id: leadlist: 40
--- no_error_log
[error]



=== TEST 48: bulk, each filter key reads its own profile field
--- more_headers eval
[($::H) x 7]
--- request eval
[map { main::post(qq({"selection":{"searchId":"k-$_->[1]","selectAll":true}}), "/api/lead-lists/kl-$_->[0]/add-prospects") }
   [1, 'titles'], [2, 'seniorities'], [3, 'industries'], [4, 'companyNames'], [5, 'countries'], [6, 'states'], [7, 'cities']]
--- error_code eval
[(200) x 7]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 7]
--- response_body eval
[('{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}') x 7]
--- db_check
SELECT lead_list_id, person_id FROM tenant.lead_list_persons WHERE org_id = 't040' ORDER BY 1, 2;
--- db_expected
kl-1	t040-k1
kl-2	t040-k1
kl-3	t040-k1
kl-4	t040-k1
kl-5	t040-k1
kl-6	t040-k1
kl-7	t040-k1
--- no_error_log
[error]



=== TEST 49: order: over-cap and unusable searches come after the list checks (404, 403, company list)
--- more_headers eval
[$::H, "Authorization: Bearer user=u-3;org=t040\nContent-Type: application/json", $::H, $::H]
--- request eval
[main::post('{"selection":{"searchId":"s-big","selectAll":true}}', '/api/lead-lists/no-such-list/add-prospects'),
 main::post('{"selection":{"searchId":"s-badkey","selectAll":true}}'),
 main::post('{"selection":{"searchId":"s-big","selectAll":true}}', '/api/lead-lists/list-co/add-prospects'),
 main::post('{"selection":{"searchId":"s-badkey","selectAll":true}}', '/api/lead-lists/list-x/add-prospects')]
--- error_code eval
[404, 403, 400, 404]
--- response_headers_like eval
[("Content-Type: application/json\nX-Request-Id: [0-9a-f]{32}") x 4]
--- response_body_like eval
[main::err('NOT_FOUND', 'Lead list not found'),
 main::err('FORBIDDEN', 'You do not have access to this lead list'),
 $::COMPANY,
 main::err('NOT_FOUND', 'Lead list not found')]
--- no_error_log
[error]



=== TEST 50: database unreachable: 503 with Retry-After, logged with the request id
--- http_config eval
$::http_config . qq{
    upstream leadlist_dead {
        leadlist_pg_server "host=127.0.0.1 port=$ENV{TEST_NGINX_DEAD_PG_PORT} dbname=leadlist user=leadlist_app connect_timeout=2";
    }
}
--- config eval
my $c = main::endpoint();
$c =~ s/leadlist_add_prospects leadlist_db;/leadlist_add_prospects leadlist_dead;/;
$c
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1"}]}
--- error_code: 503
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
Retry-After: \d+
--- response_body_like eval: main::err('SERVICE_UNAVAILABLE', 'Service temporarily unavailable, retry later')
--- logged_with_request_id: leadlist
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0



=== TEST 51: direct mode copies the request's object, not the catalogue's record of the same id
--- more_headers eval: $::H
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"t040-g01","firstName":"Mine"}]}
--- error_code: 200
--- response_body: {"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT id, profile FROM tenant.persons WHERE org_id = 't040';
--- db_expected
t040-g01	{"id": "t040-g01", "firstName": "Mine"}
--- no_error_log
[error]



=== TEST 52: a statement larger than the socket's buffers is sent whole
Every string field at its 1,024 characters makes the statement's parameter
about 1.7 MB.  Over a Unix socket (buffers of some 200 KB) the kernel takes
it in parts: the rest goes out from the write events.
--- skip_eval: 4: !$ENV{TEST_NGINX_PG_SOCKET}
--- http_config eval
$::http_config . qq{
    upstream leadlist_unix {
        leadlist_pg_server "host=$ENV{TEST_NGINX_PG_SOCKET} port=$ENV{TEST_NGINX_PG_PORT} dbname=leadlist user=leadlist_app password=$ENV{TEST_NGINX_PG_PASSWORD}";
    }
}
--- config eval
my $c = main::endpoint("        client_max_body_size 16m;");
$c =~ s/leadlist_add_prospects leadlist_db;/leadlist_add_prospects leadlist_unix;/;
$c
--- more_headers eval: $::H
--- request eval
my @f = qw(firstName lastName fullName title headline email phone
           linkedinUrl companyId companyName companyDomain industry
           seniority city state country);
main::post('{"persons":['
    . CORE::join(',', map {
        my $i = $_;
        '{"id":"big-' . $i . '",'
        . CORE::join(',', map { "\"$_\":\"" . ($i % 10) x 1024 . '"' } @f)
        . '}'
      } 1 .. 100)
    . ']}')
--- timeout: 60
--- error_code: 200
--- response_body: {"addedCount":100,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT count(*), sum(length(profile->>'country')) FROM tenant.persons WHERE org_id = 't040' AND id LIKE 'big-%';
SELECT profile->>'city' = repeat('7', 1024) FROM tenant.persons WHERE org_id = 't040' AND id = 'big-7';
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040' AND lead_list_id = 'list-a';
--- db_expected
100	102400
t
100
--- no_error_log
[error]



=== TEST 53: a searchId no search can have (empty, 129 characters, a control character) is looked up after the list's checks, like any unknown one
--- more_headers eval: [($::H) x 4]
--- request eval
[main::post('{"selection":{"searchId":"","ids":["t040-g01"]}}', '/api/lead-lists/no-such-list/add-prospects'),
 main::post('{"selection":{"searchId":"s\u0001","ids":["t040-g01"]}}', '/api/lead-lists/list-co/add-prospects'),
 main::post('{"selection":{"searchId":"' . ('s' x 129) . '","selectAll":true}}', '/api/lead-lists/list-a/add-prospects'),
 main::post('{"selection":{"searchId":"","ids":["t040-g01"]}}', '/api/lead-lists/list-a/add-prospects')]
--- error_code eval
[404, 400, 400, 400]
--- response_body_like eval
[main::err('NOT_FOUND', 'Lead list not found'),
 $::COMPANY,
 (main::bad(['selection.searchId', 'no such saved search'])) x 2]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't040';
--- db_expected
0
--- no_error_log
[error]



=== TEST 54: a forbidden list with an empty searchId: 403 first
--- more_headers
Authorization: Bearer user=u-3;org=t040
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"selection":{"searchId":"","ids":["t040-g01"]}}
--- error_code: 403
--- response_body_like eval: main::err('FORBIDDEN', 'You do not have access to this lead list')
--- no_error_log
[error]



=== TEST 55: an offset beyond int32 and beyond the matches selects nothing
--- more_headers eval: [($::H) x 2]
--- request eval
[main::post('{"selection":{"searchId":"s-all","selectAll":true,"offset":2147483648,"limit":5}}'),
 main::post('{"selection":{"searchId":"s-all","selectAll":true,"offset":999999999999999999}}')]
--- error_code eval
[200, 200]
--- response_body eval
[qq({"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0}), qq({"addedCount":0,"alreadyInListCount":0,"notMatchedCount":0})]
--- no_error_log
[error]
