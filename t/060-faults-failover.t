# Fault: failover to a synchronous standby (SPEC 4 and 6, issue 14).
# About 40 s on a quiet machine; needs no root (util/pg.sh runs the
# servers as the caller).
#
# The test builds replicated clusters of its own (util/pg.sh start, then
# util/pg.sh standby: pg_basebackup -R, synchronous replication), so that
# the cluster the other tests share is never crashed, and puts both servers
# of a pair in one multi-host conninfo.  Each case runs nginx under load
# (6 clients, one prospect of its own per request) and breaks the pair:
#
#   1. standby first, primary alive: "host=S,P target_session_attrs=
#      read-write".  Every answer is 200; libpq reaches S first and leaves
#      it: no statement ever runs on S, no connection stays on it.
#   2. crash: "host=P,S target_session_attrs=read-write"; P crashes
#      (pg_ctl stop -m immediate), S is promoted 1 s later.
#   3. no target_session_attrs: "host=S,S2" (S2 a new standby of S, now
#      the primary); S crashes, so the connects land on the read-only S2
#      until it is promoted 1 s later.  Every statement there fails with
#      SQLSTATE 25006.
#   4. a primary demoted under a live pool: "host=S2,S3
#      target_session_attrs=read-write" (S3 a standby of S2); with the
#      pool's connections on S2, S2 turns read-only
#      (default_transaction_read_only, a reload), and S3 is promoted 1 s
#      later.
#   5. a node that drops every packet listed before S3: one
#      leadlist_pg_server line per node gets past it (every request 200);
#      one multi-host line does not yet (a TODO, see the case).
#
# In every case: no 500, every answer 200 or a 503 JSON with Retry-After
# (SPEC 6: "503 ..., never 500"), every request answered 200 is stored on
# the server that is the primary at the end, and no worker crashes.  After
# a promotion: 200s again within 2 s of it, and every request sent 2 s or
# more after it answered 200.  In cases 3 and 4, a connection that met a
# read-only server is closed (SPEC 4): no statement is sent on it after
# its first 25006 came back, so no backend of that server reports 25006
# more often than the statements a connection carries at once (its first,
# and those already sent behind it: leadlist_pg_pipeline, 4 by default).  A failed request that was under way when its server
# crashed may have been committed (its commit reached the synchronous
# standby, the answer did not come back): that is counted apart, not a
# failure; what makes its retry safe is an Idempotency-Key (SPEC 1.6).

use strict;
use warnings;
use lib 't/inc';
use Faults;
use LeadlistDbTest qw(su);
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $bindir = $ENV{PG_BINDIR} // '/usr/lib/postgresql/15/bin';
plan skip_all => "no pg_basebackup in $bindir"
    unless -x "$bindir/pg_basebackup";

# a wait, a connect and a statement are each bounded
my ($queue_timeout, $connect_timeout, $query_timeout) = (1, 1, 2);
my $max_latency = $queue_timeout + $connect_timeout + $query_timeout + 0.5;

# how long the pair has no writable server before the promotion
my $gap = 1;

my $readonly =
    qr/ERROR:\s+(?:25006:\s+)?cannot execute \S+ in a read-only transaction/;
my $rw = 'read-write';


