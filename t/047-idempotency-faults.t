#!/usr/bin/perl
#
# Idempotency-Key where it matters (SPEC 1.6), with requests in parallel
# and a connection lost at the worst moment:
#
#   1. A request whose connection to PostgreSQL dies after PostgreSQL
#      committed it is answered 503 (Retry-After, JSON) although it was
#      stored; its retry with the same key answers the first request's 200
#      and counts, Idempotent-Replayed, and changes nothing.  Without a key
#      the retry can only say addedCount 0.  The connection is cut by
#      t/inc/PgProxy.pm between nginx and PostgreSQL: it withholds the
#      statement's answer from its DataRow to the ReadyForQuery that
#      follows the commit, then closes both sides; nothing here is timed.
#   2. While the first request with a key runs (held in the database by a
#      lock its statement needs), the same key answers 409 CONFLICT with
#      Retry-After, whatever the body; once the first one is done, the
#      same key replays its answer.
#   3. Two overlapping requests with the per-id report, run at the same
#      time (both held by the lock, then released together): each prospect
#      is added by exactly one of them, and each request's ids and counts
#      add up.
#
# Plain Test::More: it starts its own nginx (t/inc/Faults.pm).  Organization
# t047.

use strict;
use warnings;

use lib 't/inc';
use Faults;
use PgProxy;
use Leadlist qw(db db_fixture db_snapshot);
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::More;

faults_init();

my $org = 't047';
my $json = JSON::PP->new->canonical;

db_fixture($org, lists => [['l', 'person', 'u'], ['m', 'person', 'u']]);
db("DELETE FROM tenant.idempotency_keys WHERE org_id = '$org';");

my $proxy = PgProxy->start(host => '127.0.0.1',
                           target_port => $ENV{TEST_NGINX_PG_PORT});

(my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO})
    =~ s/\bport=\d+/port=$proxy->{port}/
    or BAIL_OUT("no port= in TEST_NGINX_PG_CONNINFO");
$conninfo .= ' sslmode=disable';

my $ng = start_nginx(conninfo => $conninfo,
                     upstream => "        leadlist_pg_keepalive 2;\n"
                                 . "        leadlist_pg_query_timeout 10s;");

