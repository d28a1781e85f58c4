# A leadlist_pg_server line that lists several hosts (libpq's multi-host
# failover, SPEC 3): the module tries them in the conninfo's order, each
# within leadlist_pg_connect_timeout of its own, so that a first host that
# never answers (a powered-off machine: t/inc/Faults.pm's silent_port) is
# left for the next one instead of failing every request; target_session_
# attrs keeps libpq's meaning, prefer-standby's two rounds included.  And
# what libpq would refuse only when it connects (an enumeration's unknown
# value, lists of different lengths, a bad port) fails nginx -t, naming
# the directive.
#
# Plain Test::More with t/inc/Faults.pm, one nginx worker.  Organization
# t052.

use strict;
use warnings;
use lib 't/inc';
use Faults;
use Test::More;
use LeadlistDbTest qw(su);

faults_init();

my $org = 't052';
fixture($org);

my $pg = $ENV{TEST_NGINX_PG_PORT};
my $auth = "dbname=leadlist user=leadlist_app"
         . " password=$ENV{TEST_NGINX_PG_PASSWORD}";


# ------------------------------------------------------------------------
# nginx -t

my @bad = (
    [ "target_session_attrs=read-wrxite",
      qr/\Qinvalid target_session_attrs "read-wrxite" in\E
         \Q "leadlist_pg_server", must be any, read-write, read-only,\E
         \Q primary, standby or prefer-standby\E/x ],
    [ "sslmode=requre",
      qr/invalid sslmode "requre" in "leadlist_pg_server"/ ],
    [ "gssencmode=maybe",
      qr/invalid gssencmode "maybe" in "leadlist_pg_server"/ ],
    [ "channel_binding=on",
      qr/invalid channel_binding "on" in "leadlist_pg_server"/ ],
    [ "ssl_min_protocol_version=TLSv1.4",
      qr/invalid ssl_min_protocol_version "TLSv1.4"/ ],
    [ "host=127.0.0.1,127.0.0.1 port=$pg,$pg,$pg",
      qr/"leadlist_pg_server" lists 3 ports for 2 hosts/ ],
    [ "host=127.0.0.1,localhost hostaddr=127.0.0.1",
      qr/"leadlist_pg_server" lists 2 host names and 1 hostaddr values/ ],
    [ "host=127.0.0.1 port=99999",
      qr/invalid port "99999" in "leadlist_pg_server"/ ],
    [ "host=127.0.0.1,127.0.0.1 port=$pg,x",
      qr/invalid port "x" in "leadlist_pg_server"/ ],
);

for my $b (@bad) {
    my ($kw, $re) = @$b;
    my $t = nginx_config_test(conninfo => "host=127.0.0.1 port=$pg $auth $kw");
    isnt($t->{status}, 0, "nginx -t refuses $kw");
    like($t->{output}, $re, "  with a message naming it")
        or diag($t->{output});
    like($t->{output}, qr/nginx\.conf:\d+/, '  and the line');
}

for my $kw ("target_session_attrs=prefer-standby", "sslmode=disable",
            "ssl_min_protocol_version=tlsv1.2", "ssl_max_protocol_version=",
            "host=127.0.0.1,127.0.0.1 port=$pg")
{
    my $t = nginx_config_test(conninfo => "host=127.0.0.1 port=$pg $auth $kw");
    is($t->{status}, 0, "nginx -t accepts $kw") or diag($t->{output});
}


# ------------------------------------------------------------------------
# a first host that never answers

my %common = (workers => 1, upstream => <<'_EOC_');
        leadlist_pg_keepalive 4;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=5s;
        leadlist_pg_connect_timeout 1s;
_EOC_

sub ok_200 {
    my ($name, $recs) = @_;
    check_answers($name, $recs, allow => [200]);
}

