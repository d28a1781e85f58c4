#!/usr/bin/perl
#
# Concurrency of POST /api/lead-lists/{id}/add-prospects (SPEC 1.4
# "Duplicates"): requests adding overlapping prospects to one list at the
# same time must together count each prospect exactly once, store each
# membership once, and all succeed (no deadlock, no 500, no 503); and each
# request's own counts (SPEC 1.5) add up to what it selected.
#
# The data-driven Test::Nginx format sends one request at a time, so this
# file is plain Test::More: it starts its own nginx (t/inc/Faults.pm:
# master and 2 workers, so that requests really run in parallel, each
# worker with its own PostgreSQL pool), forks clients that wait on one
# barrier and then fire together, and checks the answers and the
# database.  nginx is stopped in an END block, whatever happens.
#
# Needs the environment util/test.sh exports: TEST_NGINX_PG_* (a cluster
# with the migrations) and TEST_NGINX_LOAD_MODULES.  Organization t041.

use strict;
use warnings;

use lib 't/inc';
use lib 't/db/lib';

use Test::More;
use File::Temp ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);
use List::Util qw(sum0 shuffle);
use LeadlistDbTest qw(pg_skip_reason su_try);
use Faults qw(start_nginx log_lines);

# Leadlist.pm hooks into Test::Nginx::Socket only when that is loaded;
# here it provides db_fixture.
use Leadlist qw(db db_fixture);

my $why = pg_skip_reason();
$why //= 'TEST_NGINX_PG_CONNINFO is not set'
    unless defined $ENV{TEST_NGINX_PG_CONNINFO};
$why //= 'TEST_NGINX_LOAD_MODULES is not set'
    unless defined $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => $why if $why;

my $ORG = 't041';
my $N = 20;                 # concurrent clients per round
my $TIMEOUT = 30;           # seconds, per client

# the clients' results
my $dir = File::Temp::tempdir('leadlist-t041-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
my ($ng, $port);

# Faults.pm stops nginx in an END block of its own
END {
    my $code = $?;
    eval { cleanup_db() } if $ENV{TEST_NGINX_PG_PORT};
    $? = $code;
}


sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh>;
}


# ----------------------------------------------------------------------
# clients

# One request on its own connection; returns "status\tbody" or "ERR: ...".
sub http_post {
    my ($uri, $body, $user) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $TIMEOUT)
        or return "ERR: connect: $!";

    my $req = "POST $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "Authorization: Bearer user=$user;org=$ORG\r\n"
            . "Content-Type: application/json\r\n"
            . "Content-Length: " . length($body) . "\r\n\r\n" . $body;

    local $SIG{ALRM} = sub { die "timeout\n" };
    my $resp = '';
    my $ok = eval {
        alarm $TIMEOUT;
        print {$s} $req or die "write: $!\n";
        while (1) {
            my $n = sysread $s, my $buf, 65536;
            die "read: $!\n" unless defined $n;
            last if $n == 0;
            $resp .= $buf;
        }
        alarm 0;
        1;
    };
    alarm 0;
    close $s;

    return "ERR: $@" unless $ok;

    my ($head, $rbody) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d{3})};
    return "ERR: no status line in: $resp" unless $status;

    $rbody //= '';
    if ($head =~ /^Transfer-Encoding:\s*chunked/mi) {
        my $out = '';
        while ($rbody =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr($rbody, 0, $len, '');
            $rbody =~ s/^\r\n//;
        }
        $rbody = $out;
    }

    return "$status\t$rbody";
}

# Runs the requests [uri, body, user] all at once: each in its own process,
# released together by closing a pipe they all wait on.  Returns the
# results in request order.
sub fire {
    my (@reqs) = @_;

    pipe my $gate_r, my $gate_w or die "pipe: $!";
    my @kids;

    for my $i (0 .. $#reqs) {
        my $file = "$dir/result-$i";
        unlink $file;

        my $pid = fork;
        die "fork: $!" unless defined $pid;

        if ($pid == 0) {
            close $gate_w;
            my $x = <$gate_r>;          # EOF when the parent opens the gate
            my $r = http_post(@{ $reqs[$i] });
            if (open my $fh, '>', "$file.tmp") {
                print {$fh} $r;
                close $fh;
                rename "$file.tmp", $file;
            }
            POSIX::_exit(0);
        }

        push @kids, [$pid, $file];
    }

    close $gate_r;
    sleep 0.2;                  # let every child reach the gate
    close $gate_w;

    my @out;
    for my $k (@kids) {
        waitpid $k->[0], 0;
        my $r = slurp($k->[1]);
        push @out, length $r ? $r : 'ERR: no result';
    }

    return @out;
}