sub post {
    my (%o) = @_;
    return http_call(
        port => ($o{ng} // $ng)->{port}, timeout => $o{timeout} // 8,
        uri => '/api/lead-lists/' . ($o{list} // 'l') . '/add-prospects',
        headers => [['Authorization', "Bearer user=u;org=$org"],
                    ['Content-Type', 'application/json'],
                    (defined $o{key} ? (['Idempotency-Key', $o{key}]) : ()),
                    map { ['Prefer', $_] } @{ $o{prefer} // [] }],
        body => $o{body});
}

sub persons { '{"persons":[' . join(',', map { qq({"id":"$_"}) } @_) . ']}' }

sub header { my ($r, $name) = @_; return join ', ', @{ $r->{headers}{$name} // [] } }

sub q1 {
    my ($sql) = @_;
    return join "\n", map { join "\t", @$_ } @{ db($sql) };
}

sub members {
    my ($list) = @_;
    return q1("SELECT person_id FROM tenant.lead_list_persons WHERE org_id = '$org'"
              . " AND lead_list_id = '$list' ORDER BY person_id;");
}

sub is_503 {
    my ($r, $name) = @_;
    is($r->{status}, 503, "$name: 503") or diag($json->encode($r));
    is(header($r, 'retry-after'), '1', "$name: Retry-After: 1");
    is(header($r, 'content-type'), 'application/json', "$name: JSON");
    like($r->{body} // '', qr/\A\{"code":"SERVICE_UNAVAILABLE",/,
         "$name: SERVICE_UNAVAILABLE");
}


# ------------------------------------------------------------------
# 0. through the proxy, the endpoint works

{
    my $r = post(body => persons('p-0'));
    is($r->{status}, 200, 'through the proxy: 200') or diag($json->encode($r));
    is($r->{body}, $Faults::ONE_ADDED, 'through the proxy: one added');
    is($proxy->fired, 0, 'through the proxy: nothing cut');
}


# ------------------------------------------------------------------
# 1. the connection dies after the commit; the retry with the key

{
    my $name = 'lost after the commit, with a key';
    $proxy->arm;
    my $r = post(key => 'k-lost', body => persons('p-1', 'p-2'));
    is($proxy->fired, 1, "$name: the proxy cut the connection after"
                         . " ReadyForQuery");
    ok(!$proxy->armed, "$name: the arming was used");
    is_503($r, $name);

    is(members('l'), "p-0\np-1\np-2",
       "$name: yet PostgreSQL committed the request: its rows are there");
    is(q1("SELECT user_id, key, outcome, added_count FROM tenant.idempotency_keys"
          . " WHERE org_id = '$org';"), "u\tk-lost\tok\t2",
       "$name: and so is its key's record");

    my $before = db_snapshot();
    $r = post(key => 'k-lost', body => persons('p-1', 'p-2'));
    is($r->{status}, 200, "$name: the retry: 200") or diag($json->encode($r));
    is($r->{body},
       '{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}',
       "$name: the retry answers the first request's counts");
    is(header($r, 'idempotent-replayed'), 'true',
       "$name: the retry: Idempotent-Replayed: true");
    is(db_snapshot(), $before, "$name: the retry changed nothing");
}

{
    my $name = 'lost after the commit, with a key and the report';
    $proxy->arm;
    my $r = post(key => 'k-lost-r', body => persons('p-3', 'p-1'),
                 prefer => ['return=representation']);
    is($proxy->fired, 2, "$name: cut");
    is_503($r, $name);

    my $before = db_snapshot();
    $r = post(key => 'k-lost-r', body => persons('p-3', 'p-1'),
              prefer => ['return=representation']);
    is($r->{status}, 200, "$name: the retry: 200");
    is($r->{body},
       '{"addedCount":1,"alreadyInListCount":1,"notMatchedCount":0,'
       . '"added":["p-3"],"alreadyInList":["p-1"],"notMatched":[]}',
       "$name: the retry answers the first request's report");
    is(header($r, 'idempotent-replayed'), 'true',
       "$name: Idempotent-Replayed: true");
    is(header($r, 'preference-applied'), 'return=representation',
       "$name: Preference-Applied: return=representation");
    is(db_snapshot(), $before, "$name: the retry changed nothing");
}

{
    my $name = 'lost after the commit, without a key';
    $proxy->arm;
    my $r = post(body => persons('p-4'));
    is($proxy->fired, 3, "$name: cut");
    is_503($r, $name);
    like(members('l'), qr/^p-4$/m, "$name: stored");

    $r = post(body => persons('p-4'));
    is($r->{status}, 200, "$name: the retry: 200");
    is($r->{body},
       '{"addedCount":0,"alreadyInListCount":1,"notMatchedCount":0}',
       "$name: the retry can only say it was there already");
    is(header($r, 'idempotent-replayed'), '', "$name: not a replay");
}

{
    # the statement's result arrives, the ReadyForQuery of its Sync does
    # not: the transaction commits between the two, so the module cannot
    # tell, answers 503 and says in its log that the request may have
    # committed
    my $name = 'lost between the result and the commit\'s confirmation';
    $proxy->arm('sync');
    my $r = post(key => 'k-sync', body => persons('p-5'));
    is($proxy->fired, 4, "$name: cut");
    is_503($r, $name);
    like(members('l'), qr/^p-5$/m, "$name: stored");
    is(error_lines_for($ng, "connection failed after the statement's"
                            . " result, before its commit was confirmed (it"
                            . " may have committed):", $r), 1,
       "$name: the error log says it may have committed");

    $r = post(key => 'k-sync', body => persons('p-5'));
    is($r->{status}, 200, "$name: the retry: 200");
    is($r->{body},
       '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}',
       "$name: the retry answers the first request's counts");
    is(header($r, 'idempotent-replayed'), 'true', "$name: replayed");
}


# ------------------------------------------------------------------
# 2. 409 while the first request with the key runs

# One request in a child process; its answer as JSON in a file.
sub spawn_post {
    my (%o) = @_;
    my $file = File::Temp->new(TEMPLATE => 'leadlist-t047-XXXXXX',
                               TMPDIR => 1);
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $r = post(%o, timeout => 15);
        open my $fh, '>', "$file" or POSIX::_exit(1);
        print $fh $json->encode($r);
        close $fh;
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file };
}

sub collect {
    my ($h) = @_;
    waitpid $h->{pid}, 0;
    open my $fh, '<', "$h->{file}" or return { err => 'no answer' };
    local $/;
    my $text = <$fh>;
    return length $text ? $json->decode($text) : { err => 'no answer' };
}

{
    my $name = '409 while the first runs';
    my $lock = take_lock(20);
    my $first = spawn_post(key => 'k-409', list => 'm',
                           body => persons('q-1', 'q-2'));
    ok(wait_until(10, sub { pg_lock_waiters() >= 1 }),
       "$name: the first request waits in PostgreSQL for the lock");

    for my $body (persons('q-1', 'q-2'), persons('q-other')) {
        my $r = post(key => 'k-409', list => 'm', body => $body);
        is($r->{status}, 409, "$name: the same key meanwhile: 409 ($body)")
            or diag($json->encode($r));
        is(header($r, 'retry-after'), '1', "$name: Retry-After: 1");
        is(header($r, 'content-type'), 'application/json', "$name: JSON");
        like($r->{body} // '',
             qr/\A\{"code":"CONFLICT","message":"A request with this Idempotency-Key is still in progress, retry later","requestId":"[0-9a-f]{32}"\}\z/,
             "$name: the CONFLICT body");
        is(header($r, 'idempotent-replayed'), '', "$name: not a replay");
    }

    release_lock($lock);
    my $r = collect($first);
    is($r->{status}, 200, "$name: the first request ends 200")
        or diag($json->encode($r));
    is($r->{body}, '{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}',
       "$name: with its counts");

    $r = post(key => 'k-409', list => 'm', body => persons('q-1', 'q-2'));
    is($r->{status}, 200, "$name: afterwards the same key: 200");
    is($r->{body}, '{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}',
       "$name: the first request's answer");
    is(header($r, 'idempotent-replayed'), 'true', "$name: replayed");

    $r = post(key => 'k-409', list => 'm', body => persons('q-other'));
    is($r->{status}, 422, "$name: and with another body: 422");
    is(members('m'), "q-1\nq-2", "$name: the 409s added nothing");
}


# ------------------------------------------------------------------
# 3. two overlapping requests at once, with the report

{
    my $name = 'overlapping requests';
    db_fixture($org, lists => [['o', 'person', 'u']]);
    my @a = map { sprintf 'r-%02d', $_ } 10 .. 19;
    my @b = map { sprintf 'r-%02d', $_ } 15 .. 24;

    my $lock = take_lock(20);
    my @h = map { spawn_post(list => 'o', body => persons(@$_),
                             prefer => ['return=representation']) }
            \@a, \@b;
    ok(wait_until(10, sub { pg_lock_waiters() >= 2 }),
       "$name: both wait in PostgreSQL");
    release_lock($lock);

    my @r = map { collect($_) } @h;
    my (%added, @bodies);
    for my $i (0, 1) {
        my $ids = $i ? \@b : \@a;
        is($r[$i]{status}, 200, "$name: request $i: 200")
            or diag($json->encode($r[$i]));
        my $b = eval { $json->decode($r[$i]{body}) } // {};
        push @bodies, $b;
        is($b->{addedCount}, scalar @{ $b->{added} // [] },
           "$name: request $i: addedCount counts its added ids");
        is($b->{alreadyInListCount}, scalar @{ $b->{alreadyInList} // [] },
           "$name: request $i: alreadyInListCount counts its ids");
        is($b->{notMatchedCount}, 0, "$name: request $i: notMatchedCount 0");
        is_deeply([sort(@{ $b->{added} // [] }, @{ $b->{alreadyInList} // [] })],
                  $ids, "$name: request $i: added + alreadyInList are its ids");
        is_deeply($b->{added} // [], [sort @{ $b->{added} // [] }],
                  "$name: request $i: ascending");
        $added{$_}++ for @{ $b->{added} // [] };
    }

    is_deeply([sort keys %added], [map { sprintf 'r-%02d', $_ } 10 .. 24],
              "$name: together they added each of the 15 prospects");
    is(scalar(grep { $_ > 1 } values %added), 0,
       "$name: no prospect added by both");
    is(($bodies[0]{addedCount} // 0) + ($bodies[1]{addedCount} // 0), 15,
       "$name: the addedCounts sum to 15");
    is(members('o'), join("\n", map { sprintf 'r-%02d', $_ } 10 .. 24),
       "$name: 15 memberships");
}


# ------------------------------------------------------------------
# 4. two answers and the EOF in one read
#
# One connection (leadlist_pg_max 1), two requests at once: the second is
# pipelined behind the first.  The proxy withholds both answers, both
# committed, and sends them with the close.  Both were answered by
# PostgreSQL, so both answer 200: the module reads what it holds before
# it reads again, and the read that finds the EOF no longer costs the
# second its answer.  The second goes behind only if it comes within
# 2 ms of the first's send; a few tries make that near certain.  The old
# read order answered the second 503.

{
    my $name = 'two answers and the EOF in one read';
    my $ng2 = start_nginx(conninfo => $conninfo, workers => 1,
                          upstream => <<'_EOC_');
        leadlist_pg_keepalive 1;
        leadlist_pg_max 1;
        leadlist_pg_query_timeout 10s;
_EOC_
    my $warm = post(ng => $ng2, list => 'o', body => persons('b-warm'));
    is($warm->{status}, 200, "$name: a first request") or diag(explain($warm));

    # both requests written at once, on two connections, so that they
    # reach the worker within a millisecond of each other; once the proxy
    # holds both answers, the worker is stopped while it sends them and
    # closes, so that it finds the answers and the EOF in one read
    my $post_two = sub {
        my @ids = @_;
        my @s = map {
            IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ng2->{port}, Timeout => 5)
                or die "connect: $!";
        } @ids;
        for my $i (0 .. $#ids) {
            my $body = persons($ids[$i]);
            syswrite $s[$i], "POST /api/lead-lists/o/add-prospects HTTP/1.0\r\n"
                . "Authorization: Bearer user=u;org=$org\r\n"
                . "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n\r\n$body";
        }
        if (wait_until(5, sub { $proxy->held })) {
            my @workers = worker_pids($ng2);
            my $cuts = $proxy->fired;
            kill 'STOP', @workers;
            $proxy->release;
            wait_until(5, sub { $proxy->fired > $cuts });
            Time::HiRes::sleep(0.2);
            kill 'CONT', @workers;
        }
        return map {
            my ($sock, $buf) = ($_, '');
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm 15;
            1 while sysread($sock, $buf, 65536, length $buf);
            alarm 0;
            my ($status) = $buf =~ m{\AHTTP/1\.[01] (\d{3})};
            my ($body) = $buf =~ /\r\n\r\n(.*)\z/s;
            +{ status => $status, body => $body // $buf };
        } @s;
    };

    my ($done, @recs);
    for my $try (1 .. 10) {
        $proxy->arm('batch');
        @recs = $post_two->("b-$try-1", "b-$try-2");
        my $cut = $proxy->fired_lines->[-1] // '';
        if ($cut eq 'batch of 2 ReadyForQuery') {
            $done = $try;
            last;
        }
        unlink "$proxy->{dir}/armed";
    }

    SKIP: {
        skip "$name: the second request never went behind the first", 3
            unless $done;
        is_deeply([map { $_->{status} } @recs], [200, 200],
                  "$name: both answered 200 (try $done)")
            or diag($json->encode(\@recs));
        is(members('o') =~ /^b-$done-1\nb-$done-2$/m ? 1 : 0, 1,
           "$name: both stored");
        is(log_count($ng2, qr/\[error\]/), 0, "$name: no [error]")
            or diag(join '', @{ log_lines($ng2, qr/\[error\]/) });
    }

    ok(stop_nginx($ng2), "$name: nginx stops gracefully");
}


# ------------------------------------------------------------------
# 5. an answer held past the query timeout
#
# PostgreSQL committed at once; the network (the proxy) holds the answer
# longer than leadlist_pg_query_timeout.  The module gives up: 503, and
# its log line says that the statement may still run and commit, as it
# did.  The retry with the key answers the first request's 200.

{
    my $name = 'an answer held past the query timeout';
    my $ng3 = start_nginx(conninfo => $conninfo, workers => 1,
                          upstream => <<'_EOC_');
        leadlist_pg_keepalive 1;
        leadlist_pg_query_timeout 1s;
_EOC_
    my $warm = post(ng => $ng3, list => 'o', body => persons('t-warm'));
    is($warm->{status}, 200, "$name: a first request") or diag(explain($warm));

    $proxy->arm('batch');
    my $r = post(ng => $ng3, list => 'o', key => 'k-held',
                 body => persons('t-1'));
    is_503($r, $name);
    like(members('o'), qr/^t-1$/m, "$name: yet stored");
    is(error_lines_for($ng3, 'connection failed: query timed out, the'
                             . ' server did not cancel it in time (it may'
                             . ' still run and commit)', $r), 1,
       "$name: the error log says it may still commit");

    $r = post(ng => $ng3, list => 'o', key => 'k-held',
              body => persons('t-1'));
    is($r->{status}, 200, "$name: the retry: 200") or diag(explain($r));
    is(header($r, 'idempotent-replayed'), 'true', "$name: replayed");

    ok(stop_nginx($ng3), "$name: nginx stops gracefully");
}


ok(stop_nginx($ng), 'nginx stops gracefully');
log_check($ng, 'idempotency faults');
my $cut = join '', '\[error\].* connection failed(',
    quotemeta(" after the statement's result, before its commit was"
              . " confirmed (it may have committed)"),
    ')?: server closed the connection unexpectedly';
$cut = qr/$cut/;
is(log_count($ng, $cut), 4, 'one [error] line per cut connection, with its request id');
is(scalar(grep { $_ !~ $cut } @{ log_lines($ng, qr/\[error\]/) }), 0,
   'no other [error]')
    or diag(join '', @{ log_lines($ng, qr/\[error\]/) });

db_fixture($org);
db("DELETE FROM tenant.idempotency_keys WHERE org_id = '$org';");

done_testing();
