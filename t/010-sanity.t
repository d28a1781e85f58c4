use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

db_fixture('t010', lists => [['list-a', 'person', 'u-1']]);

endpoint_defaults();

run_tests();

__DATA__

=== TEST 1: a member adds a new prospect
--- more_headers
Authorization: Bearer user=u-1;org=t010
Content-Type: application/json
--- request
POST /api/lead-lists/list-a/add-prospects
{"persons":[{"id":"p-1","firstName":"Ann","custom":{"x":[1,2]}}]}
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body chomp
{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}
--- db_check
SELECT person_id, added_by FROM tenant.lead_list_persons WHERE org_id = 't010' ORDER BY 1;
SELECT id, profile FROM tenant.persons WHERE org_id = 't010' ORDER BY 1;
--- db_expected
p-1	u-1
p-1	{"id": "p-1", "custom": {"x": [1, 2]}, "firstName": "Ann"}
--- no_error_log
[error]
[alert]
