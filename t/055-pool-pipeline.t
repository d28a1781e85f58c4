# Statements pipelined on one connection (leadlist_pg_pipeline, README
# "Runtime"): a statement may go behind the one a busy connection runs,
# each with a Sync of its own, so each is still its own transaction.
#
# Every case lines statements up behind one another on a single
# connection in the same way (line_up): one nginx worker with
# leadlist_pg_keepalive = leadlist_pg_max = 1 and the adaptive limit off;
# a table lock holds a first request's statement, so that the next 7 wait
# in the pool's queue (a statement that has run longer than 2 ms takes
# none behind it); an advisory lock, which a trigger of this organization
# takes for prospects whose id starts with "gate-", is held as well.  When
# the table lock goes, the first request ends, and the connection takes
# the next waiter and as many more behind it as the pipeline allows; the
# first of those then waits for the advisory lock, with the others behind
# it, unread by the server.  Each case then does one thing to that line:
#
#   1. the default depth (4): 1 running and 3 behind, the rest waiting;
#      the backend is killed: the 4 answer 503 (each logs why, those
#      behind with a line of their own), nothing of them is stored, the
#      others are served by a new connection;
#   2. leadlist_pg_pipeline 1: nothing goes behind;
#   3. a statement that fails (the trigger raises for "bad-" ids) among
#      them: it answers 500, the one ahead and those behind it 200, on the
#      same backend;
#   4. clients that leave while their statements wait behind: the others
#      are answered, the connection is kept (same backend), no alert;
#   5. leadlist_pg_query_timeout 1.5s (the server's statement_timeout is
#      1 s) with the gate shut: each statement's query timer runs from its
#      turn, as the server's statement_timeout does, so the server cancels
#      each in turn (503), the connection is kept, and nothing runs after
#      its 503 (a module timer that closed the connection under them
#      would leave those behind to run on the server once the gate opens);
#
# and nginx -t takes 1 to 16 and refuses 0 and 17 with the directive's
# name.  Organization t055.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(time sleep);
use LeadlistDbTest qw(su);

faults_init();

my $org = 't055';
my $key = 55055;
my $behind_re = qr/before the statement sent behind another ran/;

org_trigger($org, 't055_gate', <<"_SQL_");
BEGIN
    IF NEW.person_id LIKE 'bad-%' THEN
        RAISE EXCEPTION 't055: refused';
    END IF;
    IF NEW.person_id LIKE 'gate-%' THEN
        PERFORM pg_advisory_xact_lock_shared($key);
    END IF;
    RETURN NULL;
END
_SQL_


