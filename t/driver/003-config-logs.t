# Self-test of the Test::Nginx::Socket driver in t/lib (plain nginx, no
# module): configuration sections, $TEST_NGINX_* expansion, files written
# before start, error-log checks and must_die.

# Own random port and servroot (t/servroot_<port>, removed at the end) unless
# the caller chose a port or servroot: other test runs in the same tree use
# port 1984 and t/servroot.
BEGIN {
    $ENV{TEST_NGINX_RANDOMIZE} = 1
        unless grep { defined $ENV{$_} } qw(TEST_NGINX_RANDOMIZE TEST_NGINX_PORT
                                            TEST_NGINX_SERVER_PORT TEST_NGINX_SERVROOT);
}

use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_GREETING} = 'howdy';
env_to_nginx('TEST_NGINX_GREETING');

repeat_each(1);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: $TEST_NGINX_* in config and in the expected body
--- config
    location = /t {
        return 200 "$TEST_NGINX_GREETING $TEST_NGINX_SERVER_PORT $TEST_NGINX_SERVER_ROOT\n";
    }
--- request
GET /t
--- response_body
$TEST_NGINX_GREETING $TEST_NGINX_SERVER_PORT $TEST_NGINX_SERVER_ROOT



=== TEST 2: http_config, main_config, post_main_config
--- main_config
    thread_pool tpool_$TEST_NGINX_GREETING threads=2;
--- post_main_config
    pcre_jit on;
--- http_config
    map $uri $mapped {
        default "from-http-config-$TEST_NGINX_GREETING";
    }
--- config
    location = /t {
        aio threads=tpool_howdy;
        return 200 "$mapped\n";
    }
--- request
GET /t
--- response_body
from-http-config-howdy



=== TEST 3: server_name section
--- server_name: example.test
--- config
    location = /t { return 200 "$server_name\n"; }
--- request
GET /t
--- response_body
example.test



=== TEST 4: $TEST_NGINX_RAND_PORT_n gets a free port
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location / { return 200 "side server\n"; }
    }
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/; }
--- request
GET /t
--- response_body
side server



=== TEST 5: user_files (text form, with $TEST_NGINX_* and sub-directories)
--- user_files
>>> a.txt
file a
>>> sub/dir/b.txt
file b says $TEST_NGINX_GREETING
--- config
--- request eval
["GET /a.txt", "GET /sub/dir/b.txt"]
--- response_body eval
["file a\n", "file b says howdy\n"]



=== TEST 6: user_files (eval form)
--- user_files eval
[["c.txt", "file c"]]
--- config
--- request
GET /c.txt
--- response_body chomp
file c



=== TEST 7: init runs after nginx started
--- config
--- init
open my $fh, '>', "$ENV{TEST_NGINX_SERVER_ROOT}/html/init.txt" or die $!;
print $fh "written by init\n";
close $fh;
--- request
GET /init.txt
--- response_body
written by init



=== TEST 8: default log level is debug
--- config
    location = /t { return 200; }
--- request
GET /t
--- error_log
[debug]



=== TEST 9: log_level section
--- log_level: warn
--- config
    location = /t { return 200; }
--- request
GET /t
--- no_error_log
[debug]
[info]
[notice]



=== TEST 10: error_log and no_error_log patterns: literal, qr, mixed arrays
--- config
--- request
GET /missing.html
--- error_code: 404
--- error_log eval
[qr/open\(\) ".*\/missing\.html" failed/, "[error]"]
--- no_error_log eval
[qr/missing\.htm[^l]/, "[alert]", "[crit]"]



=== TEST 11: the log is checked after each request, from where the last check stopped
--- config
--- request eval
["GET /m1.html", "GET /m2.html"]
--- error_code eval
[404, 404]
--- error_log
No such file or directory



=== TEST 12: must_die: bad directive, error_log matches the startup error
--- config
    location = /t { bogus_directive_for_test; }
--- must_die
--- suppress_stderr
--- error_log
unknown directive "bogus_directive_for_test"



=== TEST 13: must_die with an exit code
--- config
    location = /t { return; }
--- must_die: 1
--- suppress_stderr
--- error_log eval
qr/\[emerg\].*invalid number of arguments in "return" directive/



=== TEST 14: after a must_die block, nginx starts again
--- config
    location = /t { return 200 "back\n"; }
--- request
GET /t
--- response_body
back
--- no_error_log
[emerg]
