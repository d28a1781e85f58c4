# The pool's reads against the shapes a network gives PostgreSQL's bytes
# (t/inc/PgProxy.pm between nginx and PostgreSQL):
#
#   trickle  every message comes apart: pieces of 1 to 7 bytes, each
#            written on its own, so that each read the module does may
#            end anywhere in a message;
#   burst    the server's bytes are gathered for 5 ms at a time, so that
#            the answers of several statements pipelined on a connection
#            come in one read;
#   slowread the module's bytes are taken slowly, so that a large
#            statement does not fit in the socket at once.
#
# Under each, 8 clients add one prospect per request for 3 s, with the
# default pipeline (statements go behind one another).  Every request
# answers 200, no [error] is logged, every prospect answered is stored
# and nothing else is, and statements did go behind others.  Then burst
# again while the backends are terminated every 200 ms: the answers the
# proxy gathered come with the EOF, and the module must read them all
# before it sees the EOF (the code before 7e7c8c8 answered some of them
# 503, stored, and let others wait for their query timeout); and trickle
# under the same kills.
#
# Plain Test::More: it starts its own nginx (t/inc/Faults.pm).
# Organization t056.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use LeadlistDbTest qw(su);
use PgProxy;
use Test::More;
use Time::HiRes qw(sleep);
use POSIX ();

faults_init();

my $org = 't056';
fixture($org);

# A proxy of $shape in front of PostgreSQL, and an nginx whose upstream
# goes through it (the pool of 4 to 8 connections the load phases use,
# unless $o{upstream} says otherwise; the rest of %o to start_nginx).
sub proxied_nginx {
    my ($shape, %o) = @_;
    my $proxy = PgProxy->start(host => '127.0.0.1', shape => $shape,
                               target_port => $ENV{TEST_NGINX_PG_PORT});
    (my $ci = $ENV{TEST_NGINX_PG_CONNINFO})
        =~ s/\bport=\d+/port=$proxy->{port}/
        or BAIL_OUT("no port= in TEST_NGINX_PG_CONNINFO");
    my $ng = start_nginx(conninfo => "$ci sslmode=disable",
                         upstream => <<'_EOC_', %o);
        leadlist_pg_keepalive 4;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=5s;
        leadlist_pg_query_timeout 5s;
_EOC_
    return ($proxy, $ng);
}

my @all;

