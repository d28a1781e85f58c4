# Self-test of the Test::Nginx::Socket driver in t/lib: a wrong
# expectation must make a test fail. Each case writes a small .t file,
# runs it in a child perl (own port 1990-1999, own servroot in a temporary
# directory) and checks that the child exits non-zero and prints "not ok"
# for the expected check. A passing case and a few bail-out cases are
# checked too.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";
use ChildRun;
use Test::More;

my $ok_block = <<'_EOT_';
=== TEST 1: fine
--- config
    location = /t { add_header X-Foo bar; return 200 "hello\n"; }
--- request
GET /t
--- response_headers
X-Foo: bar
--- response_body
hello
--- no_error_log
[error]
_EOT_

sub expect_fail {
    my ($name, $blocks, $want, %o) = @_;
    my $r = run_child(name => $name, t => prologue(%o) . $blocks,
                      env => $o{env});
    my $good = 1;
    $good &&= isnt($r->{exit}, 0, "$name: child exits non-zero");
    $good &&= like($r->{out}, qr/^not ok \d+ - /m,
                   "$name: child prints 'not ok'");
    $good &&= like($r->{out}, $want, "$name: the expected check failed");
    diag("child output:\n$r->{out}") unless $good;
    return $r;
}

sub expect_pass {
    my ($name, $blocks, %o) = @_;
    my $r = run_child(name => $name, t => prologue(%o) . $blocks,
                      env => $o{env});
    my $good = 1;
    $good &&= is($r->{exit}, 0, "$name: child exits 0");
    $good &&= unlike($r->{out}, qr/^not ok/m, "$name: no 'not ok'");
    $good &&= like($r->{out}, qr/^ok \d+ - /m, "$name: some 'ok'");
    $good &&= like($r->{out}, $o{want}, "$name: expected output")
        if $o{want};
    diag("child output:\n$r->{out}") unless $good;
    return $r;
}

sub expect_bail {
    my ($name, $blocks, $want, %o) = @_;
    my $r = run_child(name => $name, t => prologue(%o) . $blocks,
                      env => $o{env});
    my $good = 1;
    $good &&= isnt($r->{exit}, 0, "$name: child exits non-zero");
    $good &&= like($r->{out}, qr/^Bail out!.*$want/m, "$name: bails out");
    diag("child output:\n$r->{out}") unless $good;
    return $r;
}

# --- a passing file passes ---------------------------------------------

expect_pass('pass', $ok_block, repeat => 2,
    want => qr/^ok 8 - \S+pass\.t TEST 1: fine - pattern "\[error\]" does not match a line in error\.log \(req 1\)$/m);

# --- each kind of wrong expectation fails --------------------------------

expect_fail('wrong-status', <<'_EOT_', qr/^not ok 1 - \S+ TEST 1: x - status code ok$/m);
=== TEST 1: x
--- config
    location = /t { return 201 "hello\n"; }
--- request
GET /t
--- response_body
hello
_EOT_

expect_fail('default-status-200', <<'_EOT_', qr/^not ok \d+ - .* - status code ok$/m);
=== TEST 1: x
--- config
    location = /t { return 500; }
--- request
GET /t
_EOT_

expect_fail('wrong-body', <<'_EOT_', qr/^not ok 2 - .* - response_body - response is expected \(repeated req 0, req 0\)$/m);
=== TEST 1: x
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body
goodbye
_EOT_

expect_fail('body-trailing-newline', <<'_EOT_', qr/^not ok 2 - .* - response_body - response is expected/m);
=== TEST 1: multi-line response_body keeps its newline
--- config
    location = /t { return 200 "hello"; }
--- request
GET /t
--- response_body
hello
_EOT_

expect_fail('wrong-body-like', <<'_EOT_', qr/^not ok 2 - .* - response_body_like - response is expected \(hello\)$/m);
=== TEST 1: x
--- config
    location = /t { return 200 "hello\n"; }
--- request
GET /t
--- response_body_like: ^bye
_EOT_

expect_fail('wrong-header', <<'_EOT_', qr/^not ok 2 - .* - header X-Foo ok$/m);
=== TEST 1: x
--- config
    location = /t { add_header X-Foo bar; return 200; }
--- request
GET /t
--- response_headers
X-Foo: baz
_EOT_

expect_fail('header-present', <<'_EOT_', qr/^not ok 2 - .* - header X-Foo not present in the raw headers$/m);
=== TEST 1: x
--- config
    location = /t { add_header X-Foo bar; return 200; }
--- request
GET /t
--- response_headers
!X-Foo
_EOT_

