# Self-test of t/lib/Test/Nginx/Socket.pm, the loader: the local driver is
# used only when no other Test/Nginx/Socket.pm (a real Test::Nginx) comes
# later in @INC; TEST_NGINX_USE_LOCAL_DRIVER=1 forces the local one.

use strict;
use warnings;

use FindBin ();
use File::Path ();
use File::Temp ();
use Test::More;

use Cwd ();
my $tlib = Cwd::abs_path("$FindBin::Bin/../lib");
my $tmp = File::Temp::tempdir('tnginx-loader-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# A stand-in for an installed Test::Nginx.
File::Path::mkpath("$tmp/real/Test/Nginx");
open my $fh, '>', "$tmp/real/Test/Nginx/Socket.pm" or die $!;
print {$fh} <<'_EOM_';
package Test::Nginx::Socket;
our $FAKE_REAL = 1;
sub import {
    my $caller = caller;
    no strict 'refs';
    *{"${caller}::which_driver"} = sub { 'real' };
}
1;
_EOM_
close $fh;

# Another checkout's copy of the loader (must be skipped, not loaded).
File::Path::mkpath("$tmp/copy/Test/Nginx");
{
    local $/;
    open my $in, '<', "$tlib/Test/Nginx/Socket.pm" or die $!;
    my $src = <$in>;
    open my $out, '>', "$tmp/copy/Test/Nginx/Socket.pm" or die $!;
    print {$out} $src;
}

my $probe = q{use Test::Nginx::Socket; }
    . q{print defined &main::which_driver ? which_driver() : }
    . q{($Test::Nginx::Socket::LOCAL_DRIVER ? 'local' : 'unknown'), }
    . q{' ', $INC{'Test/Nginx/Socket.pm'}, "\n";};

sub probe {
    my ($force, @inc) = @_;
    local %ENV = %ENV;
    delete $ENV{PERL5LIB};
    delete $ENV{TEST_NGINX_USE_LOCAL_DRIVER};
    $ENV{TEST_NGINX_USE_LOCAL_DRIVER} = 1 if $force;
    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        exec $^X, (map { "-I$_" } @inc), '-e', $probe;
        die "exec: $!";
    }
    local $/;
    my $s = <$out>;
    close $out;
    return $s // '';
}

like(probe(0, $tlib), qr{^local \S+/t/lib/Test/Nginx/Socket\.pm$},
     'no other Test::Nginx: the local driver is used');
like(probe(0, $tlib, "$tmp/real"), qr{^real \Q$tmp\E/real/Test/Nginx/Socket\.pm$},
     'a Test::Nginx later in @INC wins, and %INC points at it');
like(probe(1, $tlib, "$tmp/real"), qr{^local },
     'TEST_NGINX_USE_LOCAL_DRIVER=1 forces the local driver');
like(probe(0, $tlib, "$tmp/copy"), qr{^local \S+/t/lib/Test/Nginx/Socket\.pm$},
     'another copy of the loader is not taken for a real Test::Nginx');
like(probe(0, $tlib, "$tmp/copy", "$tmp/real"), qr{^real },
     '... and the search goes on past it');

done_testing();