for my $shape (qw(trickle burst)) {
    my $name = $shape;
    my ($proxy, $ng) = proxied_nginx($shape, metrics => 1);
    my %req = (port => $ng->{port}, org => $org, timeout => 8);

    my $load = start_load(%req, clients => 8, prefix => $shape,
                          duration => 3);
    sleep 3;
    my $recs = finish_load($load);
    push @all, @$recs;

    summarize($name, $recs);
    cmp_ok(scalar @$recs, '>', 100, "$name: requests were sent");
    is(scalar(grep { ($_->{status} // 0) != 200 } @$recs), 0,
       "$name: every one answered 200");
    cmp_ok(pool_metric($ng, 'leadlist_pool_statements_pipelined_total'),
           '>', 0, "$name: statements went behind others");
    is(log_count($ng, qr/\[error\]/), 0, "$name: no [error]")
        or diag(join '', @{ log_lines($ng, qr/\[error\]/) }[0 .. 4]);

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
    $proxy->stop;
}

data_check('shapes', $org, \@all);


# slowread: PostgreSQL's side takes the module's bytes slowly, so that a
# statement of 100 persons with 64 long departments each (about 6 MB)
# does not fit in the socket: the module sends the rest as the socket
# drains, while the statements ahead of it answer.  4 such requests at
# once, twice: each answers 200 with its 100 added.
{
    my $name = 'slowread';
    my $sorg = 't056-slow';
    fixture($sorg);
    my ($proxy, $ng) = proxied_nginx('slowread', workers => 1,
                                     log_level => 'debug',
                                     location => 'client_max_body_size 16m;',
                                     upstream => <<'_EOC_');
        leadlist_pg_keepalive 2;
        leadlist_pg_max 2;
        leadlist_pg_queue 64 timeout=20s;
        leadlist_pg_query_timeout 20s;
_EOC_

    my $departments = join ',', map { '"' . ($_ x 900) . '"' } 'a' .. 'z',
                      'A' .. 'Z', 0 .. 9, 'b', 'c';
    my @answers;
    for my $round (1 .. 2) {
        my @kids;
        for my $k (1 .. 4) {
            my $body = '{"persons":[' . join(',', map {
                qq({"id":"s-$round-$k-$_","departments":[$departments]})
            } 1 .. 100) . ']}';
            my $file = "$ng->{dir}/answer-$round-$k";
            my $pid = fork // die "fork: $!";
            if ($pid == 0) {
                my $r = http_call(
                    port => $ng->{port}, timeout => 30,
                    uri => '/api/lead-lists/l/add-prospects',
                    headers => [['Authorization', "Bearer user=u;org=$sorg"],
                                ['Content-Type', 'application/json']],
                    body => $body);
                open my $fh, '>', $file or POSIX::_exit(1);
                print $fh ($r->{status} // 'none'), ' ', ($r->{body} // '');
                close $fh;
                POSIX::_exit(0);
            }
            push @kids, [$pid, $file];
        }
        for my $kid (@kids) {
            waitpid $kid->[0], 0;
            open my $fh, '<', $kid->[1] or next;
            push @answers, scalar <$fh>;
        }
    }

    is(scalar(grep { m{^200 \{"addedCount":100,} } @answers), 8,
       "$name: 8 answers of 200, each with its 100 added")
        or diag(join "\n", map { substr($_, 0, 200) } @answers);
    is(su("SELECT count(*) FROM tenant.lead_list_persons"
          . " WHERE org_id = '$sorg';")->[0][0], 800,
       "$name: 800 memberships");
    cmp_ok(log_count($ng, qr/leadlist flush: more to send/), '>', 0,
           "$name: statements did not fit in the socket at once");
    is(log_count($ng, qr/\[error\]/), 0, "$name: no [error]");

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
    $proxy->stop;
}


# burst, and the backends terminated every 200 ms: each kill brings the
# answers the proxy gathered and the EOF together.  Then trickle, so that
# the server's last words come in pieces, the EOF after the last.  A
# request answered by PostgreSQL is answered 200, whatever came with it;
# a 503 may be stored only when its log line says it may have committed.
for my $shape (qw(burst trickle)) {
    my $name = "$shape, backends terminated";
    my $borg = "t056-kill-$shape";
    fixture($borg);
    my ($proxy, $ng) = proxied_nginx($shape);
    my %req = (port => $ng->{port}, org => $borg, timeout => 8);

    my $load = start_load(%req, clients => 8, prefix => "k-$shape",
                          duration => 4);
    sleep 0.5;
    my $terminated = 0;
    for (1 .. 12) {
        $terminated += su("SELECT count(pg_terminate_backend(pid))"
                          . " FROM pg_stat_activity"
                          . " WHERE application_name = 'nginx-leadlist';")
                       ->[0][0];
        sleep 0.2;
    }
    sleep 1;
    my $recs = finish_load($load);

    summarize($name, $recs);
    diag("$name: $terminated backends terminated");
    cmp_ok($terminated, '>', 0, "$name: backends were terminated");
    is(scalar(grep { my $s = $_->{status} // 0; $s != 200 && $s != 503 }
                   @$recs), 0, "$name: every answer 200 or 503");
    is(log_count($ng, qr/query timed out/), 0,
       "$name: no statement waited for its query timeout");
    is(log_count($ng, qr/arrived from server while idle/), 0,
       "$name: libpq never lost track of an answer");

    data_check($name, $borg, $recs, ambiguous => may_have_committed($ng));

    ok(stop_nginx($ng), "$name: nginx stops gracefully");
    log_check($ng, $name);
    $proxy->stop;
}

done_testing();
