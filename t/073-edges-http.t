# Edges of the HTTP layer a client meets (from the sixteenth session's
# audit): keep-alive after early answers that leave a body unread,
# HTTP/1.0, chunk extensions and trailers, client_max_body_size to the
# byte (declared and chunked), an auth answering 201, percent-encoded
# list ids; and two of README's choices: a dry run's error carries no
# Preference-Applied, a prospect already in the list still has its copy
# merged.  Organization ta2.
use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;

repeat_each(1);
no_shuffle();
no_long_string();

sub reset_db {
    db("DELETE FROM tenant.idempotency_keys WHERE org_id = 'ta2';");
    db_fixture('ta2',
        lists => [['list-a', 'person', 'u-1'], ['list-b', 'person', 'u-1'], ['l_x', 'person', 'u-1']],
        searches => []);
}
reset_db();

our $H = "Authorization: Bearer user=u-1;org=ta2\nContent-Type: application/json";
our $URI = '/api/lead-lists/list-a/add-prospects';
sub post { my ($body, $uri) = @_; return "POST " . ($uri // $URI) . "\n" . $body }
our $ROWS = "SELECT coalesce(string_agg(lead_list_id || ':' || person_id, ',' ORDER BY lead_list_id, person_id COLLATE \"C\"), '-') FROM tenant.lead_list_persons WHERE org_id = 'ta2';";
our $OK1 = '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}';
sub sized { my ($n) = @_; my $pre = '{"persons":[{"id":"x","p":"'; my $post = '"}]}'; return $pre . ('a' x ($n - length($pre) - length($post))) . $post }
sub raw {
    my ($head, $body, $ver) = @_;
    $ver //= '1.1';
    return "POST $URI HTTP/$ver\r\nHost: localhost\r\nConnection: close\r\n"
         . "Authorization: Bearer user=u-1;org=ta2\r\n$head\r\n" . $body;
}

endpoint_defaults(init => 'reset_db()');
run_tests();

__DATA__

=== TEST 1: keep-alive: a content-type 400 with a body, then a valid request on the same connection
--- more_headers eval
["Authorization: Bearer user=u-1;org=ta2\nContent-Type: text/plain", $::H]
--- pipelined_requests eval
[main::post('{"persons":[{"id":"smuggle-1"}]}'), main::post('{"persons":[{"id":"ok-1"}]}')]
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/Content-Type/, qr/^\Q$::OK1\E$/]
--- db_check eval: $::ROWS
--- db_expected: list-a:ok-1

=== TEST 2: keep-alive: PUT with a body (405), then a valid POST
--- more_headers eval
[$::H, $::H]
--- pipelined_requests eval
["PUT $::URI\n" . '{"persons":[{"id":"smuggle-2"}]}', main::post('{"persons":[{"id":"ok-2"}]}')]
--- error_code eval
[405, 200]
--- response_body_like eval
[qr/METHOD_NOT_ALLOWED/, qr/^\Q$::OK1\E$/]
--- db_check eval: $::ROWS
--- db_expected: list-a:ok-2

=== TEST 3: keep-alive: a bad Idempotency-Key with a body, then a valid POST
--- more_headers eval
["$::H\nIdempotency-Key: \"bad", $::H]
--- pipelined_requests eval
[main::post('{"persons":[{"id":"smuggle-3"}]}'), main::post('{"persons":[{"id":"ok-3"}]}')]
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/Idempotency-Key/, qr/^\Q$::OK1\E$/]
--- db_check eval: $::ROWS
--- db_expected: list-a:ok-3

=== TEST 4: keep-alive: a path 400 with a body, then a valid POST
--- more_headers eval
[$::H, $::H]
--- pipelined_requests eval
[main::post('{"persons":[{"id":"smuggle-4"}]}', '/api/lead-lists/a.b/add-prospects'), main::post('{"persons":[{"id":"ok-4"}]}')]
--- error_code eval
[400, 200]
--- response_body_like eval
[qr/leadListId/, qr/^\Q$::OK1\E$/]
--- db_check eval: $::ROWS
--- db_expected: list-a:ok-4