# $queue: the wait queue's timeout in seconds, $queue_timeout unless the
# case is not about timing
sub nginx_for {
    my ($conninfo, $more, $queue) = @_;
    $queue //= $queue_timeout;
    return start_nginx(conninfo => $conninfo,
                       upstream => ($more // '') . <<"_EOC_");
        leadlist_pg_keepalive 4;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=${queue}s;
        leadlist_pg_connect_timeout ${connect_timeout}s;
        leadlist_pg_query_timeout ${query_timeout}s;
_EOC_
}


sub is_200 { ($_[0]{status} // 0) == 200 }


# the statements one connection carries at once (leadlist_pg_pipeline's
# default: nginx_for sets none)
my $pipeline = 4;

# Every backend of $c that met a read-only transaction (in its log from
# the offset $mark on) met it at most $pipeline times: the module closed
# its connection after the first 25006, and only the statements already
# sent behind that one met it too (SPEC 4).
sub closed_after_25006 {
    my ($name, $c, $mark) = @_;
    my $lines = pg_server_log($c, $readonly, $mark);
    my %per_pid;
    $per_pid{$_}++ for map { /\[(\d+)\]/ ? $1 : () } @$lines;
    my @twice = grep { $per_pid{$_} > $pipeline } sort keys %per_pid;
    diag(sprintf "%s: %d statements failed read-only (25006) on %s, in %d"
         . " backends", $name, scalar @$lines, $c->{name},
         scalar keys %per_pid);
    ok(scalar keys %per_pid,
       "$name: statements met the read-only $c->{name} (the case tests"
       . " what it says)");
    is(scalar @twice, 0, "$name: no connection to $c->{name} was used"
       . " again after a 25006 (it was closed; at most $pipeline 25006s"
       . " per backend, those sent before the first came back)")
        or diag("backends with more than $pipeline 25006s: "
                . join ', ', map { "$_ ($per_pid{$_})" } @twice);
}


# The common part of cases 2 to 4: load, $break->() (returns when the
# primary is gone), $gap s without a writable server, the promotion of
# $new, load again; then the answers, the recovery and the data.
sub failover {
    my (%o) = @_;
    my $name = $o{name};
    my $org = "t060-failover-$o{tag}";
    pg_on($o{primary}, sub { fixture($org) });

    my $ng = nginx_for($o{conninfo});
    my %req = (port => $ng->{port}, org => $org, timeout => 8);

    my $warm = sequential_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
    is(scalar(grep { is_200($_) } @$warm), 4,
       "$name: warm-up requests answered 200");

    my $load = start_load(%req, clients => 6, pause => 0.005,
                          prefix => $o{tag}, duration => 25);
    sleep 1.5;

    my $t_break = time;
    ok($o{break}->(), "$name: $o{what}");
    my $t_broken = time;

    sleep $gap;

    my $t_promote = time;
    ok(pg_promote($o{new}), "$name: $o{new}{name} promoted");
    my $t_promoted = time;

    sleep 3.5;
    my $recs = finish_load($load);
    my $final = sequential_requests(%req, ids => [map { "final-$_" } 1 .. 4]);

    diag(sprintf "%s: %s took %.3fs; no writable server for %.3fs; the"
         . " promotion took %.3fs", $name, $o{what}, $t_broken - $t_break,
         $t_promote - $t_broken, $t_promoted - $t_promote);

    my @all = (@$warm, @$recs, @$final);
    my $sum = summarize("$name (all)", \@all);
    is($sum->{status}{500} // 0, 0, "$name: no 500");
    check_answers($name, \@all, max_latency => $max_latency);

    my @gap = grep { $_->{t0} >= $t_broken && $_->{t1} <= $t_promote } @$recs;
    summarize("$name (sent and answered without a writable server)", \@gap);
    ok(scalar(grep { ($_->{status} // 0) == 503 } @gap),
       "$name: 503s while no server was writable");

    # recovery: the first 200 sent after the break, against the moment
    # the promotion was done
    my ($first) = sort { $a->{t1} <=> $b->{t1} }
                  grep { is_200($_) && $_->{t0} >= $t_broken } @$recs;
    ok($first, "$name: a 200 after the promotion");
    if ($first) {
        my $rec = $first->{t1} - $t_promoted;
        diag(sprintf "%s: first 200 %.3fs after the promotion was done"
             . " (%.3fs after pg_ctl promote was called)", $name, $rec,
             $first->{t1} - $t_promote);
        cmp_ok($rec, '<=', 2, "$name: 200s again within 2 s of the"
               . " promotion");
    }

    my @late = grep { $_->{t0} >= $t_promoted + 2 } @$recs, @$final;
    summarize("$name (sent 2 s or more after the promotion)", \@late);
    ok(scalar @late, "$name: requests sent 2 s after the promotion");
    is(scalar(grep { !is_200($_) } @late), 0,
       "$name: all of them answered 200");

    # on the new primary: a request answered 200 is never lost
    pg_on($o{new}, sub {
        data_check($name, $org, \@all,
                   $o{crash} ? (ambiguous => sub {
                       $_[0]{t0} <= $t_broken && $_[0]{t1} >= $t_break
                   }) : ());
    });

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
    return $sum;
}


my $p = pg_cluster('p');
my $s = pg_standby('s', $p);
diag("primary p on port $p->{port}, synchronous standby s on $s->{port}");

my $sync = pg_on($p, sub {
    su("SELECT sync_state FROM pg_stat_replication;")
});
is_deeply($sync, [['sync']], 'p replicates to s synchronously');


subtest 'standby listed first, primary alive' => sub {
    my $name = 'standby first';
    my $org = 't060-failover-first';
    pg_on($p, sub { fixture($org) });

    # the connections libpq opens on s, and how they end
    pg_on($s, sub {
        su("ALTER SYSTEM SET log_connections = on;\n"
           . "ALTER SYSTEM SET log_disconnections = on;\n"
           . "SELECT pg_reload_conf();");
    });

    # every request must reach p: the first ones wait for connects that
    # try s first, which a loaded machine (ASan, valgrind) makes slow
    my $queue = 5;
    my $ng = nginx_for(pg_multi_conninfo([$s, $p],
                                         target_session_attrs => $rw),
                       undef, $queue);
    my %req = (port => $ng->{port}, org => $org, timeout => 12);

    my $load = start_load(%req, clients => 6, pause => 0.005,
                          prefix => 'f', duration => 3);
    sleep 3;
    my $recs = finish_load($load);
    my $final = parallel_requests(%req, ids => [map { "final-$_" } 1 .. 8]);
    my @all = (@$recs, @$final);

    summarize($name, \@all);
    check_answers($name, \@all, allow => [200],
                  max_latency => $max_latency - $queue_timeout + $queue);
    pg_on($p, sub { data_check($name, $org, \@all) });

    # nothing ran on s; every connection to it ended (a backend logs its
    # end as it exits, a moment after libpq has left)
    my $app = qr/leadlist_app\@leadlist/;
    my ($auth, $gone);
    wait_until(5, sub {
        $auth = pg_server_log($s, qr/${app}.*connection authorized/);
        $gone = pg_server_log($s, qr/${app}.*disconnection: session time/);
        @$auth == @$gone;
    });
    my $err = pg_server_log($s, qr/${app}.*(?:ERROR|FATAL)/);
    my $longest = 0;
    for (@$gone) {
        $longest = $1 * 3600 + $2 * 60 + $3
            if /session time: (\d+):(\d+):([\d.]+)/
               && $1 * 3600 + $2 * 60 + $3 > $longest;
    }
    diag(sprintf "%s: %d connections reached s and left it (the longest"
         . " stayed %.3fs)", $name, scalar @$gone, $longest);
    ok(scalar @$auth, "$name: libpq tried s first");
    is(scalar @$gone, scalar @$auth, "$name: every connection to s ended");
    is(scalar @$err, 0, "$name: no statement failed on s")
        or diag(join '', @$err[0 .. ($#$err < 4 ? $#$err : 4)]);

    my $left;
    wait_until(5, sub {
        $left = pg_on($s, sub {
            su("SELECT count(*) FROM pg_stat_activity"
               . " WHERE application_name = 'nginx-leadlist';")->[0][0];
        });
        $left == 0;
    });
    my $pooled = pg_on($p, sub {
        su("SELECT count(*) FROM pg_stat_activity"
           . " WHERE application_name = 'nginx-leadlist';")->[0][0];
    });
    diag("$name: the pool holds $pooled connections to p, $left to s");
    is($left, 0, "$name: no pooled connection on s");
    cmp_ok($pooled, '>', 0, "$name: the pool's connections are on p");

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
};


subtest 'primary crash, standby promoted' => sub {
    failover(name => 'crash', tag => 'crash', primary => $p, new => $s,
             conninfo => pg_multi_conninfo([$p, $s],
                                           target_session_attrs => $rw),
             what => 'p crashed (pg_ctl stop -m immediate)', crash => 1,
             break => sub { pg_crash($p) });
};


# s is the primary now; a new synchronous standby of it
my $s2 = pg_standby('s2', $s);

subtest 'no target_session_attrs' => sub {
    my $mark = pg_server_log_mark($s2);
    failover(name => 'no tsa', tag => 'notsa', primary => $s, new => $s2,
             conninfo => pg_multi_conninfo([$s, $s2]),
             what => 's crashed (pg_ctl stop -m immediate)', crash => 1,
             break => sub { pg_crash($s) });
    closed_after_25006('no tsa', $s2, $mark);
};


# s2 is the primary now; a new synchronous standby of it
my $s3 = pg_standby('s3', $s2);

subtest 'primary demoted under a live pool' => sub {
    my $mark = pg_server_log_mark($s2);
    failover(name => 'demoted', tag => 'demoted', primary => $s2,
             new => $s3,
             conninfo => pg_multi_conninfo([$s2, $s3],
                                           target_session_attrs => $rw),
             what => 's2 turned read-only',
             break => sub {
                 pg_on($s2, sub {
                     su("ALTER SYSTEM SET default_transaction_read_only"
                        . " = on;\nSELECT pg_reload_conf();");
                 });
             });
    closed_after_25006('demoted', $s2, $mark);
};


# s3 is the primary now; a node that drops every packet (a powered-off
# machine, a partition) listed before it.  libpq's connect_timeout moves on
# to the next host only in a blocking connect; the module's own connect
# timeout ends the whole attempt, so a multi-host line never gets past a
# silent first host.  One leadlist_pg_server line per node does: a server
# that fails to connect is left for a backoff, the others serve.
our $TODO;

subtest 'a node that does not answer, listed first' => sub {
    my $name = 'silent node';
    my $silent = silent_port();
    my $dead = { name => 'silent', port => $silent->{port},
                 app_pw => $s3->{app_pw} };
    my %tsa = (target_session_attrs => $rw);

    my $org = 't060-failover-lines';
    pg_on($s3, sub { fixture($org) });
    my $ng = nginx_for(pg_multi_conninfo([$dead], %tsa),
                       '        leadlist_pg_server "'
                       . pg_multi_conninfo([$s3], %tsa) . "\";\n");
    my %req = (port => $ng->{port}, org => $org, timeout => 8);

    my $warm = sequential_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
    my $load = start_load(%req, clients => 6, pause => 0.005,
                          prefix => 'lines', duration => 2);
    sleep 2;
    my $recs = finish_load($load);
    my @all = (@$warm, @$recs);
    summarize("$name, a line per node (after the warm-up)", $recs);
    check_answers("$name, a line per node", \@all,
                  max_latency => $max_latency);
    is(scalar(grep { !is_200($_) } @$recs), 0,
       "$name, a line per node: every request after the warm-up answered"
       . " 200");
    pg_on($s3, sub { data_check("$name, a line per node", $org, \@all) });
    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, "$name, a line per node");

    $org = 't060-failover-multi';
    pg_on($s3, sub { fixture($org) });
    $ng = nginx_for(pg_multi_conninfo([$dead, $s3], %tsa));
    %req = (port => $ng->{port}, org => $org, timeout => 8);
    $recs = parallel_requests(%req, ids => [map { "multi-$_" } 1 .. 6]);
    summarize("$name, multi-host", $recs);
    check_answers("$name, multi-host", $recs, max_latency => $max_latency);
    {
        local $TODO = 'a multi-host conninfo does not get past a first'
            . ' host that does not answer (the connect timeout ends the'
            . ' whole attempt)';
        is(scalar(grep { is_200($_) } @$recs), scalar @$recs,
           "$name, multi-host: every request answered 200");
    }
    pg_on($s3, sub { data_check("$name, multi-host", $org, $recs) });
    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, "$name, multi-host");
};

done_testing();
