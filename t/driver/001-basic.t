# Self-test of the Test::Nginx::Socket driver in t/lib (plain nginx, no
# module): responses, headers, bodies and filters. Also proves the counting
# rules: repeat_each() multiplies every test, SKIP blocks are left out of
# blocks(), skipped blocks (skip_nginx) still emit their N tests.

# Own random port and servroot (t/servroot_<port>, removed at the end) unless
# the caller chose a port or servroot: other test runs in the same tree use
# port 1984 and t/servroot.
BEGIN {
    $ENV{TEST_NGINX_RANDOMIZE} = 1
        unless grep { defined $ENV{$_} } qw(TEST_NGINX_RANDOMIZE TEST_NGINX_PORT
                                            TEST_NGINX_SERVER_PORT TEST_NGINX_SERVROOT);
}

use Test::Nginx::Socket;

repeat_each(2);

# Per repetition, summed over the blocks below (see "tests:" in each one).
plan tests => repeat_each() * 46;

no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: plain body, headers, no_error_log
tests: status + 2 headers + body + 1 pattern = 5
--- config
    location = /t {
        add_header X-Foo bar;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
X-Foo: bar
!X-Bar
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: chomp filter (body without trailing newline)
tests: 2
--- config
    location = /t { return 200 "hello"; }
--- request
    GET /t
--- response_body chomp
hello



=== TEST 3: single-line section form
tests: 2
--- config
    location = /t { return 200 "hello"; }
--- request
GET /t
--- error_code: 200
--- response_body: hello



=== TEST 4: response_body eval (string)
tests: 2
--- config
    location = /t { return 200 "a\r\nb"; }
--- request
GET /t
--- response_body eval
"a\r\nb"



=== TEST 5: response_body eval (qr)
tests: 2
--- config
    location = /t { return 200 "hello world 42\n"; }
--- request
GET /t
--- response_body eval
qr/^hello \w+ \d+$/



=== TEST 6: response_body_like, multi-line form keeps its newline
tests: 2
--- config
    location = /t { return 200 "abc 123\n"; }
--- request
GET /t
--- response_body_like
^abc \d+$



=== TEST 7: response_body_unlike
tests: 2
--- config
    location = /t { return 200 "abc 123\n"; }
--- request
GET /t
--- response_body_unlike: xyz



=== TEST 8: response_headers_like (anchored regex per header)
tests: status + 2 headers = 3
--- config
    location = /t {
        add_header X-Foo bar42;
        return 200 "";
    }
--- request
GET /t
--- response_headers_like
X-Foo: bar\d+
Content-Length: 0



=== TEST 9: error_code and error_log for a missing file
tests: status + 2 patterns = 3
--- config
--- request
GET /does-not-exist.html
--- error_code: 404
--- error_log
open() "
failed (2: No such file or directory)



=== TEST 10: block without config reuses the previous nginx
tests: status + body = 2
--- request
GET /
--- response_body chomp
<html><head><title>It works!</title></head><body>It works!</body></html>



=== TEST 11: empty header value also matches an absent header
tests: status + 1 header = 2
--- config
    location = /t { return 204; }
--- request
GET /t
--- error_code: 204
--- response_headers
X-Not-There:



=== TEST 12: error_code_like
tests: 1
--- config
    location = /t { return 201; }
--- request
GET /t
--- error_code_like: ^2\d\d$



=== TEST 13: skip_nginx that does not apply
tests: 2
--- skip_nginx: 2: < 0.1.0
--- config
    location = /t { return 200 "ran\n"; }
--- request
GET /t
--- response_body
ran



=== TEST 14: skip_nginx that applies (2 skipped tests)
tests: 2
--- skip_nginx: 2: >= 0.1.0
--- config
    location = /t { return 200 "never\n"; }
--- request
GET /t
--- response_body
something else



=== TEST 15: SKIP removes the block (not counted, not run)
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- response_body
this would fail



=== TEST 16: response_body_json_sort
tests: 2
--- config
    location = /t { return 200 '{"b": [1, 2], "a": {"y": 1, "x": 2}}'; }
--- request
GET /t
--- response_body_json_sort
--- response_body
{"a":{"x":2,"y":1},"b":[1,2]}



=== TEST 17: response_body_filters
tests: 2
--- config
    location = /t { return 200 "Hello"; }
--- request
GET /t
--- response_body_filters
uc length
--- response_body chomp
5



=== TEST 18: HEAD request: no body is read
tests: status + 1 header + body = 3
--- config
    location = /t { return 200 "hello\n"; }
--- request
HEAD /t
--- response_headers
Content-Length: 6
--- response_body chomp



=== TEST 19: $ServerPort in expected headers and bodies
tests: status + 1 header + body = 3
--- config
    location = /t {
        add_header X-Port $server_port;
        return 200 "port $server_port\n";
    }
--- request
GET /t
--- response_headers
X-Port: $ServerPort
--- response_body
port $ServerPort



=== TEST 20: repeated headers are joined with ", "
tests: status + 1 header = 2
--- config
    location = /t {
        add_header X-Multi a;
        add_header X-Multi b;
        return 200;
    }
--- request
GET /t
--- response_headers
X-Multi: a, b



=== TEST 21: wait before the log check
tests: status + 1 pattern = 2
--- config
    location = /t { return 200; }
--- request
GET /t
--- wait: 0.05
--- no_error_log
[error]
