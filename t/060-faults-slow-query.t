# Fault: statements slower than leadlist_pg_query_timeout.
#
# leadlist_pg_query_timeout 1s, so the server's statement_timeout is 500ms.
# A superuser session holds LOCK TABLE tenant.lead_lists IN ACCESS
# EXCLUSIVE MODE while 6 requests arrive at once: each must answer 503 JSON
# (Retry-After: 1) after the statement timeout and before the query
# timeout ends; while the lock is still held, pg_stat_activity must show
# no nginx-leadlist backend in a statement (the server cancelled them) and
# none waiting for the lock.  After the lock is gone, requests succeed on
# the very connections whose statements were cancelled (their backends
# are still there: the pool kept them, clean), and the data check holds:
# nothing of a cancelled request is stored.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $org = 't060-slow';
my $name = 'slow query';
fixture($org);

my $ng = start_nginx(upstream => <<'_EOC_');
        leadlist_pg_keepalive 8;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=2s;
        leadlist_pg_query_timeout 1s;
_EOC_

my %req = (port => $ng->{port}, org => $org, timeout => 5);

# warm: connections and prepared statements exist in both workers
my $warm = parallel_requests(%req, ids => [map { "warm-$_" } 1 .. 8]);
is(scalar(grep { ($_->{status} // 0) == 200 } @$warm), 8,
   "$name: warm-up requests answered 200");
my @before = map { $_->[0] } @{ pg_backends() };
diag("$name: " . scalar(@before) . " backends after the warm-up");

my $lock = take_lock(20);
my $t_lock = time;

my $slow = parallel_requests(%req, ids => [map { "slow-$_" } 1 .. 6]);
my $slow_sum = summarize("$name (sent while the lock was held)", $slow);
check_answers("$name: locked", $slow, allow => [503], max_latency => 1.2);
my @early = grep { defined $_->{status} && $_->{t1} - $_->{t0} < 0.45 }
            @$slow;
is(scalar @early, 0, "$name: no 503 before the statement timeout (500ms)");

# the lock is still held: nothing of the module runs or waits on the server
my $act = pg_backends();
my @busy = grep { $_->[1] ne 'idle' } @$act;
diag(sprintf "%s: %.2fs after the lock was taken, with the lock still held:"
     . " %d nginx-leadlist backends, %d not idle (%s)", $name,
     time - $t_lock, scalar @$act, scalar @busy,
     join(', ', map { "$_->[0] $_->[1] $_->[2]" } @busy) || '-');
is(scalar @busy, 0, "$name: no nginx-leadlist statement left on the server");

my $cancelled = log_count($ng, qr/canceling statement due to statement timeout/);
my $timedout = log_count($ng, qr/query timed out/);
diag("$name: error log: $cancelled statements cancelled by the server's"
     . " statement_timeout, $timedout by the module's own query timer");
is($cancelled, 6, "$name: the server cancelled each slow statement");

release_lock($lock);

my @kept = map { $_->[0] } @{ pg_backends() };

# the connections go on serving, one after the other and at once
my $after = sequential_requests(%req, ids => [map { "after-$_" } 1 .. 10]);
my $after_p = parallel_requests(%req, ids => [map { "after-p$_" } 1 .. 8]);
summarize("$name (after the lock)", [@$after, @$after_p]);
check_answers("$name: after", [@$after, @$after_p], allow => [200]);

my %now = map { $_->[0] => 1 } @{ pg_backends() };
my @gone = grep { !$now{$_} } @kept;
diag("$name: " . scalar(@kept) . " backends after the timeouts, "
     . scalar(@gone) . " of them closed since");
is(scalar @gone, 0,
   "$name: the connections of cancelled statements were kept and reused");

data_check($name, $org, [@$warm, @$slow, @$after, @$after_p]);

ok(stop_nginx($ng), "$name: nginx stops gracefully");
log_check($ng, $name);


# The same when the server's statement_timeout does not end the statement
# first (a conninfo that sets its own, here 0): the module's own query
# timer answers 503 after 1 s.  SPEC 4 says "a timed-out query is
# cancelled on the server", but the module closes the connection without a
# CancelRequest, so a backend waiting for the lock goes on, and once the
# lock is gone it runs the statement and commits it: the 503 was stored.
# Known (see the report of this test); TODO until the module cancels.

$name = 'slow query, own statement_timeout';
my $org2 = 't060-slow-own';
fixture($org2);

my $ng2 = start_nginx(
    conninfo => "$ENV{TEST_NGINX_PG_CONNINFO}"
                . " options='-c statement_timeout=0'",
    upstream => <<'_EOC_');
        leadlist_pg_keepalive 8;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=2s;
        leadlist_pg_query_timeout 1s;
_EOC_

%req = (port => $ng2->{port}, org => $org2, timeout => 5);

my $warm2 = parallel_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
is(scalar(grep { ($_->{status} // 0) == 200 } @$warm2), 4,
   "$name: warm-up requests answered 200");

$lock = take_lock(20);
my $slow2 = parallel_requests(%req, ids => [map { "slow-$_" } 1 .. 3]);
summarize("$name (sent while the lock was held)", $slow2);
check_answers("$name: locked", $slow2, allow => [503], max_latency => 1.5);

$act = pg_backends();
@busy = grep { $_->[1] ne 'idle' } @$act;
$timedout = log_count($ng2, qr/query timed out/);
diag(sprintf "%s: the module's query timer fired %d times; with the lock"
     . " still held: %d nginx-leadlist backends, %d not idle (%s)", $name,
     $timedout, scalar @$act, scalar @busy,
     join(', ', map { "$_->[0] $_->[1] $_->[2]" } @busy) || '-');
is($timedout, 3, "$name: the module's query timer answered each");

my $todo = 'the module does not cancel a statement on its own query timeout';
TODO: {
    local $TODO = $todo;
    is(scalar @busy, 0,
       "$name: no nginx-leadlist statement left on the server");
}
release_lock($lock);
my $after2 = sequential_requests(%req, ids => [map { "after-$_" } 1 .. 4]);
sleep 0.2;
data_check($name, $org2, [@$warm2, @$slow2, @$after2], todo_leaked => $todo);
check_answers("$name: after", $after2, allow => [200]);

ok(stop_nginx($ng2), "$name: nginx stops gracefully");
log_check($ng2, $name);

done_testing();
