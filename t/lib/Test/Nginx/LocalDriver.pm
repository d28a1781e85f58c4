package Test::Nginx::Socket;

# Test::Nginx::LocalDriver -- the project's own implementation of the
# Test::Nginx::Socket test-file format (data-driven .t files run by prove).
#
# It is loaded by t/lib/Test/Nginx/Socket.pm only when no real Test::Nginx
# is installed (see that file). It defines package Test::Nginx::Socket as a
# subclass of Debian's Test::Base, which provides the __DATA__ parsing,
# the filters (chomp, eval, ...), ONLY/SKIP/LAST, blocks() and plan.
#
# Behaviour follows shared/docs/test-nginx-format.md. Written from that
# description; no code from OpenResty's Test::Nginx is used.
#
# Project extension: in valgrind mode (TEST_NGINX_USE_VALGRIND) the valgrind
# log of every nginx run is scanned after every block and when nginx stops,
# and problems become failing tests; see Test::Nginx::LocalDriver::Valgrind
# and the POD at the end of this file.

use strict;
use warnings;

use Test::Base -base;

use Cwd ();
use Errno ();
use Fcntl ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Socket ();
use Time::HiRes ();
use Test::Builder ();
use Test::Nginx::LocalDriver::Valgrind ();

our $VERSION = '0.33_local';
our $LOCAL_DRIVER = 1;

our @EXPORT = qw(
    run_tests run_test repeat_each no_shuffle no_long_string log_level
    master_on master_off master_process_enabled workers worker_connections
    timeout server_root html_dir server_name server_addr server_port
    server_port_for_client env_to_nginx no_root_location config_preamble
    add_block_preprocessor add_response_body_check add_cleanup_handler
    add_test_cleanup_handler bail_out check_accum_error_log
    no_nginx_manager
);

# ----------------------------------------------------------------------
# Settings (defaults, environment)
# ----------------------------------------------------------------------

my $Cwd = Cwd::getcwd();

sub _env_true {
    my $v = $ENV{ $_[0] };
    return defined $v && $v ne '' && $v ne '0' && lc($v) ne 'off'
        && lc($v) ne 'no';
}

our $RepeatEach         = 1;
our $NoShuffle          = _env_true('TEST_NGINX_NO_SHUFFLE') ? 1 : 0;
our $NoLongString       = 0;
our $LogLevel           = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled =
    (defined $ENV{TEST_NGINX_MASTER_PROCESS}
     && $ENV{TEST_NGINX_MASTER_PROCESS} =~ /^(?:on|1|yes)$/i) ? 1 : 0;
our $Workers            = 1;
our $WorkerConnections  = 64;
our $Timeout            = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep              = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $ServerName         = 'localhost';
our $ServerAddr         = '127.0.0.1';
our $NoRootLocation     = 0;
our $ConfigPreamble     = '';
our $CheckAccumErrLog   = _env_true('TEST_NGINX_CHECK_ACCUM_ERR_LOG') ? 1 : 0;
our $NoNginxManager     = _env_true('TEST_NGINX_NO_NGINX_MANAGER') ? 1 : 0;
our $UseValgrind        = _env_true('TEST_NGINX_USE_VALGRIND')
                          ? $ENV{TEST_NGINX_USE_VALGRIND} : undef;
our $Randomize          = _env_true('TEST_NGINX_RANDOMIZE') ? 1 : 0;
our $NginxBinary        = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $NginxVersion;
our $NginxRawVersion;
our $NginxConfigureArgs = '';
our @EnvToNginx;
our @BlockPreprocessors;
our @ResponseBodyChecks;
our @CleanupHandlers;
our @TestCleanupHandlers;

our $ServerPort;
our $ServerPortForClient;
our $ServRoot;

if ($Randomize) {
    $ServerPort = _pick_free_port(1988, 65534);
    $ServRoot   = "$Cwd/t/servroot_$ServerPort";
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
}
else {
    $ServerPort = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                  || 1984;
    $ServRoot = $ENV{TEST_NGINX_SERVROOT} || "$Cwd/t/servroot";
    $ServRoot = File::Spec->rel2abs($ServRoot);
}
$ServRoot =~ s{/+$}{};
$ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;

our $LogDir      = "$ServRoot/logs";
our $ErrLogFile  = "$LogDir/error.log";
our $AccLogFile  = "$LogDir/access.log";
our $PidFile     = "$LogDir/nginx.pid";
our $ConfDir     = "$ServRoot/conf";
our $ConfFile    = "$ConfDir/nginx.conf";
our $HtmlDir     = "$ServRoot/html";

$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

# ----------------------------------------------------------------------
# Exported configuration functions
# ----------------------------------------------------------------------

sub repeat_each (;$) {
    $RepeatEach = shift if @_;
    return $RepeatEach;
}

sub no_shuffle ()             { $NoShuffle = 1 }
sub no_long_string ()         { $NoLongString = 1 }
sub check_accum_error_log ()  { $CheckAccumErrLog = 1 }
sub no_root_location ()       { $NoRootLocation = 1 }
sub no_nginx_manager ()       { $NoNginxManager = 1 }
sub master_on ()              { $MasterProcessEnabled = 1 }
sub master_off ()             { $MasterProcessEnabled = 0 }

sub master_process_enabled (;$) {
    $MasterProcessEnabled = $_[0] ? 1 : 0 if @_;
    return $MasterProcessEnabled;
}

sub log_level (;$) {
    $LogLevel = shift if @_;
    return $LogLevel;
}

sub workers (;$) {
    $Workers = shift if @_;
    return $Workers;
}

sub worker_connections (;$) {
    $WorkerConnections = shift if @_;
    return $WorkerConnections;
}

sub timeout (;$) {
    $Timeout = shift if @_;
    return $Timeout;
}

sub server_name (;$) {
    $ServerName = shift if @_;
    return $ServerName;
}

sub server_addr (;$) {
    $ServerAddr = shift if @_;
    return $ServerAddr;
}

sub server_port (;$) {
    if (@_) {
        $ServerPort = shift;
        $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
    }
    return $ServerPort;
}

sub server_port_for_client (;$) {
    $ServerPortForClient = shift if @_;
    return $ServerPortForClient;
}

sub server_root ()  { $ServRoot }
sub html_dir ()     { $HtmlDir }

sub config_preamble ($) { $ConfigPreamble = shift }

sub env_to_nginx (@) { push @EnvToNginx, @_ }

sub add_block_preprocessor (&)   { push @BlockPreprocessors, shift }
sub add_response_body_check (&)  { push @ResponseBodyChecks, shift }
sub add_cleanup_handler (&)      { push @CleanupHandlers, shift }
sub add_test_cleanup_handler (&) { push @TestCleanupHandlers, shift }

# ----------------------------------------------------------------------
# State
# ----------------------------------------------------------------------

my $NginxRunning = 0;      # we believe an nginx we manage is up
my $StartedPid;            # pid (from the pid file) of the nginx we started
my $ValgrindPid;           # pid of the foreground valgrind+nginx child
my $ValgrindLog;           # its --log-file
my $ValgrindSeq = 0;
my $ValgrindBlockName;     # last block that ran against it (its log's
                           # problems are reported against that block)
my $ValgrindSeenErrors = 0;  # error records of its log reported so far
my $ValgrindReaped = 0;    # it has exited and was reaped already
my $PrevConfigBlock;       # last block that had a --- config section
my $ErrLogOffset = 0;
my $AccLogOffset = 0;
my %RandPorts;
my $BailingOut = 0;
my $Cleaned = 0;
my $RunTestsCalled = 0;

# ----------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------

sub _pick_free_port {
    my ($lo, $hi) = @_;
    for (1 .. 1000) {
        my $port = $lo + int(rand($hi - $lo + 1));
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => $port,
            Proto     => 'tcp',
            ReuseAddr => 1,
            Listen    => 1,
        ) or next;
        close $s;
        return $port;
    }
    die "could not find a free port\n";
}

sub _tb { Test::Builder->new }

sub bail_out (@) {
    my $msg = join '', @_;
    $BailingOut = 1;
    eval { _cleanup() };
    _tb()->BAIL_OUT($msg);
    exit 255;
}

