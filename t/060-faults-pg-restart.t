# Fault: PostgreSQL stops under load and starts again.
#
# 8 clients send one prospect each per request, without pause to speak of,
# while the cluster of util/test.sh is stopped (pg_ctl -m fast) for 3 s and
# started again the way util/pg.sh starts it.  Every request must be
# answered 200 or 503 JSON (Retry-After: 1) within the configured timeouts,
# no worker may crash, and the module must recover by itself within 2 s of
# the restart: every request that starts 2 s after the server is ready
# again is a 200.  Then the data check (see t/inc/Faults.pm).

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use Time::HiRes qw(time sleep);

faults_init();

my $org = 't060-restart';
my $name = 'pg restart';
fixture($org);

# a wait and a statement are each bounded: queue 1s, query 2s
my $queue_timeout = 1;
my $query_timeout = 2;

my $ng = start_nginx(upstream => <<'_EOC_');
        leadlist_pg_keepalive 4;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=1s;
        leadlist_pg_connect_timeout 1s;
        leadlist_pg_query_timeout 2s;
_EOC_

my %req = (port => $ng->{port}, org => $org, timeout => 8);

my $warm = sequential_requests(%req, ids => [map { "warm-$_" } 1 .. 4]);
is(scalar(grep { ($_->{status} // 0) == 200 } @$warm), 4,
   "$name: warm-up requests answered 200");

my $load = start_load(%req, clients => 8, pause => 0.005, prefix => 'r',
                      duration => 25);
sleep 1.5;

my $t_stop = time;
ok(pg_stop(), "$name: PostgreSQL stopped (pg_ctl stop -m fast)");
my $t_stopped = time;

sleep 3;

my $t_start = time;
ok(pg_start(), "$name: PostgreSQL started again");
my $t_ready = time;

sleep 3.5;
my $recs = finish_load($load);
my $t_end = time;

my $final = sequential_requests(%req, ids => [map { "final-$_" } 1 .. 4]);

diag(sprintf "%s: stop took %.3fs, PostgreSQL down %.3fs, start took %.3fs",
     $name, $t_stopped - $t_stop, $t_start - $t_stopped, $t_ready - $t_start);

my @all = (@$warm, @$recs, @$final);
summarize("$name (all)", \@all);

my @down = grep { $_->{t0} >= $t_stopped && $_->{t1} <= $t_start } @$recs;
summarize("$name (sent and answered while PostgreSQL was down)", \@down);
ok(scalar @down, "$name: requests were sent while PostgreSQL was down");
is(scalar(grep { ($_->{status} // 0) != 503 } @down), 0,
   "$name: all of them answered 503");

check_answers($name, \@all,
              max_latency => $queue_timeout + $query_timeout + 0.5);

# recovery: the first 200 after the server is ready again, and every
# request that starts 2 s after that is a 200
my ($first) = sort { $a->{t1} <=> $b->{t1} }
              grep { ($_->{status} // 0) == 200 && $_->{t1} > $t_ready }
              @$recs;
ok($first, "$name: a 200 after the restart");
if ($first) {
    my $rec = $first->{t1} - $t_ready;
    diag(sprintf "%s: first 200 %.3fs after PostgreSQL was ready (%.3fs after"
         . " pg_ctl start was called)", $name, $rec, $first->{t1} - $t_start);
    cmp_ok($rec, '<=', 2, "$name: recovered within 2 s");
}

my @late = grep { $_->{t0} >= $t_ready + 2 } @$recs, @$final;
my $late = summarize("$name (sent 2 s or more after the restart)", \@late);
ok(scalar @late, "$name: requests sent 2 s after the restart");
is(scalar(grep { ($_->{status} // 0) != 200 } @late), 0,
   "$name: all of them answered 200");

is(scalar(grep { ($_->{status} // 0) == 200 } @$final), 4,
   "$name: final requests answered 200");

data_check($name, $org, \@all);

ok(stop_nginx($ng), "$name: nginx stops gracefully");
log_check($ng, $name);

done_testing();
