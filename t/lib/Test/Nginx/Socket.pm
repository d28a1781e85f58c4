package Test::Nginx::Socket;

# Project-local stand-in for OpenResty's Test::Nginx::Socket.
#
# This file is only a loader (marker: LEADLIST-LOCAL-TEST-NGINX-SHIM).
#
# Tests are run as `prove -I t/lib -r t`, so this file is always found first.
# At load time it looks through the rest of @INC for another
# Test/Nginx/Socket.pm (a real Test::Nginx installed from CPAN or a distro
# package). If one exists, that file is compiled in our place, %INC is
# pointed at it, and the real module's import() serves the `use` line.
# Otherwise the project's own driver, Test::Nginx::LocalDriver (in
# t/lib/Test/Nginx/LocalDriver.pm), is loaded; it defines package
# Test::Nginx::Socket itself.
#
# Set TEST_NGINX_USE_LOCAL_DRIVER=1 to always use the local driver, even
# when a real Test::Nginx is installed (the driver's self-tests do this).
# Set TEST_NGINX_VERBOSE=1 to see which one was chosen.

use strict;
use warnings;

our $LOCAL_DRIVER_SHIM = 1;
our $REAL_TEST_NGINX;

BEGIN {
    my $abs_of = sub {
        my $f = shift;
        require Cwd;
        my $abs = eval { Cwd::abs_path($f) };
        return $abs if defined $abs && length $abs;
        return $f =~ m{^/} ? $f : "./$f";
    };
    my $is_shim = sub {
        my $f = shift;
        open my $fh, '<', $f or return 0;
        local $/ = \4096;
        my $head = <$fh>;
        close $fh;
        return defined $head && $head =~ /LEADLIST-LOCAL-TEST-NGINX-SHIM/;
    };

    my $key = 'Test/Nginx/Socket.pm';
    my $me  = $abs_of->(__FILE__);
    my $real;

    unless ($ENV{TEST_NGINX_USE_LOCAL_DRIVER}) {
        for my $dir (@INC) {
            next if ref $dir;
            my $cand = "$dir/$key";
            next unless -f $cand;
            my $abs = $abs_of->($cand);
            next if $abs eq $me;
            next if $is_shim->($cand);   # another checkout's copy of this file
            $real = $abs;
            last;
        }
    }

    if ($real) {
        warn "# Test::Nginx::Socket: using the installed module $real\n"
            if $ENV{TEST_NGINX_VERBOSE};
        $REAL_TEST_NGINX = $real;
        $INC{$key} = $real;
        local $@;
        my $rv = do $real;
        die "Failed to compile $real: $@" if $@;
        die "Cannot read $real: $!" unless defined $rv;
    }
    else {
        warn "# Test::Nginx::Socket: using the local driver in t/lib\n"
            if $ENV{TEST_NGINX_VERBOSE};
        require Test::Nginx::LocalDriver;
    }
}

1;
