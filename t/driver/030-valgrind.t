# Self-test of the valgrind mode of the local Test::Nginx::Socket driver
# (a project extension: the valgrind log of each nginx run is scanned and
# memcheck errors / "definitely lost" leaks matching
# TEST_NGINX_VALGRIND_LEAK_MATCH become failing tests).
# Runs child test files with TEST_NGINX_USE_VALGRIND=1. Skipped when
# valgrind is not installed.
#
# Proves that, as without valgrind, a block without a config section is
# served by the nginx that is already running (same $pid), and that each
# problem is reported against the right block: an error against the block
# during which it appeared in the log, leaks against the last block before
# nginx was stopped.

use strict;
use warnings;

use FindBin ();
use lib "$FindBin::Bin/lib";
use ChildRun;
use Test::More;

my $have_valgrind = grep { -x "$_/valgrind" } split /:/, ($ENV{PATH} // '');
plan skip_all => 'valgrind is not installed' unless $have_valgrind;

# Every response that is a bare number (the worker pid) is printed as
# "PID-OF TEST <n> = <pid>".
my $pid_report = <<'_EOP_';
add_response_body_check(sub {
    my ($block, $body) = @_;
    my ($n) = $block->name =~ /TEST (\d+):/;
    Test::More::diag("PID-OF TEST $n = $body") if defined $body && $body =~ /^\d+$/;
});
_EOP_

sub pids {
    my $out = shift;
    my %p;
    $p{$1} //= $2 while $out =~ /^# PID-OF TEST (\d+) = (\d+)$/mg;
    return \%p;
}

sub not_oks {
    my $out = shift;
    return [ $out =~ /^(not ok \d+ - .*)$/mg ];
}

# TEST 1 has a config: nginx starts under valgrind. TEST 2 and 3 have none:
# the same nginx must serve them. TEST 4 has a config: a new nginx.
my $blocks = <<'_EOT_';
=== TEST 1: a request under valgrind
--- config
    location = /t { return 200 "hello\n"; }
    location = /pid { return 200 "$pid"; }
--- request eval
["GET /missing1.html", "GET /t", "GET /pid"]
--- error_code eval
[404, 200, 200]
--- response_body eval
[qr/404 Not Found/, "hello\n", qr/^\d+$/]
--- error_log eval
qr/No such file or directory|"GET \/(?:t|pid) HTTP/

=== TEST 2: no config: the running nginx serves
--- request
GET /pid
--- response_body_like: ^\d+$

=== TEST 3: no config again
--- request eval
["GET /t", "GET /pid"]
--- response_body eval
["hello\n", qr/^\d+$/]

=== TEST 4: a config: nginx is restarted under valgrind
--- config
    location = /pid { add_header X-V 1; return 200 "$pid"; }
--- request
GET /pid
--- response_headers
X-V: 1
--- response_body_like: ^\d+$
--- no_error_log
[error]
_EOT_

my $r = run_child(name => 'valgrind-pass',
                  t => prologue(extra => $pid_report) . $blocks,
                  env => { TEST_NGINX_USE_VALGRIND => 1 });
my $good = is($r->{exit}, 0, 'stock nginx under valgrind: child exits 0');
$good &&= unlike($r->{out}, qr/^not ok/m, 'no failing test');
$good &&= like($r->{out}, qr/^ok \d+ - .*TEST 4: .* - response_body/m,
               'all blocks ran');
my $p = pids($r->{out});
$good &&= is(scalar(keys %$p), 4, 'every block reported its worker pid');
$good &&= ok(defined $p->{1} && defined $p->{2} && $p->{1} == $p->{2},
             'valgrind mode: a block without config reuses the running nginx');
$good &&= ok(defined $p->{3} && defined $p->{1} && $p->{3} == $p->{1},
             '... and so does the next one');
$good &&= ok(defined $p->{4} && defined $p->{3} && $p->{4} != $p->{3},
             'a block with a config gets a new nginx');
$good &&= is(scalar(() = $r->{out} =~ /^\S+\.t TEST \d+: .*$/mg), 2,
             'nginx was started twice under valgrind (for TEST 1 and 4)');
diag("child output:\n$r->{out}") unless $good;

my @logs = glob("$r->{dir}/servroot/logs/valgrind-*.log");
ok(scalar @logs, 'a valgrind log was written') or diag(`ls -l $r->{dir}/servroot/logs`);
like($logs[-1] // '', qr/valgrind-2\.log$/, 'the last nginx run was the second one');
my $log = @logs ? do { local (@ARGV, $/) = $logs[-1]; <> } : '';
like($log, qr/Memcheck/, 'nginx really ran under memcheck');
like($log, qr/ERROR SUMMARY: 0 errors/, 'the log ends with a clean summary');
my $conf = do { local (@ARGV, $/) = "$r->{dir}/servroot/conf/nginx.conf"; <> } // '';
like($conf, qr/^daemon off;$/m, 'valgrind mode: daemon off');
like($conf, qr/^master_process off;$/m, 'valgrind mode: master_process off');

# Leaks are written when nginx exits: they belong to the last block that
# ran against it. Stock nginx leaks a little memory on exit (e.g. in
# ngx_set_environment); pointing TEST_NGINX_VALGRIND_LEAK_MATCH at it must
# turn that leak into a failing test, against TEST 3 (nginx stopped before
# TEST 4) and TEST 4 (end of the file), never against TEST 1 or 2.
SKIP: {
    my ($func) = $log =~ /definitely lost[^\n]*\n(?:==\d+==\s+(?:at|by) [^\n]*\n)*?==\d+==\s+by 0x\w+: (ngx_(?!(?:p|pn|pc|c)?alloc\b)\w+)/;
    skip 'this nginx has no definitely lost block at exit', 5 unless $func;
    my $f = run_child(name => 'valgrind-leak', t => prologue() . $blocks,
                      env => { TEST_NGINX_USE_VALGRIND => 1,
                               TEST_NGINX_VALGRIND_LEAK_MATCH => $func });
    my $fails = not_oks($f->{out});
    my $ok = isnt($f->{exit}, 0, "leak matching '$func': child exits non-zero");
    $ok &&= is(scalar @$fails, 2, 'two failing tests')
        or diag(join "\n", @$fails);
    $ok &&= like($fails->[0] // '',
        qr/^not ok \d+ - .*TEST 3: .* - valgrind found \d+ definitely lost block\(s\) with '\Q$func\E' in the stack$/,
        'the first nginx run\'s leak is reported against its last block (TEST 3)');
    $ok &&= like($fails->[1] // '',
        qr/^not ok \d+ - .*TEST 4: .* - valgrind found \d+ definitely lost block\(s\) with '\Q$func\E' in the stack$/,
        'the second one\'s against TEST 4 (end of the file)');
    $ok &&= like($f->{out}, qr/^#.*\Q$func\E/m, 'the leak record is shown');
    diag("child output:\n$f->{out}") unless $ok;
}

# Memcheck errors are attributed to the block during which they appear in
# the log. A small LD_PRELOAD library reads freed memory in open() when the
# path contains "vgerr-trigger": GET /vgerr-trigger.html makes the running
# nginx commit an "Invalid read". TEST 2 (nginx keeps running, checked at
# the end of the block) and TEST 4 (the last block: checked at the end of
# the block, then again when nginx is stopped, without a second report)
# trigger it; TEST 1 and 3 do not and must pass.
SKIP: {
    my ($cc) = grep { -x } map { "$_/cc" } split /:/, ($ENV{PATH} // '');
    skip 'no C compiler (cc) for the error-triggering preload library', 9
        unless $cc;
    my $dir = child_dir('vgerr-lib');
    mkdir $dir;
    my $src = "$dir/vgerr.c";
    open my $fh, '>', $src or die "$src: $!";
    print {$fh} <<'_EOC_';
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

typedef int (*open_fn)(const char *, int, ...);

__attribute__((noinline)) static void
vgerr_read_after_free(void)
{
    char *volatile p = malloc(16);
    volatile char c;

    free(p);
    c = p[3];               /* memcheck: Invalid read of size 1 */
    (void) c;
}

static int
vgerr_open(const char *sym, const char *path, int flags, va_list ap)
{
    open_fn real = (open_fn) dlsym(RTLD_NEXT, sym);
    mode_t mode = 0;

    if (flags & O_CREAT) {
        mode = (mode_t) va_arg(ap, int);
    }
    if (path != NULL && strstr(path, "vgerr-trigger") != NULL) {
        vgerr_read_after_free();
    }
    return real(path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
    va_list ap;
    int rc;

    va_start(ap, flags);
    rc = vgerr_open("open", path, flags, ap);
    va_end(ap);
    return rc;
}

int
open64(const char *path, int flags, ...)
{
    va_list ap;
    int rc;

    va_start(ap, flags);
    rc = vgerr_open("open64", path, flags, ap);
    va_end(ap);
    return rc;
}
_EOC_
    close $fh;
    my $so = "$dir/vgerr.so";
    my $out = `'$cc' -shared -fPIC -O0 -g -o '$so' '$src' -ldl 2>&1`;
    skip "cannot build the preload library: $out", 9 unless $? == 0 && -f $so;

    my $err_blocks = <<'_EOT_';
=== TEST 1: clean
--- config
    location = /pid { return 200 "$pid"; }
--- request
GET /pid
--- response_body_like: ^\d+$

=== TEST 2: no config: an invalid read in the running nginx
--- request
GET /vgerr-trigger.html
--- error_code: 404

=== TEST 3: no config: clean, same nginx
--- request
GET /pid
--- response_body_like: ^\d+$

=== TEST 4: a config, last block: an invalid read
--- config
    location = /pid { return 200 "$pid"; }
--- request
GET /vgerr-trigger.html
--- error_code: 404
_EOT_
    my $e = run_child(name => 'valgrind-error',
                      t => prologue(extra => $pid_report) . $err_blocks,
                      env => { TEST_NGINX_USE_VALGRIND => 1,
                               TEST_NGINX_LD_PRELOAD => $so });
    my $fails = not_oks($e->{out});
    my $ep = pids($e->{out});
    my $ok = isnt($e->{exit}, 0, 'memcheck error: child exits non-zero');
    $ok &&= is(scalar @$fails, 2, 'two failing tests')
        or diag(join "\n", @$fails);
    $ok &&= like($fails->[0] // '',
        qr/^not ok \d+ - .*TEST 2: .* - valgrind reported 1 memcheck error\(s\)$/,
        'the error is reported against the block during which it happened (TEST 2)');
    $ok &&= like($fails->[1] // '',
        qr/^not ok \d+ - .*TEST 4: .* - valgrind reported 1 memcheck error\(s\)$/,
        'the last block\'s error against it, once');
    $ok &&= like($e->{out}, qr/^# .*Invalid read of size 1/m,
                 'the error record is shown');
    $ok &&= like($e->{out}, qr/^# .*vgerr_read_after_free/m,
                 'with its stack');
    $ok &&= like($e->{out}, qr/^ok \d+ - .*TEST 3: .* - response_body_like/m,
                 'the block after the error ran');
    $ok &&= ok(defined $ep->{1} && defined $ep->{3} && $ep->{1} == $ep->{3},
               'on the same nginx: the error did not restart it');
    my @elogs = glob("$e->{dir}/servroot/logs/valgrind-*.log");
    my $elog = @elogs ? do { local (@ARGV, $/) = $elogs[-1]; <> } : '';
    $ok &&= like($elog, qr/ERROR SUMMARY: 1 errors/,
                 'the log of the last nginx run has the one error');
    diag("child output:\n$e->{out}") unless $ok;
}

done_testing();