# nginx for one case, on a fresh organization
sub start {
    my ($app, $more) = @_;
    fixture($org);
    return start_nginx(workers => 1, app => $app, metrics => 1,
                       upstream => ($more // '') . <<'_EOC_');
        leadlist_pg_keepalive 1;
        leadlist_pg_max 1;
        leadlist_pg_adaptive off;
        leadlist_pg_queue 64 timeout=20s;
_EOC_
}

sub waiting_on {
    my ($app, $event) = @_;
    return su("SELECT count(*) FROM pg_stat_activity WHERE"
              . " application_name = '$app' AND wait_event = '$event';")
           ->[0][0];
}



# Lines up 8 requests: "first" (held by the table lock) and then, one
# after the other in the queue, the ids of @$ids ("gate-" ones wait for the
# advisory lock); %o: close_after for the clients of @{ $o{leave} }, and
# behind, the statements expected behind the head of the line (3).
# Returns { first, reqs => [spawned handles], gate, t0, pid } with the
# table lock released, the first answered, the line formed and checked,
# and the pid of the one backend.
sub line_up {
    my ($ng, $app, $name, $ids, %o) = @_;
    my $behind = $o{behind} // 3;
    my %leave = map { $_ => 1 } @{ $o{leave} // [] };
    my $lock = take_lock(60);
    my $gate = take_lock(60, advisory => $key);
    my %common = (port => $ng->{port}, org => $org, timeout => 20);

    my $first = spawn_requests(%common, ids => ["first-$app"]);
    wait_until(10, sub { waiting_on($app, 'relation') == 1 })
        or diag("$app: the first statement did not wait for the lock");

    my @reqs;
    my $n = 0;
    for my $id (@$ids) {
        push @reqs, spawn_requests(%common, ids => [$id],
            $leave{$id} ? (close_after => $o{close_after}) : ());
        $n++;
        wait_until(10, sub {
            pool_metric($ng, 'leadlist_pool_waiting_requests') == $n
        }) or diag("$app: $id did not queue");
    }

    release_lock($lock);
    my $t0 = time;
    my $r1 = collect_requests($first);
    is($r1->[0]{status}, 200, "$app: the first request answered 200");

    ok(wait_until(10, sub { waiting_on($app, 'advisory') == 1 }),
       "$name: the head of the line waits for the gate");
    is(pool_metric($ng, 'leadlist_pool_statements_pipelined_total'),
       $behind, "$name: $behind statements went behind the running one");

    return { first => $r1, reqs => \@reqs, gate => $gate, t0 => $t0,
             pid => app_pids($app) };
}

sub collect_all {
    my ($line) = @_;
    return [ @{ $line->{first} },
             map { @{ collect_requests($_) } } @{ $line->{reqs} } ];
}

sub by_id { return { map { $_->{id} => $_ } @{ $_[0] } } }

sub status_of {
    my ($recs, @ids) = @_;
    my $by = by_id($recs);
    return join ',', map { $by->{$_}{status} // 'none' } @ids;
}


# ------------------------------------------------------------------------
# 1. the default depth: 1 + 3 behind on one connection; a kill fails them

{
    my $app = 't055-kill';
    my $ng = start($app);
    my @ids = map { "gate-k$_" } 1 .. 7;

    my $line = line_up($ng, $app, 'default depth (4)', \@ids);
    is(pool_metric($ng, 'leadlist_pool_waiting_requests'), 3,
       'and the other 3 requests wait in the queue');
    like(app_pids($app), qr/^\d+$/, 'all on one connection (one backend)');

    su("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
       . " WHERE application_name = '$app';");

    # the 4 on the killed connection answer before the gate opens
    ok(wait_until(10, sub { log_count($ng, qr/\[error\]/) >= 4 }),
       'kill: the 4 statements on the connection failed');
    release_lock($line->{gate});

    my $recs = collect_all($line);
    summarize('kill', $recs);
    check_answers('kill', $recs);
    is(status_of($recs, @ids), '503,503,503,503,200,200,200',
       'kill: the running statement and the 3 behind it answered 503,'
       . ' those still queued 200 on a new connection');
    is(log_count($ng, $behind_re), 3,
       'kill: each of the 3 behind logged why it failed');
    data_check('kill', $org, $recs);
    log_check($ng, 'kill');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# 2. leadlist_pg_pipeline 1: one statement per connection at a time

{
    my $app = 't055-one';
    my $ng = start($app, "        leadlist_pg_pipeline 1;\n");
    my @ids = map { "gate-o$_" } 1 .. 7;

    my $line = line_up($ng, $app, 'pipeline 1', \@ids, behind => 0);
    is(pool_metric($ng, 'leadlist_pool_waiting_requests'), 6,
       'pipeline 1: the other 6 wait in the queue');

    release_lock($line->{gate});
    my $recs = collect_all($line);
    summarize('pipeline 1', $recs);
    check_answers('pipeline 1', $recs, allow => [200]);
    data_check('pipeline 1', $org, $recs);
    log_check($ng, 'pipeline 1');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# 3. a failing statement in the line fails alone

{
    my $app = 't055-bad';
    my $ng = start($app, "        leadlist_pg_pipeline 4;\n");
    my @ids = ('gate-b1', 'bad-b2', 'gate-b3', 'gate-b4', 'gate-b5',
               'gate-b6', 'gate-b7');

    my $line = line_up($ng, $app, 'a failing one', \@ids);

    release_lock($line->{gate});
    my $recs = collect_all($line);
    summarize('a failing one', $recs);
    is(status_of($recs, @ids), '200,500,200,200,200,200,200',
       'a failing one: it answered 500, the one ahead and those behind'
       . ' it 200');
    my $bad = by_id($recs)->{'bad-b2'};
    like($bad->{body} // '', qr/"code":"INTERNAL_ERROR"/,
         'a failing one: its 500 is the JSON error body');
    is(app_pids($app), $line->{pid}, 'a failing one: the connection was kept');
    check_answers('a failing one',
                  [ grep { $_->{id} !~ /^bad-/ } @$recs ], allow => [200]);
    data_check('a failing one', $org, $recs);
    is(log_count($ng, $behind_re), 0,
       'a failing one: no statement behind it failed with it');
    log_check($ng, 'a failing one');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# 4. clients that leave while their statements wait behind another

{
    my $app = 't055-leave';
    my $ng = start($app, "        leadlist_pg_pipeline 4;\n");
    my @ids = map { "gate-l$_" } 1 .. 7;

    my $line = line_up($ng, $app, 'leave', \@ids,
                       leave => ['gate-l2', 'gate-l3'], close_after => 2);

    # both clients leave (2 s after their request), and nginx hears it
    sleep 3;
    release_lock($line->{gate});
    my $recs = collect_all($line);
    summarize('leave', $recs);
    check_answers('leave', $recs, allow => [200]);
    is(status_of($recs, map { "gate-l$_" } 1, 4 .. 7),
       '200,200,200,200,200', 'leave: the others answered 200');
    is(scalar(grep { $_->{abandoned} } @$recs), 2,
       'leave: the 2 clients left');
    is(log_count($ng, qr/client closed connection before the answer/), 2,
       'leave: nginx heard both leave while their statements waited');
    is(app_pids($app), $line->{pid}, 'leave: the connection was kept');
    my $after = post_prospect(port => $ng->{port}, org => $org,
                              id => 'after-l');
    is($after->{status}, 200, 'leave: and serves the next request');
    data_check('leave', $org, [ @$recs, $after ]);
    log_check($ng, 'leave');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# 5. the server cancels each statement of the line in its own turn

{
    my $app = 't055-timeout';
    my $ng = start($app, "        leadlist_pg_pipeline 4;\n"
                         . "        leadlist_pg_query_timeout 1500ms;\n");
    my @ids = map { "gate-d$_" } 1 .. 7;

    my $line = line_up($ng, $app, 'timeout', \@ids);

    # the 4 of the line time out one after the other, the gate shut
    my $recs4 = [ map { @{ collect_requests($line->{reqs}[$_]) } } 0 .. 3 ];
    my $took = time - $line->{t0};
    is(app_pids($app), $line->{pid}, 'timeout: the connection was kept');
    release_lock($line->{gate});

    summarize('timeout', $recs4);
    check_answers('timeout', $recs4, allow => [503]);
    is(log_count($ng, qr/canceling statement due to statement timeout/), 4,
       'timeout: the server cancelled each of the 4');
    is(log_count($ng, qr/query timed out/), 0,
       'timeout: the module\'s own timer closed nothing');
    cmp_ok($took, '<', 4 * 1.5 + 1,
           sprintf('timeout: the 4 answered within 4 query timeouts'
                   . ' (%.2fs)', $took));

    my $rest = [ map { @{ collect_requests($line->{reqs}[$_]) } } 4 .. 6 ];
    check_answers('timeout, the rest', $rest, allow => [200]);

    # a statement that ran after its 503 would show by now
    sleep 0.5;
    data_check('timeout', $org, [ @{ $line->{first} }, @$recs4, @$rest ]);
    log_check($ng, 'timeout');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# nginx -t

for my $n (1, 16) {
    my $t = nginx_config_test(upstream => "        leadlist_pg_pipeline $n;");
    is($t->{status}, 0, "nginx -t takes leadlist_pg_pipeline $n")
        or diag($t->{output});
}

for my $n (0, 17, 'x') {
    my $t = nginx_config_test(upstream => "        leadlist_pg_pipeline $n;");
    isnt($t->{status}, 0, "nginx -t refuses leadlist_pg_pipeline $n");
    like($t->{output}, qr/leadlist_pg_pipeline/,
         "and names the directive ($n)");
}

done_testing();
