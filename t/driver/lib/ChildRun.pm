package ChildRun;

# Helper for the driver's self-tests: write a .t file into a temporary
# directory and run it in a child perl with the local driver (t/lib), its own
# port and its own servroot, then hand back the exit code and the output.

use strict;
use warnings;

use Cwd ();
use Exporter 'import';
use File::Basename ();
use File::Path ();
use File::Spec ();
use File::Temp ();

our @EXPORT = qw(run_child child_dir repo_root prologue);

my $Root = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/../../..');
my $TLib = "$Root/t/lib";
my $Tmp  = File::Temp::tempdir('tnginx-selftest-XXXXXX', TMPDIR => 1,
                               CLEANUP => !$ENV{TEST_NGINX_SELFTEST_KEEP});
my $Seq  = 0;

sub repo_root { $Root }

sub child_dir {
    my $name = shift;
    return "$Tmp/$name";
}

# The usual head of a child .t file.
sub prologue {
    my (%o) = @_;
    my $s = "use Test::Nginx::Socket 'no_plan';\n";
    $s .= "repeat_each($o{repeat});\n" if $o{repeat};
    $s .= "no_shuffle();\n";
    $s .= "$o{extra}\n" if $o{extra};
    $s .= "run_tests();\n\n__DATA__\n\n";
    return $s;
}

# run_child(name => 'x', t => $text, env => { ... })
# Returns { exit => N, out => "stdout and stderr", file => path, dir => dir }
sub run_child {
    my (%a) = @_;
    my $name = $a{name} or die "name needed";
    my $dir = child_dir($name);
    File::Path::rmtree($dir);
    File::Path::mkpath($dir);
    my $file = "$dir/$name.t";
    open my $fh, '>', $file or die "$file: $!";
    print {$fh} $a{t};
    close $fh;

    my $port = 1990 + ($Seq++ % 10);

    local %ENV = %ENV;
    delete $ENV{$_} for grep { /^TEST_NGINX_/ || /^HARNESS_/ } keys %ENV;
    delete $ENV{PERL5LIB};
    $ENV{TEST_NGINX_USE_LOCAL_DRIVER} = 1;
    $ENV{TEST_NGINX_PORT}     = $port;
    $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    $ENV{TEST_NGINX_BINARY}   = $ENV{SELFTEST_NGINX_BINARY}
        if $ENV{SELFTEST_NGINX_BINARY};
    my $env = $a{env} || {};
    for my $k (keys %$env) {
        if (defined $env->{$k}) {
            $ENV{$k} = $env->{$k};
        }
        else {
            delete $ENV{$k};
        }
    }

    my $pid = open(my $out, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die;
        open STDIN, '<', '/dev/null';
        chdir $dir or die "chdir $dir: $!";
        exec $^X, "-I$TLib", $file;
        die "exec: $!";
    }
    local $/;
    my $text = <$out>;
    close $out;
    my $exit = $? >> 8;
    $text = '' unless defined $text;
    return { exit => $exit, out => $text, file => $file, dir => $dir };
}

1;