sub _slurp {
    my $f = shift;
    open my $fh, '<', $f or return undef;
    binmode $fh;
    local $/;
    my $s = <$fh>;
    close $fh;
    return $s;
}

sub _spew {
    my ($f, $content) = @_;
    open my $fh, '>', $f or bail_out("Cannot write $f: $!");
    binmode $fh;
    print {$fh} $content;
    close $fh or bail_out("Cannot write $f: $!");
}

sub _find_in_path {
    my $name = shift;
    return $name if $name =~ m{/};
    for my $dir (split /:/, ($ENV{PATH} || '')) {
        next unless length $dir;
        my $p = "$dir/$name";
        return $p if -f $p && -x _;
    }
    for my $dir (qw(/usr/sbin /usr/local/sbin /sbin /usr/local/nginx/sbin)) {
        my $p = "$dir/$name";
        return $p if -f $p && -x _;
    }
    return undef;
}

sub _parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return undef if $t eq '';
    return $1 / 1000 if $t =~ /^(\d+(?:\.\d*)?)ms$/;
    return $1 if $t =~ /^(\d+(?:\.\d*)?)s?$/;
    return $1 * 60 if $t =~ /^(\d+(?:\.\d*)?)m$/;
    warn "WARNING: bad time value '$t', using default\n";
    return undef;
}

sub _nginx_version {
    return $NginxVersion if defined $NginxVersion;
    my $bin = _find_in_path($NginxBinary);
    return undef unless defined $bin;
    $NginxBinary = $bin;
    my $out = `'$bin' -V 2>&1`;
    return undef if $? != 0 || !defined $out;
    if ($out =~ m{version:\s*\S+?/(\d+)\.(\d+)\.(\d+)}) {
        $NginxRawVersion = "$1.$2.$3";
        $NginxVersion = $1 * 1000000 + $2 * 1000 + $3;
    }
    else {
        return undef;
    }
    $NginxConfigureArgs = $1 if $out =~ /configure arguments:(.*)/;
    return $NginxVersion;
}

sub _ver2num {
    my $v = shift;
    my @p = split /\./, $v;
    push @p, 0 while @p < 3;
    return $p[0] * 1000000 + $p[1] * 1000 + $p[2];
}

# $TEST_NGINX_* expansion. Undefined variables bail out.
sub _expand_env {
    my ($name, $text) = @_;
    return $text if !defined $text || ref $text;
    $text =~ s{\$(TEST_NGINX_[A-Z0-9_]+)}{_env_value($name, $1)}ge;
    return $text;
}

sub _env_value {
    my ($name, $var) = @_;
    if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
        return $RandPorts{$var} //= _pick_free_port(1985, 65000);
    }
    my $v = $ENV{$var};
    bail_out("$name - No environment $var defined.\n") unless defined $v;
    return $v;
}

sub _server_port_subst {
    my $s = shift;
    return $s if !defined $s || ref $s;
    $s =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

# A section value, always in scalar context (block accessors return an
# empty list in list context when the section is absent).
sub _sec {
    my ($block, $sec) = @_;
    my $v = $block->$sec;
    return $v;
}

sub _trim {
    my $s = shift;
    return $s unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    return $s;
}

# Value for request number $i: an array ref is indexed, a plain value is
# used for every request.
sub _idx {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

sub _eval_main {
    my $code = shift;
    no strict;
    no warnings;
    package main;
    my $rv = eval $code;
    return $@;
}

# ----------------------------------------------------------------------
# Servroot, config and nginx process management
# ----------------------------------------------------------------------

sub _setup_server_root {
    my ($name) = @_;
    if (-d $ServRoot) {
        opendir my $dh, $ServRoot or bail_out("Cannot open $ServRoot: $!");
        for my $e (readdir $dh) {
            next if $e eq '.' || $e eq '..';
            next unless $e =~ /^(?:conf|html|logs|cache|.*_cache|.*_temp)$/;
            File::Path::rmtree("$ServRoot/$e");
        }
        closedir $dh;
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    for my $d ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        File::Path::mkpath($d);
        -d $d or bail_out("Cannot create directory $d");
    }
    _spew("$HtmlDir/index.html", '<html><head><title>It works!</title>'
                                 . '</head><body>It works!</body></html>');
}

sub _write_user_files {
    my ($block, $files) = @_;
    my $name = $block->name;
    return unless defined $files;
    my @files;
    if (ref $files eq 'ARRAY') {
        for my $f (@$files) {
            bail_out("$name - user_files eval: each element must be "
                     . "[name, body, date]") unless ref $f eq 'ARRAY';
            push @files, [@$f];
        }
    }
    else {
        my $cur;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>>\s+(\S+)(?:[ \t]+(.*?))?\s*$/) {
                $cur = [ $1, '', $2 ];
                push @files, $cur;
                next;
            }
            if (!$cur) {
                next if $line =~ /^\s*$/;
                bail_out("$name - user_files: text before the first "
                         . "'>>> file' line");
            }
            $cur->[1] .= $line;
        }
    }
    for my $f (@files) {
        my ($fname, $body, $date) = @$f;
        $body = '' unless defined $body;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        File::Path::mkpath(File::Basename::dirname($path));
        $body = _expand_env($name, $body);
        utf8::encode($body) if utf8::is_utf8($body);
        _spew($path, $body);
        if (defined $date && length $date) {
            system('touch', '-t', $date, $path) == 0
                or warn "WARNING: $name - cannot touch -t '$date' $path\n";
        }
    }
}

sub _load_module_prefix {
    my $mods = $ENV{TEST_NGINX_LOAD_MODULES};
    return '' unless defined $mods && $mods =~ /\S/;
    my @paths = grep { length } split /\s+/, $mods;
    return join(' ', map { "load_module $_;" } @paths) . "\n";
}

