# Fault: nginx -s reload under load.
#
# 8 clients send one prospect each per request for 5 s while the master
# gets SIGHUP three times (what nginx -s reload sends).  Every request
# must be answered 200: a reload drops nothing.  The old workers must exit
# within a few seconds (their pids gone), and the module's backends in
# pg_stat_activity must come back to at most workers x
# leadlist_pg_keepalive (the idle ones beyond it close after
# leadlist_pg_idle_timeout, 1s here): the old workers closed theirs.  Then
# the data check.
#
# Twice: with a pool large enough for the load (leadlist_pg_max 16), and
# with a pool of 2 connections per worker while a lock on
# tenant.lead_lists, taken 200 ms before each reload and released 300 ms
# after it, holds the statements, so that requests are waiting in the
# pool's queue of the old workers when the reload comes: an exiting
# worker must still serve them.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $org = 't060-reload';
my $name = 'reload';
fixture($org);

sub run_phase {
    my ($name, $max, $keepalive, $lock) = @_;
    my $workers = 2;

    my $ng = start_nginx(upstream => <<"_EOC_");
        leadlist_pg_keepalive $keepalive;
        leadlist_pg_max $max;
        leadlist_pg_queue 64 timeout=2s;
        leadlist_pg_query_timeout 3s;
        leadlist_pg_idle_timeout 1s;
_EOC_

    my %req = (port => $ng->{port}, org => $org, timeout => 8);

    my $warm = sequential_requests(%req, ids => [map { "$max-warm-$_" }
                                                 1 .. 4]);
    is(scalar(grep { ($_->{status} // 0) == 200 } @$warm), 4,
       "$name: warm-up requests answered 200");

    my $load = start_load(%req, clients => 8, pause => 0.005,
                          prefix => "$max-h", duration => 20);
    my $t0 = time;
    my (%old, @gens);
    for my $at (1, 2.5, 4) {
        my $wait = $t0 + $at - time;
        sleep $wait if $wait > 0;
        my $l = $lock ? take_lock(5) : undef;
        sleep 0.2 if $l;
        my @w = worker_pids($ng);
        $old{$_} = 1 for @w;
        push @gens, "@w";
        nginx_reload($ng);
        if ($l) {
            sleep 0.3;
            release_lock($l);
        }
    }
    my $wait = $t0 + 5 - time;
    sleep $wait if $wait > 0;
    my $recs = finish_load($load);
    my $t_end = time;

    my @all = (@$warm, @$recs);
    summarize("$name (all)", \@all);
    check_answers($name, \@all, allow => [200], max_latency => 2 + 3 + 0.5);

    # the workers of each generation before a reload must go away
    my $gone = wait_until(10, sub { !grep { kill 0, $_ } keys %old });
    my @now = worker_pids($ng);
    diag(sprintf "%s: workers before each SIGHUP: %s; now: %s; the old"
         . " ones gone %s", $name, join(' | ', @gens), "@now",
         $gone ? sprintf('%.2fs after the load ended', time - $t_end)
               : 'NOT within 10 s');
    ok($gone, "$name: old workers exited");
    is(scalar @now, $workers, "$name: $workers workers now");
    is(scalar(grep { $old{$_} } @now), 0, "$name: all of them new");

    my $reloads = log_count($ng, qr/signal 1 \(SIGHUP\) received/);
    is($reloads, 3, "$name: nginx saw 3 reloads");

    # backends: at most workers x keepalive once the old workers are gone
    my $bound = $workers * $keepalive;
    my @counts;
    my $settled = wait_until(5, sub {
        push @counts, scalar @{ pg_backends() };
        $counts[-1] <= $bound;
    });
    diag("$name: nginx-leadlist backends after the load: @counts"
         . " (at most $bound expected)");
    ok($settled, "$name: at most $bound backends left");

    my $final = sequential_requests(%req, ids => [map { "$max-final-$_" }
                                                  1 .. 4]);
    check_answers("$name: final", $final, allow => [200]);
    push @all, @$final;

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);

    return \@all;
}

my @all;
push @all, @{ run_phase("$name, leadlist_pg_max 16", 16, 4) };
push @all, @{ run_phase("$name, leadlist_pg_max 2, requests queued", 2, 2,
                        'lock') };

data_check($name, $org, \@all);

done_testing();
