# The adaptive concurrency limit (issue 11 point 2, README "Runtime"): a
# worker runs at most as many statements at once as its limit, between 1
# and leadlist_pg_max; the limit falls when statement time grows with the
# statements in flight (the database queues them), and
# leadlist_pg_adaptive off makes it leadlist_pg_max.  With statements
# pipelined behind busy connections (leadlist_pg_pipeline, 4 by default),
# the connections running one still stay within the limit.
#
# The database is made to run one statement at a time by a trigger on this
# organization's new memberships (t054 only; dropped in END): each such
# statement takes an advisory lock, then sleeps 10 ms, so that statement
# time grows with every statement in flight and the database's best
# concurrency is 1.
#
# Load: 8 clients, one request after the other each, one nginx worker
# with leadlist_pg_max 8; first one client alone, so that the limiter
# learns a statement's time alone.  What runs at once is read from
# pg_stat_activity (the worker's backends in a statement), sampled every
# 50 ms for 3 s by the server itself, after the limit had time to settle;
# medians are compared, no time is asserted.  Organization t054.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(sleep);
use LeadlistDbTest qw(su);

faults_init();

my $org = 't054';
fixture($org);

my $clients = 8;

org_trigger($org, 't054_serial', <<'_SQL_');
BEGIN
    PERFORM pg_advisory_xact_lock(54054);
    PERFORM pg_sleep(0.01);
    RETURN NULL;
END
_SQL_

# what runs at once, polled for $secs
sub samples {
    my ($app, $secs) = @_;
    my $n = int($secs / 0.05);
    my $rows = su(<<"_SQL_");
CREATE TEMP TABLE t054_samples (n int);
DO \$\$
BEGIN
    FOR i IN 1 .. $n LOOP
        PERFORM pg_stat_clear_snapshot();
        INSERT INTO t054_samples
            SELECT count(*) FROM pg_stat_activity
             WHERE application_name = '$app' AND state = 'active';
        PERFORM pg_sleep(0.05);
    END LOOP;
END
\$\$;
SELECT n FROM t054_samples;
_SQL_
    return map { $_->[0] } @$rows;
}

sub max { my @s = sort { $b <=> $a } @_; return @s ? $s[0] : 0 }

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s ? $s[$#s / 2] : 0;
}

sub show {
    my ($name, @s) = @_;
    diag("$name: statements at once, median " . median(@s) . ", max "
         . max(@s) . " of " . scalar(@s) . " samples");
}

sub start {
    my ($app, $more) = @_;
    return start_nginx(workers => 1, app => $app, metrics => 1,
                       upstream => ($more // '') . <<'_EOC_');
        leadlist_pg_keepalive 8;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=10s;
_EOC_
}

# the limit in force, as leadlist_metrics reports it
sub limit_gauge { return pool_metric($_[0], 'leadlist_pool_limit') }

# busy connections minus the limit, from $n scrapes 0.2 s apart: a
# connection that keeps taking statements behind its own (leadlist_pg_
# pipeline) must still go idle when the limit falls
sub over_limit {
    my ($ng, $n) = @_;
    my @over;
    for (1 .. $n) {
        my $text = metrics_text($ng);
        my $busy = pool_metric($ng, 'leadlist_pool_connections',
                               ',state="busy"', $text);
        my $limit = pool_metric($ng, 'leadlist_pool_limit', '', $text);

        # a gauge that is not there fails the check
        push @over, ($busy < 0 ? 99 : $busy) - ($limit < 0 ? 0 : $limit);
        sleep 0.2;
    }
    return @over;
}

sub load {
    my ($ng, $prefix, $n) = @_;
    return start_load(port => $ng->{port}, org => $org, timeout => 10,
                      clients => $n, duration => 60, prefix => $prefix);
}


# ------------------------------------------------------------------------
# adaptive (the default): the limit falls to what the database can run

{
    my $app = 't054-on';
    my $ng = start($app);

    # one client first: the limiter learns a statement's time alone
    my $warm = load($ng, 'warm', 1);
    sleep 2;
    my $recs = finish_load($warm);

    my $l = load($ng, 'on', $clients);
    sleep 5;
    my @over = over_limit($ng, 15);
    my @serial = samples($app, 3);
    show('adaptive, serial database', @serial);
    my $backends = app_pids($app);
    my $gauge = limit_gauge($ng);

    push @$recs, @{ finish_load($l) };
    summarize('adaptive', $recs);
    check_answers('adaptive', $recs, allow => [200]);

    cmp_ok(median(@serial), '<=', 4,
           'a database that runs one statement at a time: the limit fell'
           . " (at most 4 of the $clients at once, median)");
    cmp_ok(max(@serial), '>=', 1, 'and statements still ran (limit >= 1)');
    cmp_ok(max(@serial), '<=', 8, 'never more than leadlist_pg_max');
    ok($gauge >= 1 && $gauge < 8,
       "leadlist_pool_limit reports a limit below leadlist_pg_max ($gauge)");
    diag("busy connections - limit, per scrape: @over");
    cmp_ok(median(@over), '<=', 0,
           'the connections running a statement stay within the limit,'
           . ' statements pipelined behind them included (median)');
    is(app_pids($app), $backends, 'no connection opened or closed under load');

    log_check($ng, 'adaptive');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# leadlist_pg_adaptive off: as many at once as leadlist_pg_max.  With
# leadlist_pg_pipeline 1, so that every statement in flight has a backend
# of its own: pipelined, a statement goes behind a young one before the
# pool opens a connection, and what runs at once would be how many
# connections the warm-up happened to open (a full run saw 6 throughout).

{
    my $app = 't054-off';
    my $ng = start($app, "        leadlist_pg_adaptive off;\n"
                         . "        leadlist_pg_pipeline 1;\n");

    my $l = load($ng, 'off', $clients);
    sleep 2;
    my @serial = samples($app, 3);
    show('adaptive off, serial database', @serial);
    my $recs = finish_load($l);
    summarize('adaptive off', $recs);
    check_answers('adaptive off', $recs, allow => [200]);

    # the clients are Perl processes on the same 2 CPUs, out of the
    # database for a while between two requests: the median is read
    # against the adaptive bound above (4), and the max shows that nearly
    # all of them ran at once, as the limit on this database does not let
    # them

    cmp_ok(median(@serial), '>', 4,
           "adaptive off: the clients run at once (median of $clients)");
    cmp_ok(max(@serial), '>=', 7,
           "adaptive off: at some point nearly all $clients at once");
    cmp_ok(max(@serial), '<=', 8, 'and never more than leadlist_pg_max');
    is(limit_gauge($ng), 8, 'leadlist_pool_limit is leadlist_pg_max');

    log_check($ng, 'adaptive off');
    stop_nginx($ng);
}

done_testing();
