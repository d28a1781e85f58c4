# Fault: clients that leave before their answer, with a pool of one
# connection per worker (leadlist_pg_max 1, leadlist_pg_queue 50
# timeout=5s), at three moments of a request:
#
#   A. waiting in the pool's queue: a superuser session holds an ACCESS
#      EXCLUSIVE lock on tenant.lead_lists, "holder" requests occupy the
#      one connection of each worker (their statements wait for the lock),
#      and 20 clients send a request and close after 200 ms.  They must
#      leave the queue: none of them is ever run (nothing stored), and the
#      holders are 200 once the lock is gone;
#   B. during the auth subrequest: the auth service (a Perl server here)
#      answers after 1 s; 20 clients close after 200 ms: noticed, and
#      none of their statements is ever run;
#   C. while their statement runs: the lock is held again, 20 clients
#      close after 200 ms; the one or two whose statements were running
#      (one per worker), and those sent behind them on the same connection
#      (leadlist_pg_pipeline: only while the running one is young, so on a
#      slow machine, under ASan), finish on the server and are stored, the
#      others were queued and are not.
#
# After each, nothing may be leaked: the next requests succeed at once
# (with one connection per worker, a busy connection left without an
# owner, or a waiter left queued, would make them wait 5 s and answer
# 503), nginx stops gracefully, and the error log has no [alert] ("open
# socket left", "zero size buf", ...).  Then the data check.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $org = 't060-disconnect';
my $name = 'disconnect';
fixture($org);

my $auth = slow_http_server(delay => 1,
                            answer => "X-User-Id: u\r\nX-Org-Id: $org\r\n");

# reuseport: connections go to either worker at random, so that holders
# can occupy both
my $ng = start_nginx(ports => 1, listen => 'reuseport', upstream => <<'_EOC_', servers => <<"_EOC_");
        leadlist_pg_keepalive 1;
        leadlist_pg_max 1;
        leadlist_pg_queue 50 timeout=5s;
        leadlist_pg_query_timeout 10s;
_EOC_
    server {
        listen 127.0.0.1:\$FAULTS_PORT0;

        location = /_auth_slow {
            internal;
            proxy_pass http://127.0.0.1:$auth->{port}/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
            leadlist_add_prospects leadlist_db;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth_slow;
        }

        location = /metrics {
            leadlist_metrics;
        }
    }
_EOC_

my %req = (port => $ng->{port}, org => $org, timeout => 3);
my %slow_req = (port => $ng->{ports}[0], org => $org, timeout => 4);
my @all;

my $closed_re = qr/client closed connection before the answer/;

sub lock_waiters {
    return scalar grep { $_->[1] eq 'active' && $_->[2] eq 'Lock' }
                  @{ pg_backends() };
}

# the next requests, right after a phase: all 200, none waits
sub next_requests {
    my ($phase) = @_;
    my $seq = sequential_requests(%req, ids => [map { "$phase-next-$_" }
                                                1 .. 6]);
    my $par = parallel_requests(%req, ids => [map { "$phase-next-p$_" }
                                              1 .. 10]);
    my @r = (@$seq, @$par);
    summarize("$name $phase (next requests)", \@r);
    check_answers("$name $phase: next requests", \@r, allow => [200],
                  max_latency => 1);
    push @all, @r;
}