sub _write_config {
    my ($block, %opt) = @_;
    my $name = $block->name;

    my $main_config = _load_module_prefix()
                      . (defined _sec($block, q{main_config}) ? _sec($block, q{main_config}) : '');
    $main_config = _expand_env($name, $main_config);
    my $http_config = _expand_env($name, _sec($block, q{http_config}) // '');
    my $post_main   = _expand_env($name, _sec($block, q{post_main_config}) // '');
    my $config      = _expand_env($name, _sec($block, q{config}) // '');
    my $level       = _trim(_sec($block, q{log_level})) || $LogLevel;
    my $err_log     = defined _sec($block, q{error_log_file})
                      ? _expand_env($name, _trim(_sec($block, q{error_log_file})))
                      : $ErrLogFile;
    my $srv_name    = defined _sec($block, q{server_name})
                      ? _trim(_sec($block, q{server_name})) : $ServerName;

    my $daemon = $opt{daemon} ? 'on' : 'off';
    my $master = $opt{master} ? 'on' : 'off';

    my @temp;
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $http_config =~ /\b${t}_temp_path\b/;
        next if $t ne 'client_body'
             && $NginxConfigureArgs =~ /--without-http_${t}_module\b/;
        push @temp, "${t}_temp_path $ServRoot/${t}_temp;";
    }

    my $env_lines = join '', map { "env $_;\n" } qw(
        MOCKEAGAIN_VERBOSE MOCKEAGAIN MOCKEAGAIN_WRITE_TIMEOUT_PATTERN
        LD_PRELOAD LD_LIBRARY_PATH DYLD_INSERT_LIBRARIES
        DYLD_FORCE_FLAT_NAMESPACE
    );
    $env_lines .= join '', map { "env $_;\n" } @EnvToNginx;

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $event_type = $ENV{TEST_NGINX_EVENT_TYPE}
                     ? "    use $ENV{TEST_NGINX_EVENT_TYPE};\n" : '';

    my $user = '';
    if ($ENV{TEST_NGINX_WORKER_USER}) {
        $user = "user $ENV{TEST_NGINX_WORKER_USER};\n";
    }
    elsif ($> == 0) {
        $user = "user root;\n";
    }

    my $conf = <<"_EOC_";
worker_processes  $Workers;
daemon $daemon;
master_process $master;
error_log $err_log $level;
pid       $PidFile;
$env_lines$main_config

http {
    access_log $AccLogFile;
    ${\ join "\n    ", @temp}

    default_type text/plain;
    keepalive_timeout  68000ms;

$http_config

    server {
        listen          $ServerPort;
        server_name     '$srv_name';

        client_max_body_size 30M;
        $ConfigPreamble

$config

$root_location    }
}

$post_main

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
$event_type}

env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_

    _spew($ConfFile, $conf);
}

sub _nginx_cmd {
    my @cmd = ($NginxBinary);
    push @cmd, '-e', $ErrLogFile if $NginxVersion >= 1019005;
    push @cmd, '-p', "$ServRoot/", '-c', $ConfFile;
    return @cmd;
}

sub _read_pid_file {
    my $s = _slurp($PidFile);
    return undef unless defined $s && $s =~ /^\s*(\d+)/;
    return $1;
}

sub _is_nginx_pid {
    my $pid = shift;
    return 0 unless $pid && kill(0, $pid);
    my $cmd = _slurp("/proc/$pid/cmdline");
    return 1 unless defined $cmd;    # no /proc: trust the pid file
    return $cmd =~ /nginx|valgrind|memcheck/ ? 1 : 0;
}

# Run a command with stdout to /dev/null and stderr captured.
# Returns ($wait_status, $stderr_text).
sub _run_capture {
    my ($cmd, %opt) = @_;
    my $tmp = File::Temp->new(TMPDIR => 1, TEMPLATE => 'tnginx-err-XXXXXX');
    my $pid = fork;
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        if ($opt{suppress_stderr}) {
            open STDERR, '>', '/dev/null';
        }
        else {
            open STDERR, '>', $tmp->filename;
        }
        _set_ld_preload();
        { no warnings q{exec}; exec { $cmd->[0] } @$cmd; }
        POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $?;
    my $err = _slurp($tmp->filename);
    $err = '' unless defined $err;
    return ($status, $err);
}

sub _set_ld_preload {
    if (my $pre = $ENV{TEST_NGINX_LD_PRELOAD}) {
        $ENV{LD_PRELOAD} = defined $ENV{LD_PRELOAD} && length $ENV{LD_PRELOAD}
                           ? "$pre $ENV{LD_PRELOAD}" : $pre;
    }
}

sub _start_nginx {
    my ($block) = @_;
    my $name = $block->name;
    my @cmd = _nginx_cmd();

    if ($UseValgrind) {
        return _start_nginx_valgrind($block, \@cmd);
    }

    my $start = Time::HiRes::time();
    my $i = 0;
    while (1) {
        my ($status, $err) = _run_capture(\@cmd,
            suppress_stderr => defined _sec($block, q{suppress_stderr}));
        print STDERR $err if length $err;
        if ($status == 0) {
            # daemon on: the command returns once nginx has forked; the
            # daemon writes its pid file right after.
            my $deadline = Time::HiRes::time() + 5;
            until (_read_pid_file() || Time::HiRes::time() > $deadline) {
                Time::HiRes::sleep(0.01);
            }
            $StartedPid = _read_pid_file();
            $NginxRunning = 1;
            return 1;
        }
        my $code = $status >> 8;
        # Retry only what can go away by itself (a port still in use);
        # a broken configuration will not fix itself within 30 s.
        my $transient = $err =~ /Address already in use|bind\(\) to .* failed|could not bind/i;
        if (!$transient || Time::HiRes::time() - $start > 30) {
            bail_out("$name - Cannot start nginx using command \""
                     . join(' ', @cmd) . "\" (status code $code).");
        }
        $i++;
        my $wait = 0.1 * $i;
        $wait = 1 if $wait > 1;
        Time::HiRes::sleep($wait);
    }
}

sub _valgrind_suppressions {
    my @files;
    my %seen;
    my $here = File::Basename::dirname(__FILE__);    # .../t/lib/Test/Nginx
    for my $cand ("$Cwd/valgrind.suppress",
                  "$here/../../../../valgrind.suppress") {
        next unless -f $cand;
        my $abs = Cwd::abs_path($cand) // $cand;
        next if $seen{$abs}++;
        push @files, $abs;
    }
    return @files;
}

sub _valgrind_cmd {
    my ($nginx_cmd, $log) = @_;
    my $v = $UseValgrind;
    my @cmd = ('valgrind');
    if ($v =~ /^\d+$/) {
        push @cmd, qw(--tool=memcheck --leak-check=full --keep-debuginfo=yes
                      --show-possibly-lost=no --errors-for-leak-kinds=none
                      --num-callers=30 --gen-suppressions=all);
        if (_env_true('TEST_NGINX_VALGRIND_EXIT_ON_FIRST_ERR')) {
            push @cmd, '--exit-on-first-error=yes', '--error-exitcode=1';
        }
        push @cmd, "--suppressions=$_" for _valgrind_suppressions();
    }
    else {
        push @cmd, split ' ', $v;
        push @cmd, "--suppressions=$_" for _valgrind_suppressions();
    }
    push @cmd, "--log-file=$log" unless grep { /^--log-file/ } @cmd;
    return (@cmd, @$nginx_cmd);
}

sub _start_nginx_valgrind {
    my ($block, $nginx_cmd) = @_;
    my $name = $block->name;
    _find_in_path('valgrind')
        or bail_out("TEST_NGINX_USE_VALGRIND is set but valgrind is not "
                    . "in PATH");
    $ValgrindSeq++;
    $ValgrindLog = "$LogDir/valgrind-$ValgrindSeq.log";
    my @cmd = _valgrind_cmd($nginx_cmd, $ValgrindLog);
    print STDERR "$name\n";
    my $pid = fork;
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        _set_ld_preload();
        { no warnings q{exec}; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    $ValgrindPid = $pid;
    $ValgrindReaped = 0;
    $ValgrindBlockName = $name;
    $ValgrindSeenErrors = 0;
    $NginxRunning = 1;

    # nginx writes its pid file after it has opened its listening sockets;
    # under valgrind that takes a while.
    my $deadline = Time::HiRes::time() + 60;
    while (Time::HiRes::time() < $deadline) {
        my $r = waitpid($pid, POSIX::WNOHANG());
        if ($r == $pid) {
            my $code = $? >> 8;
            $ValgrindPid = undef;
            $NginxRunning = 0;
            my $log = _slurp($ValgrindLog) // '';
            print STDERR $log;
            bail_out("$name - Cannot start nginx using command \""
                     . join(' ', @cmd) . "\" (status code $code).");
        }
        my $p = _read_pid_file();
        return 1 if $p && $p == $pid;
        Time::HiRes::sleep(0.05);
    }
    warn "WARNING: $name - nginx under valgrind did not write its pid file "
         . "within 60 s\n";
    return 1;
}

# A daemonised nginx is reparented to PID 1, which may reap it late; a
# zombie has exited and released its sockets.
sub _is_zombie {
    my $pid = shift;
    my $stat = _slurp("/proc/$pid/stat");
    return 0 unless defined $stat;
    return $stat =~ /^\d+ \(.*\) Z/s ? 1 : 0;
}

# Wait for $pid to exit. $sig, if given, is re-sent now and then: a signal
# that arrives while nginx is still starting up (after it wrote its pid file
# but before its event loop runs) is only acted on at the next event.
sub _wait_gone {
    my ($pid, $secs, $is_child, $sig) = @_;
    my $start = Time::HiRes::time();
    my $deadline = $start + $secs;
    my $next_sig = $start + 0.1;
    while (Time::HiRes::time() < $deadline) {
        if ($is_child) {
            my $r = waitpid($pid, POSIX::WNOHANG());
            return 1 if $r == $pid || $r == -1;
        }
        else {
            return 1 unless kill 0, $pid;
            return 1 if _is_zombie($pid);
        }
        if ($sig && Time::HiRes::time() >= $next_sig) {
            kill $sig, $pid;
            $next_sig = Time::HiRes::time() + 0.2;
        }
        Time::HiRes::sleep(0.02);
    }
    return 0;
}

# Stop the nginx we manage. In valgrind mode, also scan its log and
# report what was not reported yet (as failing tests) against the last block
# that ran against this nginx: errors since the last check, leaks (written
# at exit only), a missing ERROR SUMMARY.
sub _stop_nginx {
    my %opt = @_;
    if ($ValgrindPid) {
        my $pid = $ValgrindPid;
        if ($ValgrindReaped) {
            warn "WARNING: $ValgrindBlockName - nginx (under valgrind) had "
                 . "already exited\n";
        }
        elsif (kill 'QUIT', $pid and !_wait_gone($pid, 30, 1, 'QUIT')) {
            warn "WARNING: timeout when waiting for the process $pid "
                 . "(valgrind) to exit; killing it\n";
            kill 'KILL', -$pid;
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
        $ValgrindPid = undef;
        $NginxRunning = 0;
        unlink $PidFile;
        _check_valgrind_log($ValgrindBlockName, $ValgrindLog, final => 1)
            unless $opt{no_valgrind_check};
        return;
    }

    my $pid = _read_pid_file();
    # the pid file may be gone (servroot removed by someone else): fall
    # back to the pid of the nginx this process started
    $pid = $StartedPid if !$pid || !_is_nginx_pid($pid);
    $StartedPid = undef;
    if ($pid && _is_nginx_pid($pid)) {
        my $sig = _env_true('TEST_NGINX_FAST_SHUTDOWN') ? 'TERM' : 'QUIT';
        kill $sig, $pid;
        unless (_wait_gone($pid, $Timeout < 3 ? 3 : $Timeout, 0, $sig)) {
            warn "WARNING: timeout when waiting for the process $pid to "
                 . "exit; killing it\n";
            kill 'KILL', $pid;
            _wait_gone($pid, 3, 0);
        }
    }
    unlink $PidFile if -e $PidFile;
    $NginxRunning = 0;
}

# After a block, in valgrind mode, with nginx left running for the next
# block: report the memcheck errors that appeared in the log since the
# previous check against this block. If nginx has died meanwhile, stop it
# for good (full check); the next block starts a new one.
sub _valgrind_block_done {
    my ($name) = @_;
    return unless $ValgrindPid;
    $ValgrindBlockName = $name;
    if (!_nginx_alive()) {
        _stop_nginx();
        return;
    }
    _valgrind_log_settle($ValgrindLog);
    _check_valgrind_log($name, $ValgrindLog, final => 0);
}

# Errors that nginx hits after the response (closing the connection,
# freeing the request pool, log phase) reach the log a little after the
# client saw the end of the response: wait a moment, then until the log
# stops growing (for at most 3 s).
sub _valgrind_log_settle {
    my ($log) = @_;
    Time::HiRes::sleep(0.2);
    my $deadline = Time::HiRes::time() + 3;
    my $size = -s $log // 0;
    while (Time::HiRes::time() < $deadline) {
        Time::HiRes::sleep(0.1);
        my $now = -s $log // 0;
        last if $now == $size;
        $size = $now;
    }
}

# Scan a valgrind log. final => 0: nginx is still running; only error
# records that are new since the previous check are reported. final => 1:
# nginx has exited; also leaks and a missing ERROR SUMMARY.
sub _check_valgrind_log {
    my ($name, $log, %opt) = @_;
    $name = "$0 (valgrind)" unless defined $name;
    return unless defined $log;
    my $match = defined $ENV{TEST_NGINX_VALGRIND_LEAK_MATCH}
                ? $ENV{TEST_NGINX_VALGRIND_LEAK_MATCH} : 'leadlist';
    my $tb = _tb();
    if (!$opt{final} && !-e $log) {
        return;    # valgrind has not written anything yet
    }
    my $r = Test::Nginx::LocalDriver::Valgrind::scan_file($log,
                leak_match  => $opt{final} ? $match : '',
                seen_errors => $ValgrindSeenErrors);
    if (!$r) {
        $tb->ok(0, "$name - valgrind log $log is readable");
        return;
    }
    $ValgrindSeenErrors = @{ $r->{error_records} }
        if @{ $r->{error_records} } > $ValgrindSeenErrors;
    if ($opt{final} && !$r->{complete}) {
        $tb->ok(0, "$name - valgrind finished its report "
                   . "(no ERROR SUMMARY in $log; nginx killed?)");
    }
    for my $f (@{ $r->{failures} }) {
        my ($why, $records) = @$f;
        $tb->ok(0, "$name - $why");
        my $n = 0;
        for my $rec (@$records) {
            last if ++$n > 5;
            my @l = split /\n/, $rec;
            splice @l, 60 if @l > 60;
            $tb->diag(join("\n", @l));
        }
        $tb->diag("(full valgrind log: $log)");
    }
}

# ----------------------------------------------------------------------
# Requests
# ----------------------------------------------------------------------

sub _parse_more_headers {
    my $text = shift;
    my @h;
    return \@h unless defined $text;
    for my $line (split /\n/, $text) {
        $line =~ s/\r$//;
        next if $line =~ /^\s*$/;
        next if $line =~ /^\s*#/;
        $line =~ s/^\s+//;
        my ($k, $v) = split /:\s*/, $line, 2;
        $v = '' unless defined $v;
        push @h, "$k: $v";
    }
    return \@h;
}

# Build one HTTP request from "METHOD [URI [VERSION]]\nbody".
# Returns ($bytes, $method).
sub _build_request {
    my ($name, $text, $more_headers, $conn) = @_;
    $text = '' unless defined $text;
    while (1) {
        next if $text =~ s/\A\s+//;
        next if $text =~ s/\A#[^\n]*(?:\n|\z)//;
        last;
    }
    bail_out("$name - request empty") if $text eq '';
    my ($first, $body) = split /\n/, $text, 2;
    $body = '' unless defined $body;
    $first =~ s/\s+\z//;
    my ($meth, $uri, $ver);
    if ($first =~ m{^([A-Za-z][-A-Za-z0-9_]*)(?:\s+(\S+)(?:\s+(\S+))?)?$}) {
        ($meth, $uri, $ver) = ($1, $2, $3);
    }
    else {
        bail_out("$name - invalid request line: $first");
    }
    $uri = '/' unless defined $uri;
    $ver = 'HTTP/1.1' unless defined $ver;

    my @mh = @{ $more_headers || [] };
    my $req = "$meth $uri $ver\r\n";
    $req .= "Host: localhost\r\n" unless grep { /^Host\s*:/i } @mh;
    $req .= "Connection: $conn\r\n" unless grep { /^Connection/i } @mh;
    $req .= "$_\r\n" for @mh;
    my $has_len = grep { /^Content-Length:/ } @mh;
    my $chunked = grep { /^Transfer-Encoding\s*:\s*chunked\s*$/i } @mh;
    utf8::encode($body) if utf8::is_utf8($body);
    if (!$has_len && !$chunked && length $body) {
        $body =~ s/^\s+//;
        $body =~ s/\s+$//;
        $req .= "Content-Length: " . length($body) . "\r\n" if length $body;
    }
    utf8::encode($req) if utf8::is_utf8($req);
    $req .= "\r\n" . $body;
    return ($req, uc $meth);
}

sub _more_headers_for {
    my ($more, $i) = @_;
    return _parse_more_headers(ref $more eq 'ARRAY' ? $more->[$i] : $more);
}

# Work out the connections to open: each is { packets => [{value,
# delay_before}], methods => [METHOD per expected response] }.
sub _build_connections {
    my ($block) = @_;
    my $name = $block->name;
    my $more = _sec($block, q{more_headers});
    my @conns;

    if (defined(my $pr = _sec($block, q{pipelined_requests}))) {
        bail_out("$name - pipelined_requests must be an array (use eval)")
            unless ref $pr eq 'ARRAY';
        my $data = '';
        my @methods;
        for my $i (0 .. $#$pr) {
            my $txt = _expand_env($name, $pr->[$i]);
            my ($r, $m) = _build_request($name, $txt,
                _more_headers_for($more, $i),
                $i == $#$pr ? 'close' : 'keep-alive');
            $data .= $r;
            push @methods, $m;
        }
        push @conns, { packets => [ { value => $data } ],
                       methods => \@methods };
        return \@conns;
    }

    if (defined(my $raw = _sec($block, q{raw_request}))) {
        my @parts = ref $raw eq 'ARRAY' ? @$raw : ($raw);
        my $delay = _parse_time(_sec($block, q{raw_request_middle_delay}));
        my @packets;
        for my $i (0 .. $#parts) {
            my $p = $parts[$i];
            $p = { value => $p } unless ref $p eq 'HASH';
            $p = { %$p };
            $p->{delay_before} = $delay
                if $i > 0 && defined $delay && !defined $p->{delay_before};
            utf8::encode($p->{value}) if utf8::is_utf8($p->{value});
            push @packets, $p;
        }
        my $first = join '', map { $_->{value} } @packets;
        my ($m) = $first =~ /^\s*([A-Za-z]+)/;
        push @conns, { packets => \@packets, methods => [ uc($m // 'GET') ] };
        return \@conns;
    }

    my $req = _sec($block, q{request});
    if (!defined $req && defined _sec($block, q{request_eval})) {
        Test::More::diag("$name - the 'request_eval' section is deprecated; "
                         . "use '--- request eval'");
        $req = _sec($block, q{request_eval});
    }
    bail_out("$name - No '--- request' section specified") unless defined $req;
    my @reqs = ref $req eq 'ARRAY' ? @$req : ($req);
    bail_out("$name - request eval returned an empty array") unless @reqs;
    for my $i (0 .. $#reqs) {
        my $r = $reqs[$i];
        my $mh = _more_headers_for($more, $i);
        if (ref $r eq 'ARRAY') {
            my @vals = map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @$r;
            my $joined = join '', map { $_->{value} } @vals;
            my ($full, $m) = _build_request($name, $joined, $mh, 'close');
            # Headers added by the driver go into the first packet; the
            # other packets keep their sizes.
            my $extra = length($full) - length($joined);
            my $pos = 0;
            my @packets;
            for my $k (0 .. $#vals) {
                my $len = length($vals[$k]{value});
                $len += $extra if $k == 0;
                $len = 0 if $len < 0;
                my $chunk = $k == $#vals ? substr($full, $pos)
                                         : substr($full, $pos, $len);
                $chunk = '' unless defined $chunk;
                $pos += length $chunk;
                push @packets, { %{ $vals[$k] }, value => $chunk };
            }
            push @conns, { packets => \@packets, methods => [$m] };
        }
        else {
            my ($full, $m) = _build_request($name, $r, $mh, 'close');
            push @conns, { packets => [ { value => $full } ],
                           methods => [$m] };
        }
    }
    return \@conns;
}

# Is the nginx we manage still there? (Used to stop connect retries early
# when nginx has died, e.g. crashed under valgrind.)
sub _nginx_alive {
    return 1 if $NoNginxManager;
    if ($ValgrindPid) {
        return 0 if $ValgrindReaped;
        return 1 if waitpid($ValgrindPid, POSIX::WNOHANG()) == 0;
        $ValgrindReaped = 1;
        return 0;
    }
    my $pid = _read_pid_file();
    return 0 unless $pid;
    return 0 unless kill 0, $pid;
    return _is_zombie($pid) ? 0 : 1;
}

sub _connect {
    my ($name, $timeout) = @_;
    my $err;
    my $max = 50;
    for my $n (0 .. $max) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $ServerAddr,
            PeerPort => $ServerPortForClient,
            Proto    => 'tcp',
            Timeout  => $timeout,
        );
        return $sock if $sock;
        $err = $@ || $!;
        last if $n == $max;
        if ($n >= 2 && !_nginx_alive()) {
            $err .= ' (nginx is not running)';
            last;
        }
        my $k = $n + 1;
        my $wait = ($Sleep + $Sleep * $k) * $k / 2;
        $wait = 1 if $wait > 1;
        if ($wait >= 0.6) {
            warn "$name - Can't connect to $ServerAddr:$ServerPortForClient: "
                 . "$err (retries: $k)\nRetry connecting after $wait sec\n";
        }
        Time::HiRes::sleep($wait);
    }
    return (undef, $err);
}

# Send the packets of one connection and read until EOF.
# Returns ($data, $timed_out, $error).
sub _exchange {
    my ($block, $conn, $timeout) = @_;
    my $name = $block->name;
    my ($sock, $err) = _connect($name, $timeout);
    return (undef, 0, "Can't connect to $ServerAddr:$ServerPortForClient: "
                      . ($err // 'unknown error')) unless $sock;
    local $SIG{PIPE} = 'IGNORE';
    binmode $sock;
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $timed_out = 0;

  PACKET:
    for my $p (@{ $conn->{packets} }) {
        if (my $d = _parse_time($p->{delay_before})) {
            Time::HiRes::sleep($d);
        }
        my $buf = $p->{value};
        my $off = 0;
        while ($off < length $buf) {
            my @w = $sel->can_write($timeout);
            if (!@w) {
                $timed_out = 1;
                last PACKET;
            }
            my $n = syswrite($sock, $buf, length($buf) - $off, $off);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                warn "WARNING: $name - write failed: $!\n"
                    unless $!{EPIPE} || $!{ECONNRESET};
                last PACKET;
            }
            $off += $n;
        }
    }

    if (!$timed_out && defined(my $sh = _sec($block, q{shutdown}))) {
        $sh = _trim($sh);
        shutdown($sock, length $sh ? $sh : 1);
    }

    my $data = '';
    unless ($timed_out) {
        while (1) {
            my @r = $sel->can_read($timeout);
            if (!@r) {
                $timed_out = 1;
                last;
            }
            my $n = sysread($sock, my $chunk, 65536);
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EWOULDBLOCK} || $!{EINTR};
                warn "WARNING: $name - read failed: $!\n"
                    unless $!{ECONNRESET};
                last;
            }
            last if $n == 0;
            $data .= $chunk;
        }
    }
    close $sock;
    return ($data, $timed_out, undef);
}

# ----------------------------------------------------------------------
# Response parsing
# ----------------------------------------------------------------------

sub _summary {
    my $s = shift;
    $s = '' unless defined $s;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    $s = substr($s, 0, 200) . '...' if length $s > 200;
    return $s;
}

# Parse one response from $data. Returns a hash:
#   status, raw_headers, headers (lc name => "v1, v2"), header_list,
#   body, leftover, errors (list of failure-name suffixes), truncated
sub _parse_response {
    my ($data, %opt) = @_;
    my $method = $opt{method} || 'GET';
    my %res = (status => undef, raw_headers => '', headers => {},
               header_list => [], body => '', leftover => '', errors => [],
               empty => 0);
    if (!defined $data || $data eq '') {
        $res{empty} = 1;
        return \%res;
    }
    if ($opt{http09}) {
        $res{status} = 200;
        $res{body} = $data;
        return \%res;
    }

    my ($head, $rest);
    my $p = index($data, "\r\n\r\n");
    if ($p >= 0) {
        $head = substr($data, 0, $p);
        $rest = substr($data, $p + 4);
    }
    elsif (($p = index($data, "\n\n")) >= 0) {
        $head = substr($data, 0, $p);
        $rest = substr($data, $p + 2);
    }
    else {
        $head = $data;
        $rest = '';
        push @{ $res{errors} }, 'response headers are incomplete';
    }
    $res{raw_headers} = "$head\r\n";
    my @lines = split /\r?\n/, $head;
    my $status_line = shift @lines;
    $status_line = '' unless defined $status_line;
    if ($status_line =~ m{^HTTP/\d+(?:\.\d+)?\s+(\d{3})\b}) {
        $res{status} = $1;
    }
    my %h;
    for my $l (@lines) {
        if ($l =~ /^[ \t]+(.*)$/ && @{ $res{header_list} }) {
            my $last = $res{header_list}[-1];
            $last->[1] .= " $1";
            $h{ lc $last->[0] }[-1] .= " $1";
            next;
        }
        next unless $l =~ /^([^:\s][^:]*?)\s*:\s*(.*?)\s*$/;
        push @{ $res{header_list} }, [ $1, $2 ];
        push @{ $h{ lc $1 } }, $2;
    }
    $res{headers} = { map { $_ => join(', ', @{ $h{$_} }) } keys %h };

    my $status = $res{status} // 0;
    if ($method eq 'HEAD' || $status == 204 || $status == 304
        || ($status >= 100 && $status < 200 && $status != 101))
    {
        $res{leftover} = $rest;
        return \%res;
    }
    if ($status == 101) {
        $res{body} = $rest;
        return \%res;
    }

    my $te = $res{headers}{'transfer-encoding'};
    my $cl = $res{headers}{'content-length'};
    if (defined $te && $te =~ /\bchunked\b/i) {
        my $body = '';
        my $pos = 0;
        my $done = 0;
        while (1) {
            my $eol = index($rest, "\r\n", $pos);
            if ($eol < 0) {
                push @{ $res{errors} },
                    'no last chunk found - ' . _summary(substr($rest, $pos));
                last;
            }
            my $line = substr($rest, $pos, $eol - $pos);
            if ($line !~ /^\s*([0-9a-fA-F]+)\s*(?:;.*)?$/) {
                push @{ $res{errors} },
                    'invalid chunked body received: ' . _summary($line);
                last;
            }
            my $size = hex $1;
            $pos = $eol + 2;
            if ($size == 0) {
                # optional trailers, then the final CRLF
                while (1) {
                    my $e = index($rest, "\r\n", $pos);
                    if ($e < 0) {
                        push @{ $res{errors} },
                            'invalid chunked data received (expected CRLF).';
                        $pos = length $rest;
                        last;
                    }
                    my $tl = substr($rest, $pos, $e - $pos);
                    $pos = $e + 2;
                    last if $tl eq '';
                    push @{ $res{trailers} }, $tl;
                }
                $done = 1;
                last;
            }
            my $avail = length($rest) - $pos;
            if ($avail < $size) {
                $body .= substr($rest, $pos);
                push @{ $res{errors} },
                    "invalid chunked data received (not enought octets: "
                    . "expected $size, but got $avail)";
                last;
            }
            $body .= substr($rest, $pos, $size);
            $pos += $size;
            if (substr($rest, $pos, 2) ne "\r\n") {
                push @{ $res{errors} },
                    'invalid chunked data received (expected CRLF).';
                last;
            }
            $pos += 2;
        }
        $res{body} = $body;
        $res{leftover} = $done ? substr($rest, $pos) : '';
        $res{chunked} = 1;
    }
    elsif (defined $cl && $cl =~ /^\s*(\d+)/) {
        my $len = $1;
        if (length($rest) >= $len) {
            $res{body} = substr($rest, 0, $len);
            $res{leftover} = substr($rest, $len);
        }
        else {
            $res{body} = $rest;
            $res{truncated} = 1;
        }
    }
    else {
        $res{body} = $rest;
    }
    return \%res;
}

# ----------------------------------------------------------------------
# Checks
# ----------------------------------------------------------------------

sub _is_string {
    my ($got, $exp, $name) = @_;
    if (!$NoLongString && eval { require Test::LongString; 1 }) {
        local $Test::Builder::Level = $Test::Builder::Level + 1;
        return Test::LongString::is_string($got, $exp, $name);
    }
    return Test::Base::is($got, $exp, $name);
}

sub _check_response {
    my ($block, $res, $i, $rep, $dry) = @_;
    my $name = $block->name;
    my $tb = _tb();

    # status code
    if (defined(my $like = _idx(_sec($block, q{error_code_like}), $i))) {
        $tb->like($res->{status} // '', qr/$like/sm, "$name - status code ok");
    }
    else {
        my $exp = _idx(_sec($block, q{error_code}), $i);
        $exp = _trim($exp) if defined $exp;
        $exp = 200 if !defined $exp || $exp eq '';
        $tb->is_eq($res->{status}, $exp, "$name - status code ok");
    }

    # raw headers
    if (defined(my $v = _idx(_sec($block, q{raw_response_headers_like}), $i))) {
        $v = _server_port_subst($v);
        $tb->like($res->{raw_headers}, ref $v ? $v : qr/$v/s,
                  "$name - raw resp headers like");
    }
    if (defined(my $v = _idx(_sec($block, q{raw_response_headers_unlike}), $i))) {
        $v = _server_port_subst($v);
        $tb->unlike($res->{raw_headers}, ref $v ? $v : qr/$v/s,
                    "$name - raw resp headers unlike");
    }

    # headers
    if (defined(my $v = _idx(_sec($block, q{response_headers}), $i))) {
        my @order;
        my %exp;
        my @absent;
        for my $line (split /\n/, $v) {
            $line = _trim($line);
            next if $line eq '';
            if ($line =~ /^!\s*(.*)$/) {
                push @absent, _trim($1);
                next;
            }
            my ($k, $val) = split /\s*:\s*/, $line, 2;
            $val = '' unless defined $val;
            push @order, $k unless exists $exp{$k};
            $exp{$k} = _server_port_subst($val);
        }
        for my $k (@order) {
            my $got = $res->{headers}{ lc $k };
            $got = '' unless defined $got;
            $tb->is_eq($got, $exp{$k}, "$name - header $k ok");
        }
        for my $k (@absent) {
            $tb->ok($res->{raw_headers} !~ /^\Q$k\E\s*:/m,
                    "$name - header $k not present in the raw headers");
        }
    }
    elsif (defined(my $hl = _idx(_sec($block, q{response_headers_like}), $i))) {
        for my $line (split /\n/, $hl) {
            $line = _trim($line);
            next if $line eq '';
            my ($k, $val) = split /\s*:\s*/, $line, 2;
            $val = '' unless defined $val;
            $val = _server_port_subst($val);
            my $got = $res->{headers}{ lc $k };
            $got = '' unless defined $got;
            $tb->like($got, qr/^$val$/, "$name - header $k like ok");
        }
    }

    # body
    my $body = _transform_body($block, $res->{body}, $i);
    if (defined(my $exp = _idx(_sec($block, q{response_body}), $i))) {
        if (ref $exp eq 'Regexp') {
            $tb->like($body, $exp, "$name - response_body - like "
                                   . "(repeated req $rep, req $i)");
        }
        else {
            $exp = _expand_env($name, _server_port_subst($exp));
            utf8::encode($exp) if utf8::is_utf8($exp);
            _is_string($body, $exp, "$name - response_body - response is "
                                    . "expected (repeated req $rep, req $i)");
        }
    }
    elsif (defined(my $pat = _idx(_sec($block, q{response_body_like}), $i))) {
        $pat = _server_port_subst($pat);
        $tb->like($body, ref $pat eq 'Regexp' ? $pat : qr/$pat/s,
                  "$name - response_body_like - response is expected ("
                  . _squeeze($body) . ")");
    }
    elsif (defined(my $upat = _idx(_sec($block, q{response_body_unlike}), $i))) {
        $upat = _server_port_subst($upat);
        $tb->unlike($body, ref $upat eq 'Regexp' ? $upat : qr/$upat/s,
                    "$name - response_body_unlike - response is expected ("
                    . _squeeze($body) . ")");
    }

    for my $check (@ResponseBodyChecks) {
        $check->($block, $body, $i, $rep, $dry);
    }
}

sub _squeeze {
    my $s = shift;
    $s = '' unless defined $s;
    $s =~ s/^\s+|\s+$//g;
    $s =~ s/\s+/ /g;
    $s = substr($s, 0, 117) . '...' if length $s > 120;
    return $s;
}

my %BodyFilters = (
    md5_hex  => sub { require Digest::MD5; Digest::MD5::md5_hex($_[0]) },
    sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
    length   => sub { length $_[0] },
    uc       => sub { uc $_[0] },
    lc       => sub { lc $_[0] },
    ucfirst  => sub { ucfirst $_[0] },
    lcfirst  => sub { lcfirst $_[0] },
);

sub _transform_body {
    my ($block, $body, $i) = @_;
    my $name = $block->name;
    if (defined(my $f = _sec($block, q{response_body_filters}))) {
        my @filters;
        if (ref $f eq 'ARRAY') {
            # 2-D array: one list per request
            my $e = (@$f && ref $f->[0] eq 'ARRAY') ? $f->[$i] : $f;
            @filters = ref $e eq 'ARRAY' ? @$e : ($e);
        }
        elsif (ref $f eq 'CODE') {
            @filters = ($f);
        }
        else {
            @filters = split ' ', $f;
        }
        for my $flt (@filters) {
            next unless defined $flt;
            if (ref $flt eq 'CODE') {
                $body = $flt->($body);
            }
            elsif ($BodyFilters{$flt}) {
                $body = $BodyFilters{$flt}->($body);
            }
            else {
                bail_out("$name - unknown response_body_filters filter "
                         . "'$flt'");
            }
        }
    }
    if (defined _sec($block, q{response_body_json_sort})) {
        require JSON::PP;
        my $js = JSON::PP->new->loose(1)->allow_nonref(1)->canonical(1);
        my $data = eval { $js->decode($body) };
        $body = $js->encode($data) . "\n" if !$@ && defined $data;
    }
    return $body;
}

sub _pattern_list {
    my $v = shift;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v;
    my $s = $v;
    chomp $s;
    return grep { length } split /\n+/, $s;
}

sub _pat_matches {
    my ($pat, $line) = @_;
    return ref $pat eq 'Regexp' ? $line =~ $pat : index($line, $pat) >= 0;
}

# Read the new part of a log. Only whole lines count: a trailing partial
# line is left for the next read.
sub _read_log_slice {
    my ($file, $offset_ref, $accum) = @_;
    my $off = $accum ? 0 : $$offset_ref;
    open my $fh, '<', $file or return '';
    binmode $fh;
    my $size = -s $fh;
    $off = 0 if $off > $size;
    seek $fh, $off, 0;
    local $/;
    my $text = <$fh>;
    close $fh;
    $text = '' unless defined $text;
    my $nl = rindex($text, "\n");
    if ($nl < 0) {
        $text = '';
    }
    else {
        $text = substr($text, 0, $nl + 1);
    }
    $$offset_ref = $off + length $text unless $accum;
    return $text;
}

sub _check_log_patterns {
    my ($name, $which, $lines, $want, $dont, $rep) = @_;
    my $tb = _tb();
    for my $pat (@$want) {
        my $found = grep { _pat_matches($pat, $_) } @$lines;
        if ($found) {
            $tb->ok(1, "$name - pattern \"$pat\" matches a line in $which "
                       . "(req $rep)");
        }
        else {
            $tb->ok(0, "$name - pattern \"$pat\" should match a line in "
                       . "$which (req $rep)");
        }
    }
    for my $pat (@$dont) {
        my @hits = grep { _pat_matches($pat, $lines->[$_]) } 0 .. $#$lines;
        if (!@hits) {
            $tb->ok(1, "$name - pattern \"$pat\" does not match a line in "
                       . "$which (req $rep)");
            next;
        }
        for my $k (@hits) {
            $tb->ok(0, "$name - pattern \"$pat\" should not match any line "
                       . "in $which but matches line \"$lines->[$k]\" "
                       . "(req $rep)");
            my $last = $k + 9 < $#$lines ? $k + 9 : $#$lines;
            $tb->diag(join "\n", @{$lines}[ $k + 1 .. $last ])
                if $last > $k;
        }
    }
}

# Error-log (and access-log) checks after a request, or after a must_die
# start attempt ($extra_text: nginx's stderr at startup).
sub _check_logs {
    my ($block, $rep, %opt) = @_;
    my $name = $block->name;
    my $tb = _tb();

    if (defined(my $w = _parse_time(_sec($block, q{wait})))) {
        Time::HiRes::sleep($w);
    }
    Time::HiRes::sleep($Sleep * 3);

    my $text = _read_log_slice($ErrLogFile, \$ErrLogOffset, $CheckAccumErrLog);
    my @lines = split /\n/, $text;
    my @want = _pattern_list(_sec($block, q{error_log}));
    my @dont = _pattern_list(_sec($block, q{no_error_log}));

    if (defined $opt{stderr}) {
        my @err = split /\n/, $opt{stderr};
        if (!@lines) {
            @lines = @err;
        }
        else {
            # a pattern missing from error.log may still be on stderr
            my @missing = grep { my $p = $_; !grep { _pat_matches($p, $_) } @lines } @want;
            push @lines, grep { my $l = $_; grep { _pat_matches($_, $l) } @missing } @err;
        }
    }

    # [alert]/[crit]/[emerg] lines are reported, unless a pattern asks
    # about them; assertion failures are extra failing tests.
    my $all_pats = join "\n", map { (my $p = "$_") =~ s/\\//g; $p } @want, @dont;
    for my $l (@lines) {
        if ($l =~ /\[(alert|crit|emerg)\]/) {
            my $tag = "[$1]";
            warn "WARNING: $name - $l\n" unless index($all_pats, $tag) >= 0
                                               || defined $opt{stderr};
        }
        if ($l =~ /Assertion .* failed/) {
            $tb->ok(0, "$name - no assertion failure in error.log: $l");
        }
    }

    if (defined(my $g = _sec($block, q{grep_error_log}))) {
        my $exp = _sec($block, q{grep_error_log_out});
        bail_out("$name - grep_error_log needs grep_error_log_out")
            unless defined $exp;
        $exp = $exp->[$rep] if ref $exp eq 'ARRAY';
        my $out = '';
        for my $l (@lines) {
            if (ref $g eq 'Regexp') {
                while ($l =~ /$g/g) { $out .= "$&\n" }
            }
            elsif (index($l, $g) >= 0) {
                $out .= "$g\n";
            }
        }
        if (ref $exp eq 'Regexp') {
            $tb->like($out, $exp, "$name - grep_error_log_out (req $rep)");
        }
        else {
            $exp = _expand_env($name, $exp // '');
            Test::Base::is($out, $exp, "$name - grep_error_log_out (req $rep)");
        }
    }
    elsif (defined _sec($block, q{grep_error_log_out})) {
        bail_out("$name - grep_error_log_out needs grep_error_log");
    }

    _check_log_patterns($name, 'error.log', \@lines, \@want, \@dont, $rep);

    if (!$opt{no_access_log} && !defined _sec($block, q{ignore_response})
        && (defined _sec($block, q{access_log}) || defined _sec($block, q{no_access_log})))
    {
        my $atext = _read_log_slice($AccLogFile, \$AccLogOffset, 0);
        my @alines = split /\n/, $atext;
        _check_log_patterns($name, 'access.log', \@alines,
                            [ _pattern_list(_sec($block, q{access_log})) ],
                            [ _pattern_list(_sec($block, q{no_access_log})) ], $rep);
    }
}

# ----------------------------------------------------------------------
# Running blocks
# ----------------------------------------------------------------------

sub _skip_count {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $s = _sec($block, q{skip_nginx}))) {
        $s = _trim($s);
        $s =~ /^(\d+)\s*:\s*([<>]=?|==)\s*(\d+(?:\.\d+)*)\s*(?::\s*(.*))?$/
            or bail_out("$name - bad skip_nginx spec: $s");
        my ($n, $op, $v, $reason) = ($1, $2, $3, $4);
        my $want = _ver2num($v);
        my $cur = $NginxVersion;
        my $hit = $op eq '<'  ? $cur < $want
                : $op eq '<=' ? $cur <= $want
                : $op eq '>'  ? $cur > $want
                : $op eq '>=' ? $cur >= $want
                :               $cur == $want;
        return ($n, $reason // "nginx version $op $v") if $hit;
    }
    if (defined(my $s = _sec($block, q{skip_eval}))) {
        $s = _trim($s);
        $s =~ /^(\d+)\s*:\s*(.*)$/s
            or bail_out("$name - bad skip_eval spec: $s");
        my ($n, $code) = ($1, $2);
        my $rv = do { no strict; package main; eval $code };
        bail_out("$name - skip_eval failed: $@") if $@;
        return ($n, "skip_eval: $code") if $rv;
    }
    return;
}

sub _check_need_array {
    my ($block, $nreq) = @_;
    return if $nreq <= 1;
    my $name = $block->name;
    for my $sec (qw(error_code error_code_like response_headers
                    response_headers_like response_body response_body_like
                    response_body_unlike raw_response_headers_like
                    raw_response_headers_unlike))
    {
        my $v = $block->$sec;
        next unless defined $v;
        next if ref $v eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results "
                 . "should be arrays as well.");
    }
}

sub _restart_nginx {
    my ($block, $cfg_block, %opt) = @_;
    my $name = $block->name;
    _stop_nginx();
    _setup_server_root($name);
    if (defined(my $code = _sec($cfg_block, q{post_setup_server_root}))) {
        my $err = _eval_main($code);
        bail_out("$name - post_setup_server_root failed: $err") if $err;
    }
    _write_user_files($block, _sec($block, q{user_files}));
    _write_config($cfg_block,
        daemon => $opt{daemon},
        master => $opt{master});
}

sub _run_must_die {
    my ($block, $cfg_block) = @_;
    my $name = $block->name;
    my $tb = _tb();
    my $code = _sec($block, q{must_die});
    $code = _trim($code);
    for my $rep (0 .. $RepeatEach - 1) {
        _restart_nginx($block, $cfg_block, daemon => 1,
                       master => $MasterProcessEnabled);
        $ErrLogOffset = 0;
        $AccLogOffset = 0;
        my ($status, $err) = _run_capture([ _nginx_cmd() ],
            suppress_stderr => defined _sec($block, q{suppress_stderr}));
        print STDERR $err if length $err && !defined _sec($block, q{suppress_stderr});
        my $exit = $status >> 8;
        if ($status == 0) {
            warn "WARNING: $name - nginx started but must_die was "
                 . "expected; stopping it\n";
            my $deadline = Time::HiRes::time() + 3;
            until (_read_pid_file() || Time::HiRes::time() > $deadline) {
                Time::HiRes::sleep(0.01);
            }
            _stop_nginx();
        }
        if (length $code) {
            $tb->is_eq($exit, $code, "$name - die with the expected exit code");
        }
        else {
            $tb->isnt_num($status, 0, "$name - die as expected");
        }
        _check_logs($block, $rep, stderr => $err, no_access_log => 1);
    }
}

sub _run_block {
    my ($block) = @_;
    my $name = $block->name;
    my $tb = _tb();
    %RandPorts = ();

    if (my ($n, $reason) = _skip_count($block)) {
        for (1 .. $RepeatEach) {
            $tb->skip("$name - $reason") for 1 .. $n;
        }
        return;
    }

    my $cfg_block;
    if (defined _sec($block, q{config})) {
        $cfg_block = $block;
    }
    elsif ($PrevConfigBlock) {
        $cfg_block = $PrevConfigBlock;
    }
    else {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one");
    }

    if (defined _sec($block, q{must_die})) {
        _run_must_die($block, $cfg_block);
        return;
    }

    if ($NoNginxManager) {
        # test an nginx that is already running
    }
    elsif (defined _sec($block, q{config}) || !$NginxRunning) {
        my $valgrind = $UseValgrind ? 1 : 0;
        _restart_nginx($block, $cfg_block,
                       daemon => !$valgrind,
                       master => $valgrind ? 0 : $MasterProcessEnabled);
        _start_nginx($block);
        Time::HiRes::sleep($Sleep);
    }
    $PrevConfigBlock = $cfg_block;
    $ValgrindBlockName = $name if $ValgrindPid;

    if (defined(my $init = _sec($block, q{init}))) {
        my $err = _eval_main($init);
        bail_out("$name - init failed: $err") if $err;
    }

    $ErrLogOffset = 0;
    $AccLogOffset = 0;

    my $timeout = _parse_time(_sec($block, q{timeout})) // $Timeout;

    for my $rep (0 .. $RepeatEach - 1) {
        _write_user_files($block, _sec($block, q{user_files})) if $rep > 0;
        my $conns = _build_connections($block);
        my $nreq = 0;
        $nreq += @{ $_->{methods} } for @$conns;
        _check_need_array($block, $nreq);
        my $i = 0;
        for my $conn (@$conns) {
            my ($data, $timed_out, $err) = _exchange($block, $conn, $timeout);
            if (defined $err) {
                $tb->ok(0, "$name - $err (req $i)");
            }
            if ($timed_out && !defined _sec($block, q{abort})) {
                $tb->ok(0, "ERROR: client socket timed out - $name");
            }
            my $rest = $data;
            my $nm = @{ $conn->{methods} };
            for my $k (0 .. $nm - 1) {
                my $res = _parse_response($rest,
                    method => $conn->{methods}[$k],
                    http09 => defined _sec($block, q{http09}));
                $rest = $res->{leftover};
                unless (defined _sec($block, q{ignore_response})) {
                    if ($k == $nm - 1 && defined $rest && length $rest
                        && !$timed_out)
                    {
                        warn "WARNING: $name - unexpected extra bytes after "
                             . "last chunk in response: \""
                             . _summary($rest) . "\"\n";
                    }
                    if ($res->{truncated} && $conn->{methods}[$k] ne 'HEAD') {
                        warn "WARNING: $name - response body truncated\n";
                    }
                    for my $e (@{ $res->{errors} }) {
                        next if $res->{empty};
                        $tb->ok(0, "$name - $e");
                    }
                    _check_response($block, $res, $i, $rep, 0);
                }
                _check_logs($block, $rep);
                $i++;
            }
        }
        if (defined _sec($block, q{stap})) {
            $tb->skip("$name - stap tests are not supported by this driver");
        }
    }

    # Valgrind mode: nginx stays up for the next block if that one has no
    # config (it is stopped, and its leaks reported against the last block
    # that used it, when a block with a config or the end comes).
    if ($UseValgrind && $NginxRunning && !$NoNginxManager) {
        _valgrind_block_done($name);
    }

    if (my $f = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (open my $fh, '>>', $f) {
            print {$fh} "=== $0 $name\n", (_slurp($ErrLogFile) // '');
            close $fh;
        }
    }
}

sub run_test ($) {
    my $block = shift;
    _run_block($block);
}

sub run_tests () {
    $RunTestsCalled = 1;
    my $tb = _tb();
    Test::More::plan('no_plan') unless $tb->has_plan;

    srand;
    _nginx_version()
        or bail_out("Failed to get the version of the Nginx in PATH");
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . ($block->name // ''));
        _run_block($block);
        $_->($block) for @TestCleanupHandlers;
    }

    if ($UseValgrind && $NginxRunning) {
        _stop_nginx();
    }
}

sub _cleanup {
    return if $Cleaned++;
    for my $h (@CleanupHandlers) {
        eval { $h->() };
    }
    return if $NoNginxManager;
    if ($UseValgrind) {
        _stop_nginx(no_valgrind_check => $BailingOut) if $NginxRunning;
    }
    elsif (!_env_true('TEST_NGINX_NO_CLEAN')) {
        _stop_nginx();
    }
    if ($Randomize && !_env_true('TEST_NGINX_NO_CLEAN') && $ServRoot =~ m{/t/servroot_\d+$}) {
        File::Path::rmtree($ServRoot);
    }
}

END {
    my $code = $?;
    _cleanup() if $RunTestsCalled || $NginxRunning;
    $? = $code;
}

1;

__END__

=head1 NAME

Test::Nginx::LocalDriver - project-local Test::Nginx::Socket work-alike

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';
    repeat_each(2);
    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello
    --- no_error_log
    [error]

Run with C<prove -I t/lib -r t>. If a real Test::Nginx is installed later in
C<@INC>, F<t/lib/Test/Nginx/Socket.pm> loads that instead.

=head1 VALGRIND EXTENSION

With C<TEST_NGINX_USE_VALGRIND=1> nginx runs in the foreground
(C<daemon off>, C<master_process off>) under

    valgrind --tool=memcheck --leak-check=full --keep-debuginfo=yes
        --show-possibly-lost=no --errors-for-leak-kinds=none
        --num-callers=30 --gen-suppressions=all
        [--suppressions=valgrind.suppress] --log-file=<servroot>/logs/valgrind-N.log

(valgrind.suppress is looked for in the current directory and at the
repository root). As without valgrind, nginx is (re)started for a block
with a config section and kept running for the blocks without one. After
every block the log is scanned again: memcheck errors that appeared since
the previous check fail that block. When nginx is stopped (before the next
block with a config, or at the end), leaks and a missing ERROR SUMMARY fail
the last block that ran against it. Unlike the real Test::Nginx, problems
become failing tests:

=over

=item * any memcheck error (ERROR SUMMARY with errors > 0, or an error
record such as Invalid read/write, uninitialised value, Invalid/Mismatched
free, a fatal signal): C<< <name> - valgrind reported N memcheck error(s) >>

=item * any "definitely lost" record whose text contains
C<TEST_NGINX_VALGRIND_LEAK_MATCH> (default C<leadlist>, case-insensitive):
C<< <name> - valgrind found N definitely lost block(s) with 'leadlist' in the stack >>

=item * a log without ERROR SUMMARY (nginx had to be killed)

=back

No test is added when the log is clean, so plans do not change. A value of
TEST_NGINX_USE_VALGRIND that is not a number is used as the valgrind option
string instead of the defaults above.

=cut
