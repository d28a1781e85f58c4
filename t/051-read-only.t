use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Leadlist;
use LeadlistDbTest qw(su);

# A server that turns read-only under a live pool, as a primary demoted to
# a standby does: SQLSTATE 25006 (read_only_sql_transaction) is a 503 with
# Retry-After, never a 500, and the connection is closed, never pooled, so
# that the next connect may find a writable server.  Here the whole
# cluster turns read-only: default_transaction_read_only set with ALTER
# SYSTEM and reloaded, which a live session takes at its next command.
# Every request is user u's of t051, adding to its list "l".

repeat_each(1);
no_shuffle();
no_long_string();

user_u_of('t051');

our ($pid, $parent) = (0, $$);

# the cluster read-only or writable, as a new session sees it
sub read_only {
    my ($on) = @_;
    my $want = $on ? 'on' : 'off';
    su("SET default_transaction_read_only = off;\n"
       . ($on ? "ALTER SYSTEM SET default_transaction_read_only = on;\n"
              : "ALTER SYSTEM RESET default_transaction_read_only;\n")
       . "SELECT pg_reload_conf();\n");
    for (1 .. 100) {
        return if su("SHOW default_transaction_read_only")->[0][0] eq $want;
        select(undef, undef, undef, 0.05);
    }
    die "default_transaction_read_only is not $want after the reload\n";
}

# however the file ends, the cluster is writable again for the next ones
END { read_only(0) if $$ == $parent }

run_tests();

__DATA__

=== TEST 1: a writable server: 200, and the connection stays in the pool
--- http_config eval: $::http_config
--- config eval: Leadlist::endpoint()
--- init
main::read_only(0);
--- request eval: ::add_to_l("p1")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- error_log eval: ::sent(1, 0)
--- no_error_log
[error]



=== TEST 2: the server turns read-only under the live pool: 503 JSON with Retry-After, logged at error with the server's name
--- init
my @pids = ::pooled_backends();
Test::More::is(scalar @pids, 1, "one pooled connection");
$::pid = $pids[0];
main::read_only(1);
--- request eval: ::add_to_l("p2")
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- response_body_like: ^\{"code":"SERVICE_UNAVAILABLE","message":"Service temporarily unavailable, retry later","requestId":"[0-9a-f]{32}"\}$
--- error_log eval
[::sent(2, 1),
 qr/\[error\].*leadlist: PostgreSQL 127\.0\.0\.1:\d+\/leadlist is read-only, the connection is closed: .*read-only transaction.*, request_id: [0-9a-f]{32}/,
 qr/leadlist close read-only 127\.0\.0\.1:\d+\/leadlist/]
--- no_error_log
statement failed
[alert]
--- db_check
SELECT string_agg(person_id, ',' ORDER BY person_id) FROM tenant.lead_list_persons WHERE org_id = 't051';
--- db_expected
p1



=== TEST 3: that connection is gone; while the server stays read-only, each new one answers 503 and is closed too
--- init
Test::More::ok(::backend_gone($::pid), "the read-only connection's backend has exited");
--- request eval: ::add_to_l("p3")
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: application/json
--- no_error_log
statement failed
[alert]



=== TEST 4: writable again: 200 on a new connection; one error line per read-only connection
--- init
main::read_only(0);
Test::More::is(::error_log_count(::sent(1, 0)), 2, "two connections made so far");
Test::More::is(::error_log_count(qr/\[error\].* is read-only, the connection is closed/), 2, "one error line for each read-only connection");
Test::More::is(::error_log_count(qr/leadlist close read-only/), 2, "both closed as read-only");
--- request eval: ::add_to_l("p4")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- db_check
SELECT string_agg(person_id, ',' ORDER BY person_id) FROM tenant.lead_list_persons WHERE org_id = 't051';
--- db_expected
p1,p4



=== TEST 5: the new connection is the one in the pool now, on another backend
--- init
my @pids = ::pooled_backends();
Test::More::is(scalar @pids, 1, "one pooled connection");
Test::More::isnt($pids[0], $::pid, "on another backend than the read-only one");
Test::More::is(::error_log_count(::sent(1, 0)), 3, "three connections made in all");
--- request eval: ::add_to_l("p5")
--- error_code: 200
--- response_body eval: $Leadlist::ONE_ADDED
--- no_error_log
[alert]
