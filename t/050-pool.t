use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use LeadlistDbTest qw(spawn_psql reap_psql);

# The connection pool: reuse, prepared statements, dead connections,
# unreachable servers, failover, the statement timeout.  Every request is
# user u's of t050, adding to its list "l".

repeat_each(1);
no_shuffle();
no_long_string();

user_u_of('t050');

our $lock;

# valgrind makes nginx several times slower: stretch the timings with it
our $vg = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;

run_tests();

__DATA__

=== TEST 1: the first request connects and prepares the statement
--- http_config eval: $::http_config
--- config eval: Leadlist::endpoint()
--- request eval: ::add_to_l("r1")
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(1, 0)
--- no_error_log
[error]



=== TEST 2: the second request reuses the connection and the statement
--- request eval: ::add_to_l("r2")
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(2, 1)
--- no_error_log
[error]



=== TEST 3: so does the third, on the same backend process
--- init
my @pids = map { /backend:(\d+)/ } ::error_log_lines(qr/leadlist send fd:/);
Test::More::is(::error_log_count(qr/leadlist connect /), 1, "one connection made");
my %seen = map { $_ => 1 } @pids;
Test::More::is(scalar @pids, 2, "two statements sent so far");
Test::More::is(scalar keys %seen, 1, "all by one backend pid");
$::pid = $pids[0];
--- request eval: ::add_to_l("r3")
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(3, 1)
--- no_error_log
[error]



=== TEST 4: the backend of an idle connection is killed: the next request still succeeds
--- init
my $r = LeadlistDbTest::su(qq{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = $::pid});
die "no backend to kill" unless $r->[0][0] == 1;
select(undef, undef, undef, 0.3);
--- request eval: ::add_to_l("r4")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval
[qr/leadlist close (dead )?idle/, ::sent(1, 0)]
--- no_error_log
[error]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't050' AND person_id LIKE 'r%';
--- db_expected
4



=== TEST 5: the replacement connection is kept and reused
--- request eval: ::add_to_l("r5")
--- error_code: 200
--- error_log eval: ::sent(2, 1)
--- no_error_log
[error]



=== TEST 6: a server that refuses connections: 503 JSON with Retry-After
--- http_config eval
$::http_config . <<'_EOC_'
    upstream down {
        leadlist_pg_server "host=127.0.0.1 port=1 dbname=x user=x";
    }
_EOC_
--- config eval
Leadlist::endpoint() =~ s/leadlist_db/down/r
--- request eval: ::add_to_l("d1")
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body_like: ^\{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable, retry later","requestId":"[0-9a-f]{32}"\}$
--- error_log eval
qr/\[error\].*leadlist: PostgreSQL 127\.0\.0\.1:1\/x could not connect: .*request_id: [0-9a-f]{32}|\[error\].*leadlist: PostgreSQL 127\.0\.0\.1:1\/x could not connect/



=== TEST 7: right after a failure the server is in backoff: fail fast
--- request eval: ::add_to_l("d2")
--- error_code: 503
--- error_log eval
qr/no PostgreSQL server of upstream "down" is available, request_id: [0-9a-f]{32}|could not connect/



=== TEST 8: a wrong password is a 503, and the password is never logged
--- http_config eval
$::http_config . <<'_EOC_'
    upstream badpw {
        leadlist_pg_server "host=127.0.0.1 port=$TEST_NGINX_PG_PORT dbname=leadlist user=leadlist_app password=wrong-secret-xyz";
    }
_EOC_
--- config eval
Leadlist::endpoint() =~ s/leadlist_db/badpw/r
--- request eval: ::add_to_l("d3")
--- timeout eval: 3 * $::vg
--- error_code: 503
--- error_log
password authentication failed
--- no_error_log
wrong-secret-xyz



=== TEST 9: failover: the first server is down, the second serves
--- http_config eval
$::http_config . <<'_EOC_'
    upstream two {
        leadlist_pg_server "host=127.0.0.1 port=1 dbname=leadlist";
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
    }
_EOC_
--- config eval
Leadlist::endpoint() =~ s/leadlist_db/two/r
--- request eval
[map { ::add_to_l($_) } qw(f1 f2 f3)]
--- error_code eval
[200, 200, 200]
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't050' AND person_id LIKE 'f%';
--- db_expected
3



=== TEST 10: a statement slower than the timeout: 503, cancelled on the server
--- http_config eval
$::http_config =~ s/leadlist_pg_keepalive 4;/"leadlist_pg_keepalive 4;\n        leadlist_pg_query_timeout " . 1500 * $::vg . "ms;"/er
--- config eval: Leadlist::endpoint()
--- init
$::lock = LeadlistDbTest::spawn_psql('su', qq{BEGIN; LOCK TABLE tenant.lead_lists IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3 * $::vg); COMMIT;});
select(undef, undef, undef, 0.5);
--- request eval: ::add_to_l("slow")
--- error_code: 503
--- timeout: 20
--- error_log
canceling statement due to statement timeout
--- db_check
SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nginx-leadlist' AND state = 'active';
--- db_expected
0



=== TEST 11: the connection the timeout hit is clean and serves the next request
--- init
LeadlistDbTest::reap_psql($::lock);
--- request eval: ::add_to_l("after-slow")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(2, 1)
--- db_check
SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = 't050' AND person_id = 'slow';
--- db_expected
0



=== TEST 12: a client that leaves while its statement waits on a lock
--- http_config eval: $::http_config
--- config eval: Leadlist::endpoint()
--- init
$::lock = LeadlistDbTest::spawn_psql('su', qq{BEGIN; LOCK TABLE tenant.lead_lists IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5 * $::vg); COMMIT;});
select(undef, undef, undef, 0.4);
--- request eval: ::add_to_l("gone")
--- timeout eval: 0.5 * $::vg
--- abort
--- ignore_response
--- wait eval: 0.3 * $::vg
--- error_log
client closed connection before the answer



=== TEST 13: its connection was drained and serves the next request
--- init
LeadlistDbTest::reap_psql($::lock);
select(undef, undef, undef, 0.3 * $::vg);
--- request eval: ::add_to_l("next")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(2, 1)
--- no_error_log
[error]
--- db_check
SELECT string_agg(person_id, ',' ORDER BY person_id) FROM tenant.lead_list_persons WHERE org_id = 't050' AND person_id IN ('gone', 'next');
--- db_expected
gone,next