my $warm = sequential_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
is(scalar(grep { ($_->{status} // 0) == 200 } @$warm), 4,
   "$name: warm-up requests answered 200");
push @all, @$warm;


# A. clients that leave while queued

my $lock = take_lock(30);
my (@holders, $n);
# (each new connection goes to either worker: 12 tries leave a chance of
# 1 in 2048 that the second worker gets none)
for my $i (1 .. 12) {
    my $w = lock_waiters();
    push @holders, spawn_requests(%req, timeout => 10, ids => ["A-hold-$i"]);
    wait_until(0.15, sub { lock_waiters() > $w });
    last if lock_waiters() >= 2;
}
my $waiting = lock_waiters();
diag("$name A: " . scalar(@holders) . " holder requests, $waiting"
     . " statements waiting for the lock");
is($waiting, 2, "$name A: each worker's one connection is busy");

my $closed0 = log_count($ng, $closed_re);
my $gone = parallel_requests(%req, close_after => 0.2,
                             ids => [map { "A-gone-$_" } 1 .. 20]);
wait_until(2, sub { log_count($ng, $closed_re) - $closed0 >= 20 });
my $closed = log_count($ng, $closed_re) - $closed0;
diag("$name A: $closed clients noticed as gone");
is($closed, 20, "$name A: each client that left was noticed");
is(lock_waiters(), 2, "$name A: none of them got a connection");

release_lock($lock);
my @held = map { @{ collect_requests($_) } } @holders;
summarize("$name A (holders)", \@held);
check_answers("$name A: holders", \@held, allow => [200]);
next_requests('A');
push @all, @held;
data_check("$name A", $org, [@all, @$gone], unknown_stored => 0);
push @all, @$gone;


# B. clients that leave during the auth subrequest

my $auth_before = count_lines($auth->{log});
my $aborted_re = qr/client prematurely closed connection/;
my $aborted0 = log_count($ng, $aborted_re);
$gone = parallel_requests(%slow_req, close_after => 0.2,
                          ids => [map { "B-gone-$_" } 1 .. 20]);
sleep 1.2;
my $auth_seen = count_lines($auth->{log}) - $auth_before;
my $aborted = log_count($ng, $aborted_re) - $aborted0;
diag("$name B: the auth service saw $auth_seen of the 20 requests, nginx"
     . " noticed $aborted clients gone during the auth subrequest");
is($aborted, 20, "$name B: each client that left was noticed");

my $slow_ok = parallel_requests(%slow_req, ids => [map { "B-slow-$_" }
                                                   1 .. 4]);
summarize("$name B (through the slow auth, after)", $slow_ok);
check_answers("$name B: through the slow auth", $slow_ok, allow => [200],
              max_latency => 2);
next_requests('B');
push @all, @$slow_ok;
data_check("$name B", $org, [@all, @$gone], unknown_stored => 0);
push @all, @$gone;


# C. clients that leave while their statement runs

my $pipelined_metric = 'leadlist_pool_statements_pipelined_total';

$lock = take_lock(30);
$closed0 = log_count($ng, $closed_re);
my $pipelined0 = pool_metric($ng, $pipelined_metric);
my $h = spawn_requests(%req, close_after => 0.3,
                       ids => [map { "C-gone-$_" } 1 .. 20]);
wait_until(0.25, sub { lock_waiters() >= 2 });
my $running = lock_waiters();
$gone = collect_requests($h);
wait_until(2, sub { log_count($ng, $closed_re) - $closed0 >= 20 });
$closed = log_count($ng, $closed_re) - $closed0;
my $still = lock_waiters();
my $behind = pool_metric($ng, $pipelined_metric) - $pipelined0;
diag("$name C: $running statements running for them, $behind sent behind"
     . " them, $closed clients noticed as gone, $still statements still"
     . " running after that");
cmp_ok($pipelined0, '>=', 0, "$name C: the pool's metrics are there");
cmp_ok($running, '>=', 1, "$name C: some statements were running");
is($closed, 20, "$name C: each client that left was noticed");
is($still, $running, "$name C: their statements go on");

release_lock($lock);
ok(wait_until(3, sub { !grep { $_->[1] ne 'idle' } @{ pg_backends() } }),
   "$name C: the statements finished on the server");
next_requests('C');
data_check("$name C", $org, [@all, @$gone],
           unknown_stored => $running + $behind);
push @all, @$gone;

summarize("$name (all)", \@all);

ok(stop_nginx($ng), "$name: nginx stops gracefully");
stop_child($auth->{pid});
log_check($ng, $name);

done_testing();