{
    my $silent = silent_port();
    my $ng = start_nginx(%common, conninfo =>
        "host=127.0.0.1,127.0.0.1 port=$silent->{port},$pg $auth"
        . " target_session_attrs=read-write");
    my %req = (port => $ng->{port}, org => $org, timeout => 10);

    my $recs = parallel_requests(%req, ids => [map { "silent-$_" } 1 .. 4]);
    summarize('silent first host, 4 at once', $recs);
    ok_200('silent first host, 4 at once', $recs);

    ok(log_count($ng, qr/PostgreSQL\ 127\.0\.0\.1:$silent->{port}\/leadlist
                         \ could\ not\ connect:\ timed\ out/x),
       'the silent host timed out, and the log names it');

    $recs = sequential_requests(%req, ids => [map { "silent-s$_" } 1 .. 4]);
    ok_200('silent first host, then one after the other', $recs);

    log_check($ng, 'silent first host');
    stop_nginx($ng);
}


# ------------------------------------------------------------------------
# target_session_attrs on a primary listed twice: the rounds of libpq

{
    # a refusing first host, then the primary
    my $ng = start_nginx(%common, conninfo =>
        "host=127.0.0.1,127.0.0.1 port=1,$pg $auth");
    my $recs = parallel_requests(port => $ng->{port}, org => $org,
                                 timeout => 10,
                                 ids => [map { "refused-$_" } 1 .. 3]);
    ok_200('a refusing first host', $recs);
    log_check($ng, 'refusing first host');
    stop_nginx($ng);
}

{
    # no standby anywhere: prefer-standby's second round takes the primary
    my $ng = start_nginx(%common, conninfo =>
        "host=127.0.0.1,127.0.0.1 port=$pg,$pg $auth"
        . " target_session_attrs=prefer-standby");
    my $recs = sequential_requests(port => $ng->{port}, org => $org,
                                   timeout => 10, ids => ['prefer-1']);
    ok_200('prefer-standby, no standby', $recs);
    is(log_count($ng, qr/could not connect: .*not in hot standby mode/), 2,
       'prefer-standby: both hosts were asked for a standby first');
    log_check($ng, 'prefer-standby');
    stop_nginx($ng);
}

{
    # standby required, none there: each host tried, then 503
    my $ng = start_nginx(%common, conninfo =>
        "host=127.0.0.1,127.0.0.1 port=$pg,$pg $auth"
        . " target_session_attrs=standby");
    my $recs = sequential_requests(port => $ng->{port}, org => $org,
                                   timeout => 10, ids => ['standby-1']);
    check_answers('standby, none there', $recs, allow => [503]);
    cmp_ok(log_count($ng, qr/could not connect: .*not in hot standby mode/),
           '>=', 2, 'standby: both hosts were tried');
    log_check($ng, 'standby');
    stop_nginx($ng);
}

{
    # a server that admits fewer connections than leadlist_pg_max (its
    # max_connections, or here the role's CONNECTION LIMIT): the connects
    # beyond them fail, and the requests wait for the connections that do
    # serve instead of failing at once while those are busy
    my $app = 't052-connlimit';
    su("ALTER ROLE leadlist_app CONNECTION LIMIT 3;");
    my $ng = start_nginx(workers => 1, upstream => <<'_EOC_',
        leadlist_pg_keepalive 8;
        leadlist_pg_max 8;
        leadlist_pg_queue 64 timeout=5s;
        leadlist_pg_adaptive off;
        leadlist_pg_pipeline 1;
_EOC_
        conninfo => "$ENV{TEST_NGINX_PG_CONNINFO} application_name=$app");
    my $load = start_load(port => $ng->{port}, org => $org, clients => 8,
                          duration => 3, timeout => 10, prefix => 'connlimit');
    sleep 3;
    my $recs = finish_load($load);
    su("ALTER ROLE leadlist_app CONNECTION LIMIT -1;");
    summarize('a server that admits 3 connections, 8 clients', $recs);
    ok_200('a server that admits 3 connections, 8 clients', $recs);
    cmp_ok(scalar @$recs, '>=', 8, 'requests were served');
    ok(log_count($ng, qr/too many connections for role/),
       'connects beyond the limit were refused, and the log says so');
    log_check($ng, 'connection limit');
    stop_nginx($ng);
}

END { su("ALTER ROLE leadlist_app CONNECTION LIMIT -1;") }

done_testing();
