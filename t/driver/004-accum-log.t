# Self-test of the Test::Nginx::Socket driver in t/lib: with
# check_accum_error_log() every check sees the whole error.log, so a line
# logged once at startup is seen by every repetition. (Without it, the second
# repetition fails; t/driver/020-failures.t proves that.)

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
plan tests => repeat_each() * blocks() * 2;
check_accum_error_log();
run_tests();

__DATA__

=== TEST 1: a startup line is seen by both repetitions
--- config
    location = /t { return 200; }
--- request
GET /t
--- error_log
using the "epoll" event method
