# Self-test of the Test::Nginx::Socket driver in t/lib: master_on() and
# workers() (the default is a single process, master_process off).

# Own random port and servroot (t/servroot_<port>, removed at the end) unless
# the caller chose a port or servroot: other test runs in the same tree use
# port 1984 and t/servroot.
BEGIN {
    $ENV{TEST_NGINX_RANDOMIZE} = 1
        unless grep { defined $ENV{$_} } qw(TEST_NGINX_RANDOMIZE TEST_NGINX_PORT
                                            TEST_NGINX_SERVER_PORT TEST_NGINX_SERVROOT);
}

use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(128);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: requests are served by a worker of a master process
--- config
    location = /t { return 200 "pid $pid\n"; }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- response_body_like eval
[qr/^pid \d+$/, qr/^pid \d+$/, qr/^pid \d+$/]
--- no_error_log
[error]
[alert]



=== TEST 2: restart with master process on
--- config
    location = /t { return 200 "$TEST_NGINX_SERVER_PORT\n"; }
--- request
GET /t
--- response_body
$TEST_NGINX_SERVER_PORT