=== TEST 5: keep-alive: a DB-level 404 then a valid POST
--- more_headers eval
[$::H, $::H]
--- pipelined_requests eval
[main::post('{"persons":[{"id":"x-5"}]}', '/api/lead-lists/nope/add-prospects'), main::post('{"persons":[{"id":"ok-5"}]}')]
--- error_code eval
[404, 200]
--- response_body_like eval
[qr/NOT_FOUND/, qr/^\Q$::OK1\E$/]

=== TEST 6: HTTP/1.0 POST with Content-Length: 200, JSON
--- raw_request eval
my $b = '{"persons":[{"id":"h10"}]}';
main::raw("Content-Type: application/json\r\nContent-Length: " . length($b) . "\r\n", $b, '1.0')
--- error_code: 200
--- response_headers_like
Content-Type: application/json
X-Request-Id: [0-9a-f]{32}
--- response_body eval: $::OK1

=== TEST 7: chunked body with a chunk extension and a trailer: 200
--- raw_request eval
my $b = '{"persons":[{"id":"chx"}]}';
main::raw("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
   sprintf("%x;ext=1\r\n%s\r\n%x ; name=\"v\"\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n", 10, substr($b,0,10), length($b)-10, substr($b,10)))
--- error_code: 200
--- response_body eval: $::OK1

=== TEST 8: client_max_body_size 40: a body of exactly 40 bytes is accepted (Content-Length)
--- config eval: Leadlist::endpoint("client_max_body_size 40;")
--- more_headers eval: $::H
--- request eval: main::post(main::sized(40))
--- error_code: 200

=== TEST 9: client_max_body_size 40: 41 bytes is 413
--- config eval: Leadlist::endpoint("client_max_body_size 40;")
--- more_headers eval: $::H
--- request eval: main::post(main::sized(41))
--- error_code: 413
--- response_body_like: PAYLOAD_TOO_LARGE

=== TEST 10: client_max_body_size 40: a chunked body of exactly 40 bytes in 2 chunks is accepted
--- config eval: Leadlist::endpoint("client_max_body_size 40;")
--- raw_request eval
my $b = main::sized(40);
main::raw("Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
   sprintf("%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n", 20, substr($b,0,20), 20, substr($b,20)))
--- error_code: 200

=== TEST 11: client_max_body_size 0 (unlimited) in the location: a 2 MB body is accepted
--- config eval: Leadlist::endpoint("client_max_body_size 0;")
--- more_headers eval: $::H
--- request eval: my $b = '{"persons":[{"id":"big","x":"' . ('a' x 60000) . '"}]}'; main::post($b . (' ' x 2000000))
--- error_code: 200

=== TEST 12: an auth that answers 201 with the identity headers: signed in
--- config eval
Leadlist::endpoint('') =~ s/_verify;/_verify2;/r . <<'_C_'
    location = /_verify2 {
        add_header X-User-Id u-1;
        add_header X-Org-Id ta2;
        return 201 "";
    }
_C_
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"a201"}]}')
--- error_code: 200

=== TEST 13: path id with %5F (underscore) decodes to l_x: 200
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"pct"}]}', '/api/lead-lists/l%5Fx/add-prospects')
--- error_code: 200

=== TEST 14: double-encoded %252D: 400 on leadListId
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"pct"}]}', '/api/lead-lists/list%252Da/add-prospects')
--- error_code: 400
--- response_body_like: leadListId

=== TEST 15: a dry run answered 404 carries no Preference-Applied (README: on a 200 only)
--- more_headers eval: "$::H\nPrefer: tx=rollback"
--- request eval: main::post('{"persons":[{"id":"x"}]}', '/api/lead-lists/nope/add-prospects')
--- error_code: 404
--- response_headers
!Preference-Applied

=== TEST 16: a prospect already in the list still has its copy merged: members it lacks are added (README, Tenant copies)
--- init
reset_db();
db(q{INSERT INTO tenant.lead_list_persons (org_id, lead_list_id, person_id) VALUES ('ta2','list-a','old');
INSERT INTO tenant.persons (org_id, id, profile) VALUES ('ta2','old','{"id":"old"}');});
--- more_headers eval: $::H
--- request eval: main::post('{"persons":[{"id":"old","title":"CEO"}]}')
--- error_code: 200
--- response_body: {"addedCount":0,"alreadyInListCount":1,"notMatchedCount":0}
--- db_check
SELECT profile FROM tenant.persons WHERE org_id='ta2' AND id='old';
--- db_expected
{"id": "old", "title": "CEO"}
