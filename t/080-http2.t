#!/usr/bin/perl
#
# The endpoint over HTTP/2 (cleartext, prior knowledge), as an edge that
# terminates h2 serves it: the body arrives in DATA frames, with or
# without a content-length, and a refused stream must not take the
# connection's other streams with it.  The data-driven format speaks
# HTTP/1 only, so this file is plain Test::More over curl, on an nginx of
# its own (t/inc/Faults.pm) with "listen ... http2".  Organization t080.
#
# Only answers given after the whole body arrived are checked here.  An
# answer given earlier (401 or 413 with the body still coming) is
# complete, and then nginx ends the stream with RST_STREAM(NO_ERROR), as
# RFC 9113 8.1 allows for a server that needs no more of the request;
# curl 7.88 (Debian 12) reports that as an error (92) even so, for nginx's
# own auth_request alike, so curl cannot check those answers.

use strict;
use warnings;

use lib 't/inc';

use Test::More;
use File::Temp qw(tempdir);
use Faults;
use LeadlistDbTest qw(su);

faults_init();

my $curl_features = `curl --version 2>/dev/null` // '';
plan skip_all => 'needs curl with HTTP/2' unless $curl_features =~ /\bHTTP2\b/;

my $ORG = 't080';
my $tmp = tempdir('leadlist-t080-XXXXXX', TMPDIR => 1, CLEANUP => 1);

fixture($ORG);

my $ng = start_nginx(listen => 'http2');
my $base = "http://127.0.0.1:$ng->{port}/api/lead-lists";

my $AUTH = "Authorization: Bearer user=u;org=$ORG";
my $JSON = 'Content-Type: application/json';


# One request over its own HTTP/2 connection (curl 7.88 cannot reuse a
# prior-knowledge connection): method, uri, headers, body, and stdin to
# send the body from a pipe, so that its length is unknown and no
# content-length goes with it.  Returns { status, version, headers, body }.
sub h2 {
    my (%q) = @_;
    my @args = ('-sS', '--http2-prior-knowledge', '--max-time', '20',
                '-w', '%{http_code} %{http_version}',
                '-D', "$tmp/h", '-o', "$tmp/b", '-X', $q{method} // 'POST');

    push @args, '-H', $_ for @{ $q{headers} // [ $AUTH, $JSON ] };

    if (defined $q{body}) {
        open my $fh, '>', "$tmp/in" or die $!;
        print $fh $q{body};
        close $fh;
        push @args, $q{stdin} ? ('-T', '-') : ('--data-binary', "\@$tmp/in");
    }

    push @args, "$base/$q{uri}";

    my $cmd = join ' ', map { "'" . s/'/'\\''/gr . "'" } 'curl', @args;
    $cmd .= $q{stdin} ? " < '$tmp/in'" : ' < /dev/null';

    my %r;
    @r{qw(status version)} = split / /, `$cmd`;
    $r{$_} = slurp("$tmp/" . substr($_, 0, 1)) for qw(headers body);
    unlink "$tmp/h", "$tmp/b";

    return \%r;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return scalar <$fh>;
}

sub persons {
    my ($prefix, $n) = @_;
    return '{"persons":['
        . join(',', map { sprintf '{"id":"%s-%03d","headline":"%s"}',
                                  $prefix, $_, 'x' x 400 } 1 .. $n)
        . ']}';
}

sub is_json_answer {
    my ($r, $status, $body_re, $name) = @_;
    is $r->{version}, '2', "$name: answered over HTTP/2";
    is $r->{status}, $status, "$name: $status";
    like $r->{headers}, qr{^content-type: application/json\r?$}mi,
        "$name: JSON";
    like $r->{headers}, qr{^x-request-id: [0-9a-f]{32}\r?$}mi,
        "$name: X-Request-Id";
    like $r->{body}, $body_re, "$name: body";
}


my $r;

$r = h2(uri => 'l/add-prospects', body => '{"persons":[{"id":"h-1"}]}');
is_json_answer($r, 200, qr/\A\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}\z/, 'a body with its length');

$r = h2(uri => 'l/add-prospects', body => '{"persons":[{"id":"h-2"}]}',
          stdin => 1);
is_json_answer($r, 200, qr/\A\{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0\}\z/,
               'a body without content-length');

my $big = persons('h-big', 200);
cmp_ok length $big, '>', 65536, 'the 200-person body is over 64 KiB';
$r = h2(uri => 'l/add-prospects', body => $big, stdin => 1);
is_json_answer($r, 200, qr/\A\{"addedCount":200,"alreadyInListCount":0,"notMatchedCount":0\}\z/,
               '200 persons in many DATA frames, no content-length');

$r = h2(uri => 'l/add-prospects', headers => [ $JSON ]);
is_json_answer($r, 401, qr/"code":"UNAUTHORIZED"/, 'no credentials');

$r = h2(uri => 'l/add-prospects',
          body => '{"persons":[{"id":"h-3"},{"id":"h-4"}]}');
is_json_answer($r, 200, qr/\A\{"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0\}\z/, 'two persons');
$r = h2(uri => 'l/add-prospects',
          body => '{"persons":[{"id":"h-3"},{"id":"h-4"}]}');
is_json_answer($r, 200, qr/\A\{"addedCount":0,"alreadyInListCount":2,"notMatchedCount":0\}\z/,
               'the same again: nothing new');

$r = h2(uri => 'l/add-prospects', body => '{"persons":[{"id":"h-5"}');
is_json_answer($r, 400,
               qr/"details":\[\{"field":"persons","message":"invalid JSON: [^"]+"\}\]/,
               'a body cut short');

$r = h2(uri => 'l/add-prospects', method => 'GET');
is_json_answer($r, 405, qr/"code":"METHOD_NOT_ALLOWED"/, 'GET');
like $r->{headers}, qr{^allow: POST\r?$}mi, 'GET: Allow: POST';

$r = h2(uri => 'nope/add-prospects', body => '{"persons":[{"id":"h-6"}]}');
is_json_answer($r, 404, qr/"code":"NOT_FOUND"/, 'an unknown list');

my $rows = su("SELECT count(*),"
              . " count(*) FILTER (WHERE person_id LIKE 'h-big-%')"
              . " FROM tenant.lead_list_persons WHERE org_id = '$ORG';\n");
is_deeply $rows, [[ 204, 200 ]],
    'stored: the 4 single persons and the 200, nothing of the refused';

log_check($ng, 'http2');

done_testing();