# Each request's answer: 200 with the three counts of SPEC 1.5, which
# add up to what the request selected (its 4th element: its distinct
# ids, or the size of its page); returns the addedCounts.
sub added_counts {
    my ($name, $reqs, @results) = @_;
    my @counts;
    my $i = 0;
    for my $r (@results) {
        my ($status, $body) = split /\t/, $r, 2;
        my ($added, $already, $missed) = ($body // '') =~
            /^\{"addedCount":(\d+),"alreadyInListCount":(\d+),"notMatchedCount":(\d+)\}\z/;
        if (is($status, '200', "$name: request $i answers 200")) {
            ok(defined $added, "$name: request $i body has the three counts")
                or diag($body);
            is(($added // 0) + ($already // 0) + ($missed // 0),
               $reqs->[$i][3], "$name: request $i counts add up to the"
               . " $reqs->[$i][3] it selected");
        }
        else {
            diag("request $i: $r");
        }
        push @counts, $added // 0;
        $i++;
    }
    return @counts;
}

sub persons_body {
    my (@ids) = @_;
    return '{"persons":['
         . join(',', map { qq({"id":"$_","firstName":"F $_"}) } @ids)
         . ']}';
}

sub pid { sprintf 'p-%03d', $_[0] }


# ----------------------------------------------------------------------
# the database

sub setup_db {
    db_fixture($ORG,
        lists => [['list-c', 'person', 'u-1', 'u-2'],
                  ['list-d', 'person', 'u-1']],
        searches => [['s-1', '{"companyDomains":["t041.example"]}']]);

    db(<<'_SQL_');
DELETE FROM global.persons WHERE id LIKE 't041-%';
INSERT INTO global.persons (id, profile)
SELECT 't041-g' || lpad(i::text, 3, '0'),
       jsonb_build_object('id', 't041-g' || lpad(i::text, 3, '0'),
                          'companyDomain', 't041.example')
  FROM generate_series(1, 50) AS i;
_SQL_
}

sub cleanup_db {
    db_fixture($ORG);
    db("DELETE FROM global.persons WHERE id LIKE 't041-%';");
}

sub q1 {
    my ($sql) = @_;
    my $r = su_try($sql);
    return "SQL failed: $r->{err}" unless $r->{ok};
    (my $out = $r->{out}) =~ s/\s+\z//;
    return $out;
}


# ----------------------------------------------------------------------
# the tests

setup_db();

$ng = start_nginx(upstream => "leadlist_pg_keepalive 4;\nleadlist_pg_max 8;");
$port = $ng->{port};

my $uri_c = '/api/lead-lists/list-c/add-prospects';
my $uri_d = '/api/lead-lists/list-d/add-prospects';

# Round 1: 20 clients, each 20 persons, windows overlapping by 15; each
# request lists its persons in a different order.  Distinct: 5*19 + 20.
{
    my (@reqs, %distinct);
    for my $i (0 .. $N - 1) {
        my @ids = map { pid($_) } $i * 5 .. $i * 5 + 19;
        $distinct{$_} = 1 for @ids;
        push @reqs, [$uri_c, persons_body(shuffle @ids), $i % 2 ? 'u-1' : 'u-2',
                     scalar @ids];
    }
    my $want = keys %distinct;

    my @counts = added_counts('overlapping windows', \@reqs, fire(@reqs));
    is(sum0(@counts), $want,
       "overlapping windows: addedCount sums to the $want distinct prospects");
    is(q1("SELECT count(*), count(DISTINCT person_id) FROM tenant.lead_list_persons"
          . " WHERE org_id = '$ORG' AND lead_list_id = 'list-c'"),
       "$want\t$want", "overlapping windows: $want memberships, one each");
    is(q1("SELECT count(*) FROM tenant.persons WHERE org_id = '$ORG'"),
       $want, "overlapping windows: $want tenant copies");
    is(q1("SELECT count(*) FROM tenant.persons WHERE org_id = '$ORG'"
          . " AND profile->>'id' = id AND profile->>'firstName' = 'F ' || id"),
       $want, "overlapping windows: every tenant copy is a whole profile");

    # the same requests again: nothing is new
    @counts = added_counts('repeated windows', \@reqs, fire(@reqs));
    is(sum0(@counts), 0, 'repeated windows: addedCount sums to 0');
    is(q1("SELECT count(*) FROM tenant.lead_list_persons"
          . " WHERE org_id = '$ORG' AND lead_list_id = 'list-c'"),
       $want, "repeated windows: still $want memberships");
}

# Round 2: 20 clients all adding the very same 30 persons (in different
# orders, some twice in one request) to another list.
{
    my @ids = map { pid($_) } 200 .. 229;
    my @reqs = map { [$uri_d, persons_body(shuffle(@ids, @ids[0 .. $_])), 'u-1',
                      30] }
               0 .. $N - 1;

    my @counts = added_counts('identical sets', \@reqs, fire(@reqs));
    is(sum0(@counts), 30, 'identical sets: addedCount sums to 30');
    is(q1("SELECT count(*) FROM tenant.lead_list_persons"
          . " WHERE org_id = '$ORG' AND lead_list_id = 'list-d'"),
       30, 'identical sets: 30 memberships');
}

# Round 3: bulk mode, 10 clients paging overlapping windows of one saved
# search's 50 matches into list-c.
{
    my @reqs = map {
        [$uri_c, qq({"selection":{"searchId":"s-1","selectAll":true,)
                 . qq("offset":@{[ $_ * 4 ]},"limit":15}}), 'u-1',
         50 - $_ * 4 < 15 ? 50 - $_ * 4 : 15]
    } 0 .. 9;

    my @counts = added_counts('bulk windows', \@reqs, fire(@reqs));
    is(sum0(@counts), 50, 'bulk windows: addedCount sums to the 50 matches');
    is(q1("SELECT count(*) FROM tenant.lead_list_persons WHERE org_id = '$ORG'"
          . " AND lead_list_id = 'list-c' AND person_id LIKE 't041-g%'"),
       50, 'bulk windows: 50 memberships');
    is(q1("SELECT count(*) FROM tenant.persons AS t JOIN global.persons AS g"
          . " ON g.id = t.id AND g.profile = t.profile"
          . " WHERE t.org_id = '$ORG' AND t.id LIKE 't041-g%'"),
       50, 'bulk windows: 50 tenant copies equal to the catalogue');
}

# Round 4: direct and bulk requests for the same prospects at once.
{
    db_fixture($ORG, lists => [['list-e', 'person', 'u-1']],
               searches => [['s-1', '{"companyDomains":["t041.example"]}']]);
    my $uri_e = '/api/lead-lists/list-e/add-prospects';
    my @all = map { sprintf 't041-g%03d', $_ } 1 .. 50;
    my @reqs;
    for my $i (0 .. 9) {
        my $last = $i * 5 + 9 > 49 ? 49 : $i * 5 + 9;
        push @reqs, [$uri_e, persons_body(shuffle @all[$i * 5 .. $last]), 'u-1',
                     $last - $i * 5 + 1];
        push @reqs, [$uri_e, qq({"selection":{"searchId":"s-1","ids":[)
                             . join(',', map { qq("$_") } shuffle @all[$i * 3 .. $i * 3 + 20])
                             . ']}}', 'u-1', 21];
    }

    my @counts = added_counts('mixed modes', \@reqs, fire(@reqs));
    is(sum0(@counts), 50, 'mixed modes: addedCount sums to 50');
    is(q1("SELECT count(*) FROM tenant.lead_list_persons"
          . " WHERE org_id = '$ORG' AND lead_list_id = 'list-e'"),
       50, 'mixed modes: 50 memberships');
}

# nginx lived through it and logged no error
{
    my @bad = @{ log_lines($ng,
                     qr/\[(?:error|crit|alert|emerg)\]|exited on signal/) };
    is(scalar(@bad), 0, 'no [error], [crit], [alert] or crash in the error log')
        or diag(join '', @bad[0 .. ($#bad < 9 ? $#bad : 9)]);
    ok(kill(0, $ng->{master}), 'nginx is still running');
}

done_testing();
