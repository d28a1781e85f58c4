# openapi.yaml against the module: the document lints clean with
# @redocly/cli, every request example is sent to a running nginx with the
# module, and each answer is checked against the document (status, body
# schema, headers, the response example of the same name); the examples
# themselves are checked against the schemas (ajv, JSON Schema 2020-12).
#
# Examples that share a name make one exchange (openapi.yaml, "About the
# examples").  Each exchange runs in an organization of its own, made
# fresh for it, so that they do not see each other's rows or keys:
#
#   list ll_q3_prospects (person, user u_ada) already holding per_0003
#   list ll_q3_accounts  (company)
#   search srch_cto_de   matches per_1001..per_1004 (not per_2001)
#
# A response example without a request example of its name is an answer
# this test cannot cause (409, 413, 500, 503, ...); only its schema is
# checked.  Nor does it cause a selection over the cap: that needs 1,001
# persons in the shared catalogue, whose indexes t/db/002 looks at.
#
# Needs build/npm (make openapi-tools), the module and a cluster
# (util/test.sh).

use strict;
use warnings;

use lib 't/db/lib', 't/inc';
use LeadlistDbTest qw(pg_skip_reason su lit);
use OwnNginx;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep);

my $root = do {
    require Cwd;
    require File::Basename;
    Cwd::abs_path(File::Basename::dirname(__FILE__) . '/..');
};
my $npm = "$root/build/npm";
my $redocly = "$npm/node_modules/.bin/redocly";
my $path = '/api/lead-lists/{leadListId}/add-prospects';

