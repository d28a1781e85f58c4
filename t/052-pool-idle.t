# The pool never churns (SPEC 4): connections beyond leadlist_pg_keepalive
# idle ones are closed only after leadlist_pg_idle_timeout, never as they
# are released; the most recently used idle connection is taken first;
# leadlist_pg_max is the hard cap; keepalive_time and keepalive_requests
# still retire a connection, and a broken idle one is replaced.
#
# Plain Test::More with t/inc/Faults.pm: one nginx worker per case, so
# that the pool's counts are the server's; each case's connections carry
# an application_name of their own and are counted in pg_stat_activity.
# The bursts run with leadlist_pg_adaptive off, so that as many statements
# as leadlist_pg_max run at once (t/054-pool-limit.t tests the limit).
# Requests are held on the server by a superuser's ACCESS EXCLUSIVE lock
# on tenant.lead_lists, so that a burst really holds one connection per
# request.  No timing is asserted: waits are generous polls.  Organization
# t051.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(sleep);
use LeadlistDbTest qw(su);

faults_init();

my $org = 't051';
fixture($org);


# the backends of one case: [pid, state, wait_event_type, query_start]
sub backends {
    my ($app) = @_;
    return su("SELECT pid, state, coalesce(wait_event_type, ''),"
              . " coalesce(extract(epoch FROM query_start)::text, '')"
              . " FROM pg_stat_activity WHERE application_name = '$app'"
              . " ORDER BY pid;");
}

sub pids { return join ',', map { $_->[0] } @{ backends(@_) } }

sub start {
    my ($app, $upstream) = @_;
    return start_nginx(workers => 1, upstream => $upstream,
                       conninfo => "$ENV{TEST_NGINX_PG_CONNINFO}"
                                   . " application_name=$app");
}

sub req { my ($ng) = @_; return (port => $ng->{port}, org => $org) }


# $n requests at once, held on the lock until $n statements wait there
# (or, beyond leadlist_pg_max, as many as there are connections); returns
# the backends seen while they were held.
sub burst {
    my ($ng, $app, $name, $n, $held) = @_;
    $held //= $n;

    my $lock = take_lock(60);
    my $h = spawn_requests(req($ng), timeout => 40,
                           ids => [map { "$name-$_" } 1 .. $n]);

    my $waiting = sub {
        scalar grep { $_->[1] eq 'active' && $_->[2] eq 'Lock' }
                    @{ backends($app) };
    };
    ok(wait_until(30, sub { $waiting->() >= $held }),
       "$name: $held statements wait on the lock at once");

    # whatever else was to connect has had its chance
    sleep 0.5;
    my $during = backends($app);

    release_lock($lock);
    my $recs = collect_requests($h);
    check_answers($name, $recs, allow => [200]);

    ok(wait_until(30, sub {
        !grep { $_->[1] ne 'idle' } @{ backends($app) };
    }), "$name: every connection back to idle");

    return $during;
}


# The backend that ran the latest statement.
sub last_pid {
    my ($app) = @_;
    my @b = sort { $b->[3] <=> $a->[3] } grep { length $_->[3] }
            @{ backends($app) };
    return @b ? $b[0][0] : 0;
}


# Requests one after the other; the backend pid of each.
sub sequence {
    my ($ng, $app, $name, $n) = @_;
    my @pids;
    for my $i (1 .. $n) {
        my $r = sequential_requests(req($ng), timeout => 10,
                                    ids => ["$name-$i"]);
        check_answers("$name $i", $r, allow => [200]);
        push @pids, last_pid($app);
    }
    return @pids;
}


# ------------------------------------------------------------------------
# the directive, and the one it replaces

{
    my $t = nginx_config_test(upstream => "leadlist_pg_idle_timeout 1m;");
    is($t->{status}, 0, 'leadlist_pg_idle_timeout 1m passes nginx -t')
        or diag($t->{output});

    $t = nginx_config_test(upstream => "leadlist_pg_idle_timeout soon;");
    isnt($t->{status}, 0, 'leadlist_pg_idle_timeout soon fails nginx -t');
    like($t->{output}, qr/"leadlist_pg_idle_timeout" directive invalid/,
         'naming the directive');

    $t = nginx_config_test(upstream => "leadlist_pg_keepalive_timeout 30s;");
    is($t->{status}, 0, 'leadlist_pg_keepalive_timeout still passes');
    my $warn = '[warn] the "leadlist_pg_keepalive_timeout" directive is'
             . ' deprecated, use the "leadlist_pg_idle_timeout" directive';
    like($t->{output}, qr/\Q$warn\E/,
         'with a warning that names its replacement');
}


# ------------------------------------------------------------------------
# keepalive 2, max 8, idle timeout far away: nothing closes

