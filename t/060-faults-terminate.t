# Fault: pg_terminate_backend() on the module's connections under load.
#
# 8 clients send one prospect each per request while a superuser session,
# every 100 ms for 3 s, terminates every backend with application_name
# nginx-leadlist.  Every other round first takes an ACCESS EXCLUSIVE lock
# on tenant.lead_lists for 50 ms, so that statements pile up and busy
# connections are killed mid-statement, not only idle ones.  No request
# may hang, every answer is 200 or 503 JSON, the data check holds, and the
# pool recovers by itself: the requests after the last kill are 200.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use LeadlistDbTest qw(spawn_psql reap_psql su);
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $org = 't060-terminate';
my $name = 'terminate';
fixture($org);

my $ng = start_nginx(upstream => <<'_EOC_');
        leadlist_pg_keepalive 4;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=2s;
        leadlist_pg_connect_timeout 1s;
        leadlist_pg_query_timeout 3s;
_EOC_

my %req = (port => $ng->{port}, org => $org, timeout => 8);

my $warm = sequential_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
is(scalar(grep { ($_->{status} // 0) == 200 } @$warm), 4,
   "$name: warm-up requests answered 200");

my $load = start_load(%req, clients => 8, pause => 0.005, prefix => 't',
                      duration => 25);
sleep 0.5;

# 30 rounds, 100 ms apart; each prints: kind, active, other, terminated
my $kill = q{SELECT count(*) FILTER (WHERE state = 'active'),
       count(*) FILTER (WHERE state IS DISTINCT FROM 'active'),
       count(pg_terminate_backend(pid))
  FROM pg_stat_activity WHERE application_name = 'nginx-leadlist';
};
my $script = "SET application_name = 'leadlist-faults-killer';\n";
for my $round (1 .. 30) {
    if ($round % 2) {
        $script .= "SELECT 'plain';\n$kill\nSELECT pg_sleep(0.1);\n";
    } else {
        $script .= "BEGIN;\nLOCK TABLE tenant.lead_lists IN ACCESS EXCLUSIVE"
                 . " MODE;\nSELECT pg_sleep(0.05);\nSELECT 'locked';\n$kill\n"
                 . "COMMIT;\nSELECT pg_sleep(0.05);\n";
    }
}
my $t_kill = time;
my $killer = reap_psql(spawn_psql('su', $script));
my $t_killed = time;
ok($killer->{ok}, "$name: the killer session ran") or diag($killer->{err});

my %kind;
my ($active, $idle, $terminated) = (0, 0, 0);
my @rows = @{ $killer->{rows} };
while (@rows) {
    my $k = shift(@rows)->[0];
    my $r = shift @rows or last;
    $active += $r->[0];
    $idle += $r->[1];
    $terminated += $r->[2];
    $kind{$k} += $r->[2];
}
diag(sprintf "%s: %.2fs of killing: %d backends terminated (%d active in a"
     . " statement, %d idle; %d in the locked rounds, %d in the plain ones)",
     $name, $t_killed - $t_kill, $terminated, $active, $idle,
     $kind{locked} // 0, $kind{plain} // 0);
cmp_ok($active, '>', 0, "$name: busy connections were terminated");
cmp_ok($idle, '>', 0, "$name: idle connections were terminated");

sleep 1.5;
my $recs = finish_load($load);

# after the last kill: the pool serves again
my $final = sequential_requests(%req, ids => [map { "final-$_" } 1 .. 8]);
my $par = parallel_requests(%req, ids => [map { "final-p$_" } 1 .. 16]);

my @all = (@$warm, @$recs, @$final, @$par);
summarize("$name (all)", \@all);
my @during = grep { $_->{t0} >= $t_kill && $_->{t0} < $t_killed } @$recs;
summarize("$name (sent while backends were being killed)", \@during);
my @after = grep { $_->{t0} >= $t_killed + 0.5 } @$recs, @$final, @$par;
summarize("$name (sent 0.5 s or more after the last kill)", \@after);

check_answers($name, \@all, max_latency => 2 + 3 + 0.5);

ok(scalar(grep { ($_->{status} // 0) == 503 } @during),
   "$name: some requests failed while backends were being killed");
ok(scalar @after, "$name: requests after the last kill");
is(scalar(grep { ($_->{status} // 0) != 200 } @after), 0,
   "$name: all of them answered 200");

# a 503 whose connection died after its statement's result came, but
# before the commit was confirmed, may have been committed (SPEC 1.6);
# the module says so in its error log line, and only those may be stored
data_check($name, $org, \@all, ambiguous => may_have_committed($ng));

# nothing here is slow: a statement that timed out waited for an EOF the
# module had missed
is(log_count($ng, qr/query timed out/), 0,
   "$name: no statement waited for its query timeout");

ok(stop_nginx($ng), "$name: nginx stops gracefully");
log_check($ng, $name);


# A busy connection whose server's last words and EOF come in one read:
# the worker is stopped while its statement waits for a lock, the backend
# is terminated (its FATAL message and FIN both arrive), and the worker
# continues.  The request answers 503 at once, logged with the server's
# reason, not after its 30 s query timeout (the client gives up at 10).
# With statements pipelined (the default) and one per connection: either
# way libpq waits for the ReadyForQuery after the error, which never
# comes, and only the EOF ends the wait.
for my $pipeline (4, 1) {
    my $name = "terminate (late worker, pipeline $pipeline)";
    my $ng = start_nginx(workers => 1, upstream => <<"_EOC_");
        leadlist_pg_keepalive 4;
        leadlist_pg_pipeline $pipeline;
        leadlist_pg_query_timeout 30s;
_EOC_
    my %req = (port => $ng->{port}, org => $org, timeout => 10);

    my $warm = sequential_requests(%req, ids => ["late-warm-$pipeline"]);
    is($warm->[0]{status}, 200, "$name: a request first")
        or diag(explain($warm));

    my $lock = take_lock(30);
    my $h = spawn_requests(%req, ids => ["late-1-$pipeline"]);
    ok(wait_until(10, sub { pg_lock_waiters() == 1 }),
       "$name: its statement waits for the lock");
    my ($victim) = map { $_->[0] }
                   grep { $_->[2] eq 'Lock' } @{ pg_backends() };

    my @workers = worker_pids($ng);
    kill 'STOP', @workers;
    su("SELECT pg_terminate_backend($victim);");
    wait_until(10, sub { !grep { $_->[0] == $victim } @{ pg_backends() } });
    kill 'CONT', @workers;

    my $recs = collect_requests($h);
    release_lock($lock);
    is($recs->[0]{status}, 503, "$name: 503") or diag(explain($recs));
    my $rid = request_id($recs->[0]);
    ok($rid && log_count($ng, qr/request_id: $rid/), "$name: logged");
    my $why = 'connection failed: FATAL:\s+terminating connection due to'
            . ' administrator command';
    is(log_count($ng, qr/$why.*request_id: $rid/), 1,
       "$name: with the server's reason");
    is(log_count($ng, qr/query timed out/), 0,
       "$name: not after the query timeout");

    my $after = sequential_requests(%req, ids => ["late-2-$pipeline"]);
    is($after->[0]{status}, 200, "$name: the next request: 200");

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
}

done_testing();
