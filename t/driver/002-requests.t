# Self-test of the Test::Nginx::Socket driver in t/lib (plain nginx, no
# module): how requests are built and sent, and how responses are read.

# Own random port and servroot (t/servroot_<port>, removed at the end) unless
# the caller chose a port or servroot: other test runs in the same tree use
# port 1984 and t/servroot.
BEGIN {
    $ENV{TEST_NGINX_RANDOMIZE} = 1
        unless grep { defined $ENV{$_} } qw(TEST_NGINX_RANDOMIZE TEST_NGINX_PORT
                                            TEST_NGINX_SERVER_PORT TEST_NGINX_SERVROOT);
}

use Test::Nginx::Socket 'no_plan';

repeat_each(1);
no_shuffle();

# Blocks without a request get a default one.
add_block_preprocessor(sub {
    my $block = shift;
    if (!defined $block->request && !defined $block->raw_request
        && !defined $block->pipelined_requests)
    {
        $block->set_value(request => "GET /t\n");
    }
});

run_tests();

__DATA__

=== TEST 1: default Host and Connection headers
--- config
    location = /t {
        return 200 "$http_host|$http_connection|$server_protocol\n";
    }
--- request
GET /t
--- response_body
localhost|close|HTTP/1.1



=== TEST 2: request line defaults (URI "/", HTTP/1.1), comments skipped
--- config
    location = / { return 200 "$request_uri $server_protocol\n"; }
--- request
    # a comment line before the request line

GET
--- response_body
/ HTTP/1.1



=== TEST 3: HTTP/1.0 request line keeps Host and Connection
--- config
    location = /t {
        return 200 "$server_protocol|$http_host|$http_connection\n";
    }
--- request
GET /t HTTP/1.0
--- response_body
HTTP/1.0|localhost|close



=== TEST 4: more_headers (and their override of Host)
--- config
    location = /t {
        return 200 "$http_x_foo|$http_x_empty|$http_host\n";
    }
--- more_headers
X-Foo: bar baz
# comments and blank lines are skipped

X-Empty:
Host: example.com
--- response_body
bar baz||example.com



=== TEST 5: Content-Length is computed from the trimmed body
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_set_header X-Len $content_length;
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back { return 200 "[$http_x_body]|$http_x_len\n"; }
--- request
POST /echo
   hello world   

--- response_body
[hello world]|11



=== TEST 6: explicit Content-Length in more_headers is used as is
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_set_header X-Len $content_length;
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back { return 200 "[$http_x_body]|$http_x_len\n"; }
--- more_headers
Content-Length: 3
--- request
POST /echo
abcdef
--- response_body
[abc]|3



=== TEST 7: request eval array: one connection per request, array expectations
--- config
    location = /a { add_header X-Which a; return 200 "a\n"; }
    location = /b { add_header X-Which b; return 201 "b\n"; }
    location = /conn { return 200 "$connection_requests\n"; }
--- request eval
["GET /a", "GET /b", "GET /conn"]
--- error_code eval
[200, 201, 200]
--- response_headers eval
["X-Which: a", "X-Which: b", "!X-Which"]
--- response_body eval
["a\n", "b\n", "1\n"]
--- no_error_log
[error]



=== TEST 8: more_headers eval array: headers per request
--- config
    location = /t { return 200 "$http_x_n\n"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X-N: 1", "X-N: 2"]
--- response_body eval
["1\n", "2\n"]



=== TEST 9: request split into packets with delays
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back { return 200 "[$http_x_body]\n"; }
--- request eval
[["POST /echo\n", "hel", {value => "lo", delay_before => 0.05}]]
--- response_body
[hello]



=== TEST 10: raw_request is sent byte for byte
--- config
    location = /t { return 200 "$server_protocol|$http_x_raw|$http_connection\n"; }
--- raw_request eval
"GET /t HTTP/1.0\r\nX-Raw: yes\r\n\r\n"
--- response_body
HTTP/1.0|yes|



=== TEST 11: raw_request array: separate writes with raw_request_middle_delay
--- config
    location = /t { return 200 "$http_x_raw\n"; }
--- raw_request eval
["GET /t HTTP/1.1\r\n", "Host: localhost\r\nConnection: close\r\n", "X-Raw: parts\r\n\r\n"]
--- raw_request_middle_delay: 0.02
--- response_body
parts



=== TEST 12: chunked response is decoded
--- config
    location = /t {
        sub_filter_types *;
        sub_filter_once off;
        sub_filter 'a' 'b';
        return 200 "aaa\nccc\n";
    }
--- response_headers
Transfer-Encoding: chunked
!Content-Length
--- response_body
bbb
ccc



=== TEST 13: pipelined requests on one connection (chunked and Content-Length framing)
--- config
    location = /a { return 200 "a\n"; }
    location = /c {
        sub_filter_types *;
        sub_filter 'x' 'y';
        return 201 "xx\n";
    }
    location = /n { return 200 "$connection_requests|$http_connection\n"; }
--- pipelined_requests eval
["GET /c", "GET /a", "GET /n"]
--- error_code eval
[201, 200, 200]
--- response_body eval
["yx\n", "a\n", "3|close\n"]



=== TEST 14: timeout + abort: a client timeout is not a failure
--- config
    location = /t { return 200; }
--- raw_request eval
"GET /t HTTP/1.1\r\nHost: localhost\r\n"
--- timeout: 300ms
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 15: shutdown of the write side after sending
--- config
    location = /t { return 200 "ok\n"; }
--- shutdown
--- response_body
ok



=== TEST 16: ignore_response skips the response checks, log checks still run
--- config
    location = /t { return 500; }
--- ignore_response
--- error_code: 200
--- response_body
not checked
--- no_error_log
[error]



=== TEST 17: request body with explicit chunked transfer encoding
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$server_port/back;
    }
    location = /back { return 200 "[$http_x_body]\n"; }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /echo\n3\r\nabc\r\n0\r\n\r\n"
--- response_body
[abc]