{
    my $app = 't051-keep';
    my $ng = start($app, <<'_EOC_');
        leadlist_pg_keepalive 2;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=30s;
        leadlist_pg_idle_timeout 10m;
        leadlist_pg_adaptive off;
_EOC_

    my $first = burst($ng, $app, 'burst-1', 8);
    is(scalar @$first, 8, 'burst-1: 8 connections open for 8 requests');
    my $p1 = join ',', map { $_->[0] } @$first;

    # a pool that closed its surplus on release would be down to 2 here
    sleep 1;
    is(pids($app), $p1, 'after burst-1: all 8 stay open, idle');

    # more requests than leadlist_pg_max: 8 at most, the same 8
    my $second = burst($ng, $app, 'burst-2', 12, 8);
    is(join(',', map { $_->[0] } @$second), $p1,
       'burst-2 (12 requests): the same 8 backends serve it, none more');
    is(pids($app), $p1, 'after burst-2: still those 8');

    # the most recently used idle connection is taken first: one after
    # the other, every request runs on one backend (a FIFO or LRU pool
    # would go round all 8)
    my @seq = sequence($ng, $app, 'mru', 6);
    my %seen = map { $_ => 1 } @seq;
    is(scalar keys %seen, 1, "one after the other: all on one backend (@seq)");

    # steady load above keepalive: no connect after the warm-up
    my $load = start_load(req($ng), clients => 6, duration => 3,
                          timeout => 10, prefix => 'load');
    sleep 3;
    my $recs = finish_load($load);
    summarize('steady load, 6 clients, keepalive 2', $recs);
    check_answers('steady load', $recs, allow => [200]);
    cmp_ok(scalar @$recs, '>=', 12, 'steady load: requests were served');
    is(pids($app), $p1, 'steady load: no backend closed, none opened');

    log_check($ng, 'keep');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# a short idle timeout: the surplus goes, the keepalive ones stay

{
    my $app = 't051-idle';
    my $ng = start($app, <<'_EOC_');
        leadlist_pg_keepalive 2;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=30s;
        leadlist_pg_idle_timeout 2s;
        leadlist_pg_adaptive off;
_EOC_

    my $during = burst($ng, $app, 'idle-burst', 8);
    my %p = map { $_->[0] => 1 } @$during;
    is(scalar keys %p, 8, 'idle-burst: 8 connections');

    ok(wait_until(30, sub { @{ backends($app) } == 2 }),
       'after the idle timeout: 2 connections remain');
    my @left = map { $_->[0] } @{ backends($app) };
    is(scalar(grep { $p{$_} } @left), 2, 'they are 2 of the burst\'s');

    # the keepalive ones are kept as long as they stay healthy
    sleep 5;
    is(pids($app), join(',', @left),
       'two idle timeouts later: the same 2 remain');

    # a broken idle connection is noticed and replaced
    su("SELECT pg_terminate_backend($left[0]);");
    ok(wait_until(10, sub {
        log_count($ng, qr/terminating connection due to administrator/);
    }), 'the module noticed the terminated backend');
    my @seq = sequence($ng, $app, 'after-kill', 3);
    ok(!grep({ $_ == $left[0] } @seq), 'no request ran on the dead one');
    cmp_ok(scalar @{ backends($app) }, '<=', 2, 'still 2 at most');

    # a worker that wakes late finds the server's last words and the EOF
    # after them at once (epoll reports both): it still reads and logs
    # why the server closed, before it closes its end
    my $why = qr/terminating connection due to administrator/;
    my $before = log_count($ng, $why);
    my ($victim) = map { $_->[0] } @{ backends($app) };
    my @workers = worker_pids($ng);
    kill 'STOP', @workers;
    su("SELECT pg_terminate_backend($victim);");
    wait_until(10, sub { !grep { $_->[0] == $victim } @{ backends($app) } });
    sleep 0.2;
    kill 'CONT', @workers;
    ok(wait_until(10, sub { log_count($ng, $why) > $before }),
       'a worker that wakes after the EOF still logs why the server closed');
    my @seq2 = sequence($ng, $app, 'after-late-kill', 2);
    ok(!grep({ $_ == $victim } @seq2), 'and no request ran on that one');

    log_check($ng, 'idle');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# keepalive_requests and keepalive_time still retire connections

{
    my $app = 't051-requests';
    my $ng = start($app, <<'_EOC_');
        leadlist_pg_keepalive 2;
        leadlist_pg_keepalive_requests 3;
_EOC_

    # a connection retired at release is gone from pg_stat_activity a
    # moment later: after each request, wait for the count it must reach
    my @expect = (1, 1, 0, 1, 1, 0, 1);
    my @seen;
    for my $i (0 .. $#expect) {
        sequential_requests(req($ng), timeout => 10, ids => ["retire-$i"]);
        ok(wait_until(10, sub { @{ backends($app) } == $expect[$i] }),
           "keepalive_requests 3: after request " . ($i + 1) . ", "
           . "$expect[$i] connection(s)");
        push @seen, pids($app);
    }
    is($seen[0], $seen[1], 'the first two on one backend');
    isnt($seen[3], $seen[0], 'the fourth on a new one');
    is($seen[4], $seen[3], 'the fifth on that one too');
    isnt($seen[6], $seen[3], 'the seventh on a third');

    log_check($ng, 'requests');
    stop_nginx($ng);
}

{
    my $app = 't051-time';
    my $ng = start($app, <<'_EOC_');
        leadlist_pg_keepalive 2;
        leadlist_pg_keepalive_time 2s;
_EOC_

    sequence($ng, $app, 'aged', 1);
    is(scalar @{ backends($app) }, 1, 'keepalive_time 2s: one connection');
    ok(wait_until(30, sub { @{ backends($app) } == 0 }),
       'it is closed once older than keepalive_time, though idle and kept');

    log_check($ng, 'time');
    stop_nginx($ng);
}

done_testing();
