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

# One statement per connection: a statement sent behind another one (the
# default leadlist_pg_pipeline 4) has its timeout run from its turn, so
# that behind a locked one it answers after two or three statement
# timeouts, as many as the limiter happened to line up (a fresh clone's run
# had one at 1.5 s).  t/055-pool-pipeline.t tests that line; here each
# answer must come within one statement timeout.
my $ng = start_nginx(upstream => <<'_EOC_');
        leadlist_pg_keepalive 8;
        leadlist_pg_max 8;
        leadlist_pg_pipeline 1;
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


# A conninfo whose own statement_timeout would not end a statement before
# the module's query timer (0, or not less than the query timeout) is
# refused by nginx -t: otherwise the module would answer 503 while the
# server went on and stored the request (SPEC 4: a timed-out query is
# cancelled on the server).  One below the query timeout is accepted.

$name = 'slow query, own statement_timeout';

for my $case (['0', 0], ['5s', 0], ['1min', 0], ['300ms', 1]) {
    my ($value, $ok) = @$case;
    my $rc = nginx_config_test(
        conninfo => "$ENV{TEST_NGINX_PG_CONNINFO}"
                    . " options='-c statement_timeout=$value'",
        upstream => "        leadlist_pg_query_timeout 1s;\n");
    if ($ok) {
        is($rc->{status}, 0, "$name: statement_timeout=$value is accepted");
    } else {
        isnt($rc->{status}, 0,
             "$name: statement_timeout=$value is refused by nginx -t");
        like($rc->{output}, qr/options set a statement_timeout/,
             "$name: the message names the problem");
    }
}

done_testing();
