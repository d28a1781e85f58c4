# leadlist_metrics (SPEC 6, README "Metrics"): the Prometheus text format,
# every worker's figures summed through the shared memory zone.
#
# One nginx (2 workers, reuseport, so that connections and scrapes land on
# both) with four upstreams and four endpoint locations:
#
#   leadlist_db  the endpoint of port 0 (leadlist_pg_max 16)
#   db_b         leadlist_pg_max 1, queue timeout 300ms: waits time out
#   db_c         lock_timeout=100ms and leadlist_pg_keepalive_requests 1:
#                statement errors of SQLSTATE class 55, closes "requests"
#   db_d         leadlist_pg_max 1, a queue of 1: refusals, queue full
#
# While a lock on tenant.lead_lists holds every statement, the figures
# must say what the test did: held connections are busy, queued requests
# waiting, timed-out waits and errors counted.  Then PostgreSQL stops
# (failed connects, broken connections), and a reload must keep every
# counter.  promtool (Debian package prometheus) checks the format.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use LeadlistDbTest qw(su);
use Test::More;
use File::Temp qw(tempfile);
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

faults_init();

my $promtool = `sh -c 'command -v promtool'`;
chomp $promtool;
ok($promtool, 'promtool is installed (make deps: Debian package prometheus)');

my $org = 't092';
fixture($org);

my $LOC = '^/api/lead-lists/(?<list_id>[^/]+)/add-prospects$';
my $LOC_B = '^/api/lead-lists/(?<list_id>[^/]+)/(add-prospects)$';
my $LOC_C = '^/api/lead-lists/(?<list_id>[^/]+)/add-(prospects)$';
my $LOC_D = '^/api/lead-lists/(?<list_id>[^/]+)/(add)-prospects$';

my $conninfo = $ENV{TEST_NGINX_PG_CONNINFO};


# ------------------------------------------------------------ nginx -t