expect_fail('missing-error-log', <<'_EOT_', qr/^not ok 2 - .* - pattern "this line is never logged" should match a line in error\.log \(req 0\)$/m);
=== TEST 1: x
--- config
    location = /t { return 200; }
--- request
GET /t
--- error_log
this line is never logged
_EOT_

expect_fail('unexpected-no-error-log', <<'_EOT_', qr/^not ok 2 - .* - pattern "\[error\]" should not match any line in error\.log but matches line ".*No such file or directory.*" \(req 0\)$/m);
=== TEST 1: x
--- config
--- request
GET /missing.html
--- error_code: 404
--- no_error_log
[error]
_EOT_

expect_fail('error-log-is-incremental', <<'_EOT_', qr/^not ok 4 - .* - pattern "using the "epoll" event method" should match a line in error\.log \(req 1\)$/m, repeat => 2);
=== TEST 1: a startup line is only in the first repetition's slice
--- config
    location = /t { return 200; }
--- request
GET /t
--- error_log
using the "epoll" event method
_EOT_

expect_fail('array-element', <<'_EOT_', qr/^not ok 2 - .* - status code ok$/m);
=== TEST 1: second request of a request eval array
--- config
    location = /a { return 200; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 200]
_EOT_

expect_fail('client-timeout', <<'_EOT_', qr/^not ok 1 - ERROR: client socket timed out - \S+ TEST 1: x$/m);
=== TEST 1: x
--- config
    location = /t { return 200; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 0.2
--- ignore_response
_EOT_

expect_fail('must-die-but-starts', <<'_EOT_', qr/^not ok 1 - .* - die as expected$/m);
=== TEST 1: x
--- config
    location = /t { return 200; }
--- must_die
_EOT_

expect_fail('must-die-wrong-code', <<'_EOT_', qr/^not ok 1 - .* - die with the expected exit code$/m);
=== TEST 1: x
--- config
    location = /t { bogus_directive; }
--- must_die: 2
--- suppress_stderr
_EOT_

# --- bail-outs ------------------------------------------------------------

expect_bail('undefined-env', <<'_EOT_', qr/No environment TEST_NGINX_NOT_DEFINED_ANYWHERE defined/);
=== TEST 1: x
--- config
    location = /t { return 200 "$TEST_NGINX_NOT_DEFINED_ANYWHERE"; }
--- request
GET /t
_EOT_

expect_bail('need-array', <<'_EOT_', qr/You asked for many requests, the expected results should be arrays as well/);
=== TEST 1: x
--- config
    location = /t { return 200; }
--- request eval
["GET /t", "GET /t"]
--- response_body:
_EOT_

expect_bail('no-config', <<'_EOT_', qr/No '--- config' section specified and could not get previous one/);
=== TEST 1: x
--- request
GET /t
_EOT_

# --- environment variables --------------------------------------------------

expect_pass('load-modules', <<'_EOT_', env => { TEST_NGINX_LOAD_MODULES => '/nonexistent/ngx_fake_module.so' });
=== TEST 1: TEST_NGINX_LOAD_MODULES adds load_module lines
--- config
    location = /t { return 200; }
--- must_die
--- suppress_stderr
--- error_log
dlopen() "/nonexistent/ngx_fake_module.so" failed
_EOT_

expect_pass('server-port', <<'_EOT_', env => { TEST_NGINX_PORT => undef, TEST_NGINX_SERVER_PORT => 1999 });
=== TEST 1: TEST_NGINX_SERVER_PORT sets the port
--- config
    location = /t { return 200 "$server_port\n"; }
--- request
GET /t
--- response_body
1999
_EOT_

{
    my $r = expect_pass('no-clean', $ok_block,
        env => { TEST_NGINX_NO_CLEAN => 1, TEST_NGINX_SLEEP => 0.02,
                 TEST_NGINX_TIMEOUT => 2 });
    my $pidfile = "$r->{dir}/servroot/logs/nginx.pid";
    ok(-f $pidfile, 'no-clean: nginx pid file left behind');
    my ($pid) = (do { local (@ARGV, $/) = $pidfile; <> } // '') =~ /(\d+)/;
    ok($pid && kill(0, $pid), 'no-clean: nginx still running');
    if ($pid) {
        kill 'QUIT', $pid;    # the nginx started by that child run
        for (1 .. 100) {
            last unless kill 0, $pid;
            my $st = do { local (@ARGV, $/) = "/proc/$pid/stat"; <> } // '';
            last if $st =~ /^\d+ \(.*\) Z/s;
            select undef, undef, undef, 0.05;
        }
    }
}

done_testing();