my $why = pg_skip_reason();
plan skip_all => $why if $why;
plan skip_all => "no $redocly: make openapi-tools" unless -x $redocly;
plan skip_all => 'TEST_NGINX_LOAD_MODULES does not name the module'
    unless ($ENV{TEST_NGINX_LOAD_MODULES} // '') ne ''
           && -f $ENV{TEST_NGINX_LOAD_MODULES};
plan skip_all => 'not under valgrind' if $ENV{TEST_NGINX_USE_VALGRIND};

my $json = JSON::PP->new->utf8->canonical;
my $dir = tempdir('leadlist-openapi-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/$_" for qw(conf logs tmp);

# the tools must not print their banners and update notices into TAP
$ENV{REDOCLY_TELEMETRY} = 'off';
$ENV{REDOCLY_SUPPRESS_UPDATE_NOTICE} = 'true';

# ---- 1. the document lints clean --------------------------------------

# The two example rules are off: this document's error exchanges have
# request examples that break the schemas on purpose.  This test checks
# every example itself, and also that those do break them.
my $lint = `cd $root && $redocly lint --format=stylish \\
    --skip-rule no-invalid-media-type-examples \\
    --skip-rule no-invalid-parameter-examples openapi.yaml 2>&1`;
is($? >> 8, 0, 'redocly lint: no error') or diag($lint);
diag("redocly: $_") for grep { /^\s*\d+:\d+\s+warning\s/ } split /\n/, $lint;

my $out = `cd $root && $redocly bundle openapi.yaml --dereferenced \\
    --ext json -o $dir/openapi.json 2>&1`;
is($? >> 8, 0, 'redocly bundle --dereferenced') or BAIL_OUT($out);

my $doc = do {
    open my $fh, '<', "$dir/openapi.json" or die "$dir/openapi.json: $!";
    local $/;
    $json->decode(<$fh>);
};

my $op = $doc->{paths}{$path}{post} or BAIL_OUT("no POST $path");
my @params = (@{ $doc->{paths}{$path}{parameters} // [] },
              @{ $op->{parameters} // [] });
my $media = $op->{requestBody}{content}{'application/json'}
    or BAIL_OUT('no application/json request body');
my $responses = $op->{responses};


# ---- 2. the exchanges: a request example and its response ------------

my %caller_token = (
    member         => 'Bearer member-token',
    admin          => 'Bearer admin-token',
    outsider       => 'Bearer outsider-token',
    noOrganization => 'Bearer no-org-token',
    anonymous      => undef,
);

# the response status whose examples hold an exchange's name
my %expect;
for my $status (sort keys %$responses) {
    my $ex = $responses->{$status}{content}{'application/json'}{examples}
             // {};
    for my $name (keys %$ex) {
        ok(!exists $expect{$name}, "example $name answers one status")
            or next;
        $expect{$name} = $status;
    }
}

my @names = sort keys %{ $media->{examples} };
ok(@names >= 20, scalar(@names) . ' request examples');

sub param_example {
    my ($p, $name) = @_;
    my $ex = $p->{examples} // {};
    return $ex->{$name} if $ex->{$name};
    return $ex->{default};
}

# a path segment as a client sends it
sub escape_segment {
    my ($s) = @_;
    utf8::encode($s);
    $s =~ s/([^A-Za-z0-9._~!\$&'()*+,;=:\@-])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

# What one exchange sends: method, URI, headers, body, and the parts a
# schema judges (for the example checks).
sub request_of {
    my ($name, $org) = @_;
    my $ex = $media->{examples}{$name};
    my $caller = $ex->{'x-caller'} // 'member';
    die "$name: unknown x-caller $caller" unless exists $caller_token{$caller};

    my %h = ('X-Test-Org' => $org);
    $h{Authorization} = $caller_token{$caller} if $caller_token{$caller};
    $h{'Content-Type'} = $ex->{'x-content-type'} // 'application/json';

    my $uri = $path;
    my @parts;
    for my $p (@params) {
        my $pe = param_example($p, $name) or next;
        push @parts, { what => "$p->{in} $p->{name}", schema => $p->{schema},
                       value => $pe->{value} };
        if ($p->{in} eq 'path') {
            $uri =~ s/\{\Q$p->{name}\E\}/escape_segment($pe->{value})/e;
        } elsif ($p->{in} eq 'header') {
            my $v = $pe->{value};
            utf8::encode($v);
            $h{$p->{name}} = $v;
        }
    }
    die "$name: $uri has a parameter without example" if $uri =~ /\{/;

    my ($body, $value);
    if ($ex->{'x-raw'}) {
        $body = $ex->{value};
        utf8::encode($body);
        $value = eval { $json->decode($body) };
    } else {
        $body = $json->encode($ex->{value});
        $value = $ex->{value};
    }
    push @parts, { what => 'body', schema => $media->{schema},
                   value => $value, unparsable => !defined $value };

    return { uri => $uri, headers => \%h, body => $body, parts => \@parts,
             content_type_ok => exists $op->{requestBody}{content}{
                                    (split /;/, $h{'Content-Type'})[0] } };
}


# ---- 3. nginx with the module, the auth stand-in, the fixtures -------

my $port = $ENV{TEST_NGINX_PORT} || 1984;

my $server = auth_server(port => $port,
                         headers => [['X-User-Id', '$ll_user'],
                                     ['X-Org-Id', '$ll_org'],
                                     ['X-User-Role', '$ll_role']]);

open my $cf, '>', "$dir/conf/nginx.conf" or die $!;
print $cf own_nginx_conf(dir => $dir,
                         main => "load_module $ENV{TEST_NGINX_LOAD_MODULES};",
                         http => <<"_EOC_");
    upstream leadlist_db {
        leadlist_pg_server "$ENV{TEST_NGINX_PG_CONNINFO}";
        leadlist_pg_keepalive 2;
    }

    # the callers of openapi.yaml's x-caller; the organization comes from
    # the test (X-Test-Org), one per exchange
    map \$http_authorization \$ll_user {
        "Bearer member-token"   u_ada;
        "Bearer admin-token"    u_cy;
        "Bearer outsider-token" u_bob;
        "Bearer no-org-token"   u_dee;
    }
    map \$http_authorization \$ll_org {
        "Bearer no-org-token"   "";
        default                 \$http_x_test_org;
    }
    map \$http_authorization \$ll_role {
        "Bearer admin-token"    admin;
    }

$server
_EOC_
close $cf;

my $tag = "oa$$";
my @orgs;

sub global_fixture {
    my @rows;
    for my $i (1 .. 4) {
        push @rows, [sprintf('per_%04d', 1000 + $i),
                     { title => 'CTO', companyDomain => 'openapi-example.test',
                       fullName => "CTO $i" }];
    }
    push @rows, ['per_2001', { title => 'VP Sales',
                               companyDomain => 'openapi-example.test' }];
    my $sql = "INSERT INTO global.persons (id, profile) VALUES\n"
        . join(",\n", map { '(' . lit($_->[0]) . ', '
                            . lit($json->encode({ id => $_->[0], %{ $_->[1] } }))
                            . '::jsonb)' } @rows)
        . "\nON CONFLICT (id) DO NOTHING;";
    su($sql);
}

sub global_cleanup {
    su("DELETE FROM global.persons WHERE id IN ('per_1001', 'per_1002',"
       . " 'per_1003', 'per_1004', 'per_2001');");
}

sub org_fixture {
    my ($org) = @_;
    my $q = lit($org);
    push @orgs, $org;
    su(join "\n",
       "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES ($q, 'll_q3_prospects', 'Q3 prospects', 'person',"
       . " '{u_ada}'), ($q, 'll_q3_accounts', 'Q3 accounts', 'company',"
       . " '{u_ada}');",
       "INSERT INTO tenant.searches (org_id, id, user_id, filters) VALUES"
       . " ($q, 'srch_cto_de', 'u_ada', '{\"titles\": [\"CTO\"],"
       . " \"companyDomains\": [\"openapi-example.test\"]}');",
       "INSERT INTO tenant.persons (org_id, id, profile) VALUES ($q,"
       . " 'per_0003', '{\"id\": \"per_0003\", \"fullName\":"
       . " \"Mary Somerville\"}');",
       "INSERT INTO tenant.lead_list_persons (org_id, lead_list_id,"
       . " person_id, added_by) VALUES ($q, 'll_q3_prospects', 'per_0003',"
       . " 'u_ada');");
}

sub orgs_cleanup {
    return unless @orgs;
    my $in = join ', ', map { lit($_) } @orgs;
    su(join "\n", map { "DELETE FROM tenant.$_ WHERE org_id IN ($in);" }
                      qw(lead_list_persons persons lead_lists searches));
}

my $nginx_pid;

sub stop_nginx {
    return unless $nginx_pid;
    stop_own_nginx($nginx_pid);
    undef $nginx_pid;
}

END {
    my $rc = $?;
    stop_nginx();
    eval { orgs_cleanup(); global_cleanup(); 1 } or warn $@;
    $? = $rc;
}

global_fixture();

{
    ($nginx_pid, my $why) = start_own_nginx($dir);
    BAIL_OUT("nginx did not start: $why") unless $nginx_pid;
}

# One HTTP/1.1 request on a connection of its own, bytes as given (a
# client library would refuse the non-ASCII header of an example):
# { status, headers => { lowercased name => value or [values] }, content }
sub send_request {
    my ($req) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Timeout => 10)
        or die "connect 127.0.0.1:$port: $!";
    my $head = "POST $req->{uri} HTTP/1.1\r\nHost: localhost\r\n"
        . "Connection: close\r\n"
        . 'Content-Length: ' . length($req->{body}) . "\r\n";
    for my $h (sort keys %{ $req->{headers} }) {
        $head .= "$h: $req->{headers}{$h}\r\n";
    }
    print {$s} "$head\r\n$req->{body}" or die "send: $!";

    my $raw = '';
    $s->timeout(10);
    while (1) {
        my $n = sysread($s, my $buf, 65536);
        die "read: $!" unless defined $n;
        last if $n == 0;
        $raw .= $buf;
    }
    close $s;

    my ($top, $content) = split /\r\n\r\n/, $raw, 2;
    my ($status_line, @lines) = split /\r\n/, $top // '';
    my ($status) = ($status_line // '') =~ m{^HTTP/1\.[01] (\d{3}) };
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $k = lc $k;
        $h{$k} = exists $h{$k} ? [ (ref $h{$k} ? @{ $h{$k} } : $h{$k}), $v ]
                               : $v;
    }
    die "no answer to $req->{uri}: $raw" unless $status;
    die "chunked answer" if ($h{'transfer-encoding'} // '') =~ /chunked/i;
    return { status => $status, headers => \%h, content => $content // '' };
}


# ---- 4. send every exchange, collect what the schemas must judge -----

my @cases;       # for ajv: { id, schema, value, coerce }
my %judge;       # id => [what the outcome must be (1 valid, 0 not), name]

sub judge {
    my ($label, $schema, $value, $want, %o) = @_;
    my $id = scalar @cases;
    push @cases, { id => $id, schema => $schema, value => $value,
                   coerce => $o{coerce} ? JSON::PP::true : JSON::PP::false };
    $judge{$id} = [$want, $label];
}

sub without_request_id {
    my ($v) = @_;
    return $v unless ref $v eq 'HASH';
    my %c = %$v;
    delete $c{requestId};
    return \%c;
}

# the checks of one answer against the response documented for it
sub check_answer {
    my ($name, $what, $res, $want_status) = @_;
    my $status = $res->{status};
    my $label = "$name: $what";

    is($status, $want_status, "$label: status $want_status")
        or diag($res->{content});

    my $doc_res = $responses->{$status};
    ok($doc_res, "$label: status $status is documented") or return;

    like($res->{headers}{'content-type'} // '', qr{^application/json\b},
         "$label: Content-Type application/json");

    my $body = eval { $json->decode($res->{content}) };
    ok(defined $body, "$label: the body is JSON") or return;

    my $media_res = $doc_res->{content}{'application/json'};
    judge("$label: body matches the $status schema", $media_res->{schema},
          $body, 1);

    for my $h (sort keys %{ $doc_res->{headers} // {} }) {
        my $hd = $doc_res->{headers}{$h};
        my $v = $res->{headers}{lc $h};
        # a header example of the exchange's name: the answer carries it
        my $hx = ($hd->{examples} // {})->{$name};
        if ($hd->{required} || $hx) {
            ok(defined $v, "$label: header $h is present") or next;
        }
        next unless defined $v;
        ok(!ref $v, "$label: header $h is sent once") or next;
        judge("$label: header $h matches its schema", $hd->{schema}, $v, 1,
              coerce => 1);
        is($v, $hx->{value}, "$label: header $h as in its example")
            if $hx;
    }

    if (ref $body eq 'HASH' && exists $body->{requestId}) {
        is($body->{requestId}, $res->{headers}{'x-request-id'},
           "$label: requestId is X-Request-Id");
    }

    my $ex = $media_res->{examples}{$name};
    is_deeply(without_request_id($body), without_request_id($ex->{value}),
              "$label: body as in the response example $name")
        or diag("got: $res->{content}");

    return $body;
}

my $n = 0;
for my $name (@names) {
    $n++;
    my $org = "$tag-$n";
    org_fixture($org);

    my $want = $expect{$name};
    ok($want, "$name: a response example of this name says its status")
        or next;

    my $req = request_of($name, $org);
    my $res = send_request($req);
    check_answer($name, 'answer', $res, $want);
    ok(!defined $res->{headers}{'idempotent-replayed'},
       "$name: a first answer is no replay");

    # an Idempotency-Key: the same request again is answered from the
    # record of the first when that reached the database (200), and runs
    # again when it did not (a 400 before it)
    if (defined $req->{headers}{'Idempotency-Key'}) {
        my $again = send_request($req);
        my $first = eval { $json->decode($res->{content}) };
        my $body = check_answer($name, 'retry', $again, $want);
        if ($want eq '200') {
            is($again->{headers}{'idempotent-replayed'}, 'true',
               "$name: the retry is a replay");
            is_deeply(without_request_id($body), without_request_id($first),
                      "$name: the retry answers the first body");
        } else {
            ok(!defined $again->{headers}{'idempotent-replayed'},
               "$name: a retry of an answer before the database runs again");
        }
    }

    # the example itself: a request whose answer is not a 400 must pass
    # the schemas; one answered 400 must break them, unless the example
    # says only the server can tell (x-schema-valid)
    my $ex = $media->{examples}{$name};
    my $valid_wanted = $want ne '400' || $ex->{'x-schema-valid'} ? 1 : 0;
    my $label = "$name: the request example "
        . ($valid_wanted ? 'passes' : 'breaks') . ' the schemas';
    if (!$req->{content_type_ok} || grep { $_->{unparsable} }
                                         @{ $req->{parts} })
    {
        ok(!$valid_wanted, "$label (content type or JSON)");
    } else {
        # all parts in one schema, so that one ajv verdict says it
        my %props;
        my %value;
        my $i = 0;
        for my $p (@{ $req->{parts} }) {
            $props{"p$i"} = $p->{schema};
            $value{"p$i"} = $p->{value};
            $i++;
        }
        judge($label, { type => 'object', properties => \%props },
              \%value, $valid_wanted);
    }
}

stop_nginx();

{
    open my $fh, '<', "$dir/logs/error.log" or die "error.log: $!";
    my @bad = grep { /\[(alert|emerg|crit)\]|exited on signal/ } <$fh>;
    is(scalar @bad, 0, 'no alert, emerg, crit or crash in the error log')
        or diag(@bad);
}

# ---- 5. every response example and header example fits its schema ----

for my $status (sort keys %$responses) {
    my $r = $responses->{$status};
    my $m = $r->{content}{'application/json'};
    ok($m && $m->{schema}, "response $status: application/json with a schema")
        or next;
    ok(%{ $m->{examples} // {} }, "response $status: has examples");
    ok($r->{headers}{'X-Request-Id'}, "response $status: X-Request-Id");
    for my $name (sort keys %{ $m->{examples} // {} }) {
        judge("response $status example $name matches its schema",
              $m->{schema}, $m->{examples}{$name}{value}, 1);
    }
    for my $h (sort keys %{ $r->{headers} // {} }) {
        my $hd = $r->{headers}{$h};
        my @ex = map { [$_, $hd->{examples}{$_}{value}] }
                     sort keys %{ $hd->{examples} // {} };
        push @ex, ['example', $hd->{example}] if exists $hd->{example};
        for (@ex) {
            judge("response $status header $h example $_->[0]",
                  $hd->{schema}, $_->[1], 1, coerce => 1);
        }
    }
}

# ---- 6. ajv's verdicts ----------------------------------------------

my $in = "$dir/cases.json";
open my $fh, '>', $in or die $!;
print $fh $json->encode(\@cases);
close $fh;

my $verdicts = `node $root/t/openapi/validate.js $npm < $in`;
is($? >> 8, 0, 'ajv ran') or BAIL_OUT($verdicts);
my %verdict = map { $_->{id} => $_ } @{ $json->decode($verdicts) };

for my $id (sort { $a <=> $b } keys %judge) {
    my ($want, $label) = @{ $judge{$id} };
    my $v = $verdict{$id};
    ok($v && ($v->{valid} ? 1 : 0) == $want, $label)
        or diag($v ? $v->{errors} || 'valid' : 'no verdict');
}

done_testing();