sub metrics_server {
    my ($extra) = @_;
    return ($extra // '') . <<'_EOC_';
    server {
        listen 127.0.0.1:$FAULTS_PORT;
        server_name metrics;
        location = /metrics {
            leadlist_metrics;
        }
    }
_EOC_
}

my $t = nginx_config_test(servers => metrics_server(
                              "    leadlist_metrics_zone 32k;\n"));
isnt($t->{status}, 0, 'nginx -t: a zone too small fails');
like($t->{output}, qr/\[emerg\].*"leadlist_metrics_zone" of 32768 bytes is too small for 1 upstreams and 1 endpoint locations: it needs at least \d+/,
     'nginx -t: ... and says how much is needed');

$t = nginx_config_test(servers => metrics_server(
                           "    leadlist_metrics_zone 128k;\n"));
is($t->{status}, 0, 'nginx -t: 128k is enough for one upstream')
    or diag($t->{output});

$t = nginx_config_test(servers => metrics_server() =~
                           s/leadlist_metrics;/leadlist_metrics on;/r);
like($t->{output}, qr/\[emerg\].*invalid number of arguments in "leadlist_metrics"/,
     'nginx -t: leadlist_metrics takes no argument');

$t = nginx_config_test(location => '            leadlist_metrics;',
                       servers => metrics_server());
like($t->{output}, qr/\[emerg\].*"leadlist_metrics" cannot be used in the location of "leadlist_add_prospects"/,
     'nginx -t: not in an endpoint location');

$t = nginx_config_test(servers => metrics_server() =~
                           s/leadlist_metrics;/leadlist_metrics_zone 1m;/r);
like($t->{output}, qr/\[emerg\].*"leadlist_metrics_zone" directive is not allowed here/,
     'nginx -t: leadlist_metrics_zone belongs to http');


# ------------------------------------------------------------ helpers

# One HTTP/1.0 exchange; returns { status, head => { lc name => value },
# body }.
sub http {
    my ($port, $req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10)
        or die "connect $port: $!";
    print $s $req;
    my ($buf, $sel) = ('', IO::Select->new($s));
    while ($sel->can_read(10)) {
        my $n = sysread($s, $buf, 65536, length $buf);
        last unless $n;
    }
    close $s;
    $buf =~ m{\AHTTP/1\.[01] (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n(.*)\z}s
        or die "no HTTP answer: " . substr($buf, 0, 80);
    my ($status, $head, $body) = ($1, $2, $3);
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () }
            split /\r\n/, $head;
    return { status => $status, head => \%h, body => $body };
}

my $ng;

sub scrape_raw {
    return http($ng->{ports}[0],
                "GET /metrics HTTP/1.0\r\nHost: metrics\r\n\r\n");
}

# name{labels} => value of one scrape
sub scrape {
    my $r = scrape_raw();
    die "metrics: $r->{status}" unless $r->{status} == 200;
    my %m;
    for (split /\n/, $r->{body}) {
        next if /^#/;
        /^(\S+) (\S+)$/ or die "bad line: $_";
        $m{$1} = $2;
    }
    return \%m;
}

# A request is counted in its log phase, which may run just after its
# client has read the answer, and in another worker than the scrape's:
# scrape until cond holds (up to 5 s), then the test checks exact figures.
sub scrape_when {
    my ($cond) = @_;
    my $m;
    wait_until(5, sub { $m = scrape(); $cond->($m) });
    return $m;
}

sub U {
    my ($name, $up, $more) = @_;
    return qq($name\{upstream="$up") . ($more ? ",$more" : '') . '}';
}

sub L {
    my ($name, $loc, $more) = @_;
    return qq($name\{location="$loc") . ($more ? ",$more" : '') . '}';
}

sub gauge {
    my ($m, $up, $state) = @_;
    return $m->{ U('leadlist_pool_connections', $up, qq(state="$state")) };
}

sub delta {
    my ($before, $after, $key) = @_;
    return ($after->{$key} // 0) - ($before->{$key} // 0);
}

sub promtool_check {
    my ($name, $text) = @_;
    return fail("$name: promtool check metrics (no promtool)")
        unless $promtool;
    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh $text;
    close $fh;
    my $out = `$promtool check metrics < $file 2>&1`;
    is($?, 0, "$name: promtool check metrics passes") or diag($out);
}

# statements of the module waiting for the lock
sub lock_waiters {
    return su("SELECT count(*) FROM pg_stat_activity WHERE application_name"
              . " = 'nginx-leadlist' AND wait_event_type = 'Lock';")->[0][0];
}

# which worker holds those connections: their local ports, from
# pg_stat_activity, to socket inodes (/proc/net/tcp) to worker fds
sub lock_waiters_by_worker {
    my %ports = map { $_->[0] => 1 } @{ su(
        "SELECT client_port FROM pg_stat_activity WHERE application_name"
        . " = 'nginx-leadlist' AND wait_event_type = 'Lock';") };
    my %inodes;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        <$fh>;
        while (<$fh>) {
            my @f = split;
            next unless $f[1] =~ /:([0-9A-F]+)$/;
            $inodes{ $f[9] } = 1 if $ports{ hex $1 };
        }
    }
    my %by;
    for my $pid (worker_pids($ng)) {
        opendir my $d, "/proc/$pid/fd" or next;
        for my $fd (readdir $d) {
            my $l = readlink("/proc/$pid/fd/$fd") // next;
            $by{$pid}++ if $l =~ /^socket:\[(\d+)\]$/ && $inodes{$1};
        }
    }
    return \%by;
}

sub statuses {
    my ($recs) = @_;
    my %st;
    $st{ $_->{status} // 'none' }++ for @$recs;
    return \%st;
}


# ------------------------------------------------------------ the nginx

my $auth = <<'_EOC_';
        location = /_auth {
            internal;
            proxy_pass http://127.0.0.1:$FAULTS_PORT/_verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
_EOC_

$ng = start_nginx(
    listen => 'reuseport',
    ports => 4,
    upstream => <<'_EOC_',
        leadlist_pg_keepalive 16;
        leadlist_pg_max 16;
        leadlist_pg_queue 256 timeout=30s;
        # statements held by the lock must outlast a slow, busy machine
        leadlist_pg_query_timeout 50s;
_EOC_
    servers => <<"_EOC_");
    upstream db_b {
        leadlist_pg_server "$conninfo application_name=nginx-leadlist-b";
        # beyond keepalive (0), an idle connection retires after this
        leadlist_pg_idle_timeout 500ms;
        leadlist_pg_keepalive 0;
        leadlist_pg_max 1;
        leadlist_pg_queue 16 timeout=300ms;
        leadlist_pg_query_timeout 50s;
    }

    upstream db_c {
        leadlist_pg_server "$conninfo options='-c lock_timeout=100'";
        leadlist_pg_keepalive_requests 1;
    }

    upstream db_d {
        leadlist_pg_server "$conninfo application_name=nginx-leadlist-d";
        leadlist_pg_keepalive 1;
        leadlist_pg_max 1;
        leadlist_pg_queue 1 timeout=60s;
        leadlist_pg_query_timeout 50s;
    }

    server {
        listen 127.0.0.1:\$FAULTS_PORT0 reuseport;

        location = /metrics {
            leadlist_metrics;
        }
    }

    server {
        listen 127.0.0.1:\$FAULTS_PORT1;
$auth
        location ~ $LOC_B {
            leadlist_add_prospects db_b;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }
    }

    server {
        listen 127.0.0.1:\$FAULTS_PORT2;
$auth
        location ~ $LOC_C {
            leadlist_add_prospects db_c;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }
    }

    server {
        listen 127.0.0.1:\$FAULTS_PORT3;
$auth
        location ~ $LOC_D {
            leadlist_add_prospects db_d;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }
    }
_EOC_

my %req = (port => $ng->{port}, org => $org, timeout => 60);


# ------------------------------------------------------------ the location

my $r = scrape_raw();
is($r->{status}, 200, 'GET: 200');
is($r->{head}{'content-type'}, 'text/plain; version=0.0.4',
   'GET: the text exposition format, version 0.0.4');
is($r->{head}{'content-length'}, length $r->{body}, 'GET: Content-Length');
like($r->{body}, qr/^# HELP leadlist_pool_connections .+\n# TYPE leadlist_pool_connections gauge\n/m,
     'GET: families have HELP and TYPE');
promtool_check('fresh', $r->{body});

my $m0 = scrape();
is($m0->{ U('leadlist_pool_limit', 'leadlist_db') }, 32,
   'leadlist_pool_limit: 2 workers x leadlist_pg_max 16');
is($m0->{ U('leadlist_pool_limit', 'db_b') }, 2, '... db_b: 2 x 1');
is($m0->{ U('leadlist_pool_limit', 'db_c') }, 64, '... db_c: 2 x 32');
is($m0->{ U('leadlist_pool_limit', 'db_d') }, 2, '... db_d: 2 x 1');
is($m0->{ U('leadlist_pool_connections_open', 'leadlist_db') }, 0,
   'no connection open yet');

$r = http($ng->{ports}[0], "HEAD /metrics HTTP/1.0\r\nHost: m\r\n\r\n");
is($r->{status}, 200, 'HEAD: 200');
is($r->{body}, '', 'HEAD: no body');
is($r->{head}{'content-type'}, 'text/plain; version=0.0.4',
   'HEAD: the same type');

$r = http($ng->{ports}[0], "POST /metrics HTTP/1.0\r\nHost: m\r\n"
          . "Content-Length: 2\r\n\r\n{}");
is($r->{status}, 405, 'POST: 405');
is($r->{head}{allow}, 'GET, HEAD', 'POST: Allow: GET, HEAD');
is($r->{head}{'content-type'}, 'application/json', 'POST: JSON');
like($r->{body}, qr/^\{"code":"METHOD_NOT_ALLOWED","message":"Method not allowed, use GET or HEAD","requestId":"[0-9a-f]{32}"\}\z/,
     'POST: the error envelope');

$r = http($ng->{ports}[0], "GET /metrics HTTP/1.0\r\nHost: m\r\n"
          . "Content-Length: 5\r\n\r\nhello");
is($r->{status}, 200, 'GET with a body: the body is discarded');


# ------------------------------------------------------------ two workers

# 40 answers 404 on 40 connections: the error log says which worker gave
# each; the figures of any worker must count all 40

my $before = scrape();
my $recs = sequential_requests(%req, timeout => 10, list => 'nope',
                               ids => [map { "n$_" } 1 .. 40]);
is(statuses($recs)->{404}, 40, '40 answers 404');

my %by_pid;
$by_pid{$_}++ for map { /\[info\] (\d+)#\d+: .*leadlist: 404 / ? $1 : () }
                  @{ log_lines($ng, qr/leadlist: 404 /) };
diag('404s by worker pid: '
     . join(', ', map { "$_: $by_pid{$_}" } sort keys %by_pid));
is(scalar keys %by_pid, 2, 'both workers answered some');

scrape_when(sub { delta($before, $_[0], L('leadlist_responses_total', $LOC,
                                         'status="404"')) >= 40 });
for my $i (1 .. 6) {
    my $m = scrape();
    is(delta($before, $m, L('leadlist_responses_total', $LOC, 'status="404"')),
       40, "scrape $i: responses_total{status=\"404\"} counts all 40");
}

my $m1 = scrape_when(sub {
    delta($before, $_[0], L('leadlist_request_duration_seconds_count', $LOC))
        >= 40 });
is(delta($before, $m1, U('leadlist_pool_statements_total', 'leadlist_db')),
   40, 'statements_total: +40');
is(delta($before, $m1, U('leadlist_pool_wait_duration_seconds_count',
                         'leadlist_db')),
   40, 'wait_duration_seconds_count: +40');
is(delta($before, $m1, U('leadlist_pool_statement_duration_seconds_count',
                         'leadlist_db')),
   40, 'statement_duration_seconds_count: +40');
is(delta($before, $m1, L('leadlist_request_duration_seconds_count', $LOC)),
   40, 'request_duration_seconds_count: +40');
is(delta($before, $m1, L('leadlist_prospects_added_total', $LOC)), 0,
   'prospects_added_total: +0');
ok($m1->{ U('leadlist_pool_connects_total', 'leadlist_db') } >= 1,
   'connects_total counts the connects');

# one 200 and one 401
$before = $m1;
$recs = sequential_requests(%req, timeout => 10, ids => ['ok1']);
is($recs->[0]{status}, 200, 'a request adds one prospect');
$r = http($ng->{port}, "POST /api/lead-lists/l/add-prospects HTTP/1.0\r\n"
          . "Host: x\r\nContent-Type: application/json\r\n"
          . "Content-Length: 2\r\n\r\n{}");
is($r->{status}, 401, 'one without a token: 401');
my $m2 = scrape_when(sub {
    delta($before, $_[0], L('leadlist_request_duration_seconds_count', $LOC))
        >= 2 });
is(delta($before, $m2, L('leadlist_responses_total', $LOC, 'status="200"')),
   1, 'responses_total{status="200"}: +1');
is(delta($before, $m2, L('leadlist_responses_total', $LOC, 'status="401"')),
   1, 'responses_total{status="401"}: +1');
is(delta($before, $m2, L('leadlist_prospects_added_total', $LOC)), 1,
   'prospects_added_total: +1');
is(delta($before, $m2, L('leadlist_prospects_selected_total', $LOC)), 1,
   'prospects_selected_total: +1');
is(delta($before, $m2, L('leadlist_request_duration_seconds_count', $LOC)),
   2, 'request_duration_seconds_count: +2');


# ------------------------------------------------------------ work not done

# Only work stored now counts as prospects: a dry run (Prefer:
# tx=rollback) answers 200 with the counts an add would have, and stores
# nothing; a replayed answer (Idempotency-Key) was counted when it first
# ran.  Both are answers of the location all the same.

sub add_one {
    my ($id, @headers) = @_;
    my $body = qq({"persons":[{"id":"$id"}]});
    return http($ng->{port}, "POST /api/lead-lists/l/add-prospects HTTP/1.0"
                . "\r\nHost: x\r\nAuthorization: Bearer user=u;org=$org\r\n"
                . "Content-Type: application/json\r\n"
                . join('', map { "$_\r\n" } @headers)
                . "Content-Length: " . length($body) . "\r\n\r\n$body");
}

sub answered {
    my ($before, $n) = @_;
    return scrape_when(sub {
        delta($before, $_[0],
              L('leadlist_request_duration_seconds_count', $LOC)) >= $n });
}

$before = scrape();
$r = add_one('dry1', 'Prefer: tx=rollback');
is($r->{status}, 200, 'a dry run: 200');
is($r->{head}{'preference-applied'}, 'tx=rollback',
   'a dry run: Preference-Applied: tx=rollback');
like($r->{body}, qr/"addedCount":\s*1\b/, 'a dry run: it would add 1');
my $md = answered($before, 1);
is(delta($before, $md, L('leadlist_responses_total', $LOC, 'status="200"')),
   1, 'a dry run: responses_total{status="200"}: +1');
is(delta($before, $md, L('leadlist_prospects_added_total', $LOC)), 0,
   'a dry run: prospects_added_total: +0');
is(delta($before, $md, L('leadlist_prospects_selected_total', $LOC)), 0,
   'a dry run: prospects_selected_total: +0');

# the same add for real: it stores what the dry run did not, and counts
$before = $md;
$r = add_one('dry1');
is($r->{status}, 200, 'the dry run for real: 200');
like($r->{body}, qr/"addedCount":\s*1\b/,
     'the dry run for real: it adds 1 (the dry run stored nothing)');
$md = answered($before, 1);
is(delta($before, $md, L('leadlist_prospects_added_total', $LOC)), 1,
   'the dry run for real: prospects_added_total: +1');
is(delta($before, $md, L('leadlist_prospects_selected_total', $LOC)), 1,
   'the dry run for real: prospects_selected_total: +1');

# a key of this run only: keys outlive the fixture, which clears lists
my $key = "Idempotency-Key: k092-$$-" . int(time);
$before = $md;
my @idem = map { add_one('idem1', $key) } 1 .. 2;
is($idem[0]{status}, 200, 'a keyed add: 200');
is($idem[1]{status}, 200, 'its retry: 200');
is($idem[1]{head}{'idempotent-replayed'}, 'true', 'its retry is a replay');
$md = answered($before, 2);
is(delta($before, $md, L('leadlist_responses_total', $LOC, 'status="200"')),
   2, 'an add and its replay: responses_total{status="200"}: +2');
is(delta($before, $md, L('leadlist_prospects_added_total', $LOC)), 1,
   'an add and its replay: prospects_added_total: +1, the add only');
is(delta($before, $md, L('leadlist_prospects_selected_total', $LOC)), 1,
   'an add and its replay: prospects_selected_total: +1, the add only');


# ------------------------------------------------------------ held

my $lock = take_lock(60);
$before = scrape();

# db_c: lock_timeout=100ms, one connection per request
$recs = sequential_requests(port => $ng->{ports}[2], org => $org,
                            timeout => 10, ids => [map { "c$_" } 1 .. 3]);
is(statuses($recs)->{500}, 3, 'db_c: 3 statements fail: 500');
my $m = scrape();
is(delta($before, $m, U('leadlist_pool_statement_errors_total', 'db_c',
                        'sqlstate_class="55"')),
   3, 'db_c: statement_errors_total{sqlstate_class="55"}: +3');
is(delta($before, $m, U('leadlist_pool_connects_total', 'db_c')), 3,
   'db_c: connects_total: +3');
is(delta($before, $m, U('leadlist_pool_connections_closed_total', 'db_c',
                        'reason="requests"')),
   3, 'db_c: connections_closed_total{reason="requests"}: +3');
is(delta($before, $m, L('leadlist_responses_total', $LOC_C, 'status="500"')),
   3, 'the location of db_c: responses_total{status="500"}: +3');
is($m->{ U('leadlist_pool_connections_open', 'db_c') }, 0,
   'db_c: nothing open');

# each of the 3 waited out lock_timeout: 100 ms or more, well under 10 s
my $st = sub { U('leadlist_pool_statement_duration_seconds_' . $_[0], 'db_c',
                 $_[1]) };
is(delta($before, $m, $st->('bucket', 'le="0.05"')), 0,
   'db_c: no statement in the buckets up to 50 ms');
is(delta($before, $m, $st->('bucket', 'le="10"')), 3,
   'db_c: all 3 in the bucket up to 10 s');
ok(delta($before, $m, $st->('sum')) >= 0.299,
   'db_c: statement_duration_seconds_sum grew by 3 x 100 ms or more');

# db_b: one connection per worker, 300ms in the queue
my $b = spawn_requests(port => $ng->{ports}[1], org => $org, timeout => 60,
                       ids => [map { "b$_" } 1 .. 6]);
ok(wait_until(20, sub {
    scrape()->{ U('leadlist_pool_wait_timeouts_total', 'db_b') }
        - ($before->{ U('leadlist_pool_wait_timeouts_total', 'db_b') } // 0)
        >= 4 }),
   'db_b: at least 4 of 6 waits time out (2 connections at most)');

# db_d: per worker one request runs (held) and one waits, the others are
# refused at once: the queue is full
my $d = spawn_requests(port => $ng->{ports}[3], org => $org, timeout => 60,
                       ids => [map { "d$_" } 1 .. 8]);
my $dm;
ok(wait_until(20, sub {
    $dm = scrape();
    delta($before, $dm, U('leadlist_pool_queue_full_total', 'db_d'))
        + gauge($dm, 'db_d', 'busy')
        + $dm->{ U('leadlist_pool_waiting_requests', 'db_d') } == 8 }),
   'db_d: every request runs, waits, or was refused');
my $refused = delta($before, $dm, U('leadlist_pool_queue_full_total', 'db_d'));
ok($refused >= 4, "db_d: $refused refused, at least 8 - 2 x (1 + 1)");
ok(gauge($dm, 'db_d', 'busy') <= 2
   && $dm->{ U('leadlist_pool_waiting_requests', 'db_d') } <= 2,
   'db_d: at most one busy and one waiting per worker');

# leadlist_db: requests one at a time until both workers hold one (db_b's
# and db_d's connections have an application_name of their own)
my (@held, $n);
$n = 0;
while ($n < 24) {
    push @held, spawn_requests(%req, ids => ["h" . ++$n]);
    my $there = $n;
    ok(wait_until(10, sub { lock_waiters() == $there }),
       "held request $n waits for the lock") or last;
    last if keys %{ lock_waiters_by_worker() } >= 2;
}

my $by = lock_waiters_by_worker();
diag("held statements by worker: "
     . join(', ', map { "$_: $by->{$_}" } sort keys %$by));
is(scalar keys %$by, 2, "$n held requests, on both workers");

for my $i (1 .. 4) {
    $m = scrape();
    is(gauge($m, 'leadlist_db', 'busy'), $n,
       "scrape $i: $n held connections show as busy");
    is($m->{ U('leadlist_pool_waiting_requests', 'leadlist_db') }, 0,
       "scrape $i: none waiting");
}
is(gauge($m, 'leadlist_db', 'connecting'), 0, 'none connecting');
is($m->{ U('leadlist_pool_connections_open', 'leadlist_db') },
   gauge($m, 'leadlist_db', 'busy') + gauge($m, 'leadlist_db', 'idle'),
   'open = busy + idle');

# 40 more: at most 16 per worker run, the others wait
my $q = spawn_requests(%req, ids => [map { "q$_" } 1 .. 40]);
my $total = $n + 40;
ok(wait_until(20, sub {
    $m = scrape();
    gauge($m, 'leadlist_db', 'busy')
        + $m->{ U('leadlist_pool_waiting_requests', 'leadlist_db') } == $total
    && gauge($m, 'leadlist_db', 'connecting') == 0 }),
   "busy + waiting = $total requests");
diag(sprintf 'busy %d, waiting %d', gauge($m, 'leadlist_db', 'busy'),
     $m->{ U('leadlist_pool_waiting_requests', 'leadlist_db') });
ok($m->{ U('leadlist_pool_waiting_requests', 'leadlist_db') } >= $total - 32,
   'at least all beyond 2 x 16 wait');
ok(gauge($m, 'leadlist_db', 'busy') <= 32, 'at most 2 x 16 busy');

release_lock($lock);

my $held_recs = [ map { @{ collect_requests($_) } } @held, $q ];
is(statuses($held_recs)->{200}, $total, "all $total answered 200");
my $b_recs = collect_requests($b);
my $b_st = statuses($b_recs);
diag('db_b answers: ' . join(', ', map { "$_: $b_st->{$_}" } sort keys %$b_st));
is(($b_st->{200} // 0) + ($b_st->{503} // 0), 6, 'db_b: 200 or 503');
my $d_st = statuses(collect_requests($d));
is($d_st->{503}, $refused, 'db_d: each refused request answered 503');
is($d_st->{200}, 8 - $refused, 'db_d: the others 200 once the lock went');
is(delta($before, scrape_when(sub {
              delta($before, $_[0], L('leadlist_responses_total', $LOC_D,
                                      'status="503"')) >= $refused }),
          L('leadlist_responses_total', $LOC_D, 'status="503"')),
   $refused, 'db_d location: responses_total{status="503"}');

ok(wait_until(10, sub {
    $m = scrape();
    gauge($m, 'leadlist_db', 'busy') == 0
    && $m->{ U('leadlist_pool_waiting_requests', 'leadlist_db') } == 0 }),
   'afterwards: nothing busy, nothing waiting');
is(delta($before, $m, U('leadlist_pool_wait_timeouts_total', 'db_b')),
   $b_st->{503}, 'db_b: wait_timeouts_total counts each 503');
is(delta($before, $m, L('leadlist_responses_total', $LOC_B, 'status="503"')),
   $b_st->{503}, 'db_b location: responses_total{status="503"} too');
is(delta($before, $m, U('leadlist_pool_wait_timeouts_total', 'leadlist_db')),
   0, 'leadlist_db: no wait timed out');
is(delta($before, $m, L('leadlist_responses_total', $LOC, 'status="200"')),
   $total, "leadlist_db location: responses_total{status=\"200\"}: +$total");
is(delta($before, $m, L('leadlist_prospects_added_total', $LOC)), $total,
   "prospects_added_total: +$total");
is(delta($before, $m, U('leadlist_pool_statements_total', 'leadlist_db')),
   $total, "statements_total: +$total");
ok(delta($before, $m, U('leadlist_pool_wait_duration_seconds_sum',
                        'leadlist_db')) > 0,
   'wait_duration_seconds_sum grew: requests waited');
ok($m->{ U('leadlist_pool_wait_duration_seconds_bucket', 'leadlist_db',
           'le="+Inf"') }
   == $m->{ U('leadlist_pool_wait_duration_seconds_count', 'leadlist_db') },
   'the +Inf bucket is the count');
ok(wait_until(10, sub {
    delta($before, scrape(), U('leadlist_pool_connections_closed_total',
                               'db_b', 'reason="idle"')) >= 1 }),
   'db_b: a connection idle for 500ms is closed, reason "idle"');

promtool_check('after load', scrape_raw()->{body});


# ------------------------------------------------------------ PostgreSQL stops

$before = scrape();
my $open = $before->{ U('leadlist_pool_connections_open', 'leadlist_db') };
ok($open > 0, "$open connections open before PostgreSQL stops");

ok(pg_stop(), 'PostgreSQL stopped');
ok(wait_until(10, sub {
    scrape()->{ U('leadlist_pool_connections_open', 'leadlist_db') } == 0 }),
   'its connections are noticed closed');
$recs = sequential_requests(%req, timeout => 10, ids => [map { "s$_" } 1 .. 4]);
is(statuses($recs)->{503}, 4, '4 requests: 503');
$m = scrape();
is(delta($before, $m, U('leadlist_pool_connections_closed_total',
                        'leadlist_db', 'reason="broken"')),
   $open, 'connections_closed_total{reason="broken"}: each one');
ok(delta($before, $m, U('leadlist_pool_connect_failures_total',
                        'leadlist_db')) >= 1,
   'connect_failures_total grew');
is(delta($before, $m, L('leadlist_responses_total', $LOC, 'status="503"')),
   4, 'responses_total{status="503"}: +4');
is(delta($before, $m, U('leadlist_pool_statement_errors_total',
                        'leadlist_db', 'sqlstate_class="08"')),
   0, 'no statement was sent');

ok(pg_start(), 'PostgreSQL started');
my $ok = wait_until(10, sub {
    (sequential_requests(%req, timeout => 10, ids => ['again'])->[0]{status}
     // 0) == 200 });
ok($ok, 'requests succeed again');
promtool_check('after the outage', scrape_raw()->{body});


# ------------------------------------------------------------ reload

$before = scrape();
$open = $before->{ U('leadlist_pool_connections_open', 'leadlist_db') };
my %old = map { $_ => 1 } worker_pids($ng);
nginx_reload($ng);
ok(wait_until(15, sub {
    my @w = worker_pids($ng);
    @w == 2 && !grep { $old{$_} } @w }),
   'reload: new workers, the old ones gone');

$m = scrape();
my @back = grep { /_total\{|_count\{|_sum\{|_bucket\{/ && $m->{$_} < $before->{$_} }
           keys %$before;
is("@back", '', 'reload: no counter went backwards');
is_deeply([ map { $m->{$_} } sort grep { /^leadlist_(responses|prospects)/ } keys %$before ],
          [ map { $before->{$_} } sort grep { /^leadlist_(responses|prospects)/ } keys %$before ],
          'reload: the endpoint counters are the same');
is(delta($before, $m, U('leadlist_pool_connections_closed_total',
                        'leadlist_db', 'reason="exit"')),
   $open, "reload: the old workers closed their $open connections (exit)");
is($m->{ U('leadlist_pool_connections_open', 'leadlist_db') }, 0,
   'reload: their connections are not counted any more');
is($m->{ U('leadlist_pool_limit', 'leadlist_db') }, 32,
   'reload: the limit of the new workers');

$recs = sequential_requests(%req, timeout => 10, ids => ['after']);
is($recs->[0]{status}, 200, 'a request after the reload');
my $m3 = scrape_when(sub {
    delta($m, $_[0], L('leadlist_responses_total', $LOC, 'status="200"'))
        >= 1 });
is(delta($m, $m3, L('leadlist_responses_total', $LOC, 'status="200"')), 1,
   'it adds 1 to responses_total{status="200"}');
is(delta($m, $m3, L('leadlist_prospects_added_total', $LOC)), 1,
   'and 1 to prospects_added_total');

ok(stop_nginx($ng), 'nginx stops gracefully');
log_check($ng, 'metrics');

done_testing();
