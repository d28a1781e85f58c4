# The Debian package (make deb) in this machine's own nginx:
#
#   - make deb refuses an nginx that nginx-dev does not build for;
#   - the package: its files, its nginx-abi-* dependency, lintian without
#     errors; apt refuses it next to an nginx of another ABI (simulated);
#   - apt-get install: the module enabled in /etc/nginx/modules-enabled,
#     nginx -t passes with the machine's config and with the packaged
#     nginx.conf.example, and an nginx of the test's own (-c, on the test
#     port, modules from modules-enabled as Debian's nginx.conf has them)
#     serves a real request through the packaged module;
#   - apt-get purge: nothing of it left, and nginx still starts.
#
# /etc/nginx, /usr/lib/nginx and /usr/share/nginx are compared with what
# they were before, and what nginx -t creates in /var/lib/nginx is
# removed: the machine is left as found.  The system's nginx service is
# never started (nor reloaded: the test does not run while it runs).
#
# Root only: it installs into the machine.  util/test.sh starts the
# cluster the request goes to.

use strict;
use warnings;

use lib 't/db/lib', 't/inc';
use LeadlistDbTest qw(pg_skip_reason su lit);
use OwnNginx;
use Test::More;
use Digest::MD5 ();
use File::Find ();
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP ();
use Time::HiRes qw(sleep);

my $pkg = 'libnginx-mod-http-leadlist';
my $so = '/usr/lib/nginx/modules/ngx_http_leadlist_module.so';
my $snippet = '/usr/share/nginx/modules-available/mod-http-leadlist.conf';
my $enabled = '/etc/nginx/modules-enabled/50-mod-http-leadlist.conf';
my $example = "/usr/share/doc/$pkg/examples/nginx.conf.example";
my $abi_file = '/usr/share/nginx/src/debian/libnginx-mod.abisubstvars';
my $nginx = '/usr/sbin/nginx';

my $root = do {
    require Cwd;
    require File::Basename;
    Cwd::abs_path(File::Basename::dirname(__FILE__) . '/..');
};

plan skip_all => 'the package test installs into this machine\'s nginx:'
                 . ' it runs as root only (make test in CI does)'
    if $> != 0;
plan skip_all => 'not a Debian system (no dpkg, apt-get or nginx-dev)'
    unless -x '/usr/bin/dpkg' && -x '/usr/bin/apt-get' && -r $abi_file;
plan skip_all => 'runs in make test only, not under valgrind or ASan'
    if $ENV{TEST_NGINX_USE_VALGRIND} || $ENV{TEST_NGINX_LD_PRELOAD};
{
    my $why = pg_skip_reason();
    plan skip_all => $why if $why;
}

sub status_of {
    my ($p) = @_;
    my $s = `dpkg-query -W -f='\${db:Status-Abbrev}' $p 2>/dev/null`;
    $s =~ s/\s+$//;
    return $s;
}

plan skip_all => "$pkg is installed already (" . status_of($pkg)
                 . "): this test would remove it"
    if status_of($pkg) =~ /^.[^n]/;

sub system_nginx_pid {
    open my $fh, '<', '/run/nginx.pid' or return undef;
    my $pid = <$fh>;
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    return kill(0, $1) ? $1 : undef;
}

plan skip_all => 'the system nginx runs: installing would reload it'
    if system_nginx_pid();

$| = 1;
$ENV{DEBIAN_FRONTEND} = 'noninteractive';
my @apt = ('apt-get', '-y', '-q', '-o', 'DPkg::Lock::Timeout=600');

my $dir = tempdir('leadlist-package-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $port = $ENV{TEST_NGINX_PORT} || 1984;
my $json = JSON::PP->new->utf8->canonical;

my $dev_abi = do {
    open my $fh, '<', $abi_file or die "$abi_file: $!";
    my ($abi) = map { /^nginx:abi=(\S+)/ ? $1 : () } <$fh>;
    $abi;
};
ok($dev_abi, "nginx-dev builds for $dev_abi");

# ---- what the machine looks like before ------------------------------

# path => type, mode, owner, content or link target digest
sub snapshot {
    my %s;
    for my $top (@_) {
        next unless -e $top || -l $top;
        File::Find::find({ no_chdir => 1, wanted => sub {
            my $p = $File::Find::name;
            my @st = lstat $p;
            my $what = -l _ ? 'link ' . readlink($p)
                     : -d _ ? 'dir'
                     : do {
                           open my $fh, '<', $p or die "$p: $!";
                           binmode $fh;
                           'file ' . Digest::MD5->new->addfile($fh)->hexdigest;
                       };
            $s{$p} = sprintf('%s %o %d:%d', $what, $st[2] & 07777, @st[4, 5]);
        } }, $top);
    }
    return \%s;
}

my @watched = qw(/etc/nginx /usr/lib/nginx /usr/share/nginx/modules-available
                 /usr/share/leadlist);
my $before = snapshot(@watched);
my %var_lib_before = map { $_ => 1 } glob('/var/lib/nginx/*');
my $pid_file_before = -e '/run/nginx.pid' ? snapshot('/run/nginx.pid') : {};

my ($installed, @started);

sub run {
    my (@cmd) = @_;
    my $out = `@cmd 2>&1`;
    return ($? >> 8, $out);
}

sub stop_ours {
    my ($pid) = @_;
    stop_own_nginx($pid);
    @started = grep { $_ != $pid } @started;
}

# only empty directories that were not there before (rmdir leaves others)
sub restore_var_lib {
    for my $d (glob('/var/lib/nginx/*')) {
        rmdir $d if -d $d && !-l $d && !$var_lib_before{$d};
    }
}

END {
    my $rc = $?;
    stop_ours($_) for @started;
    if ($installed) {
        system(@apt, 'purge', $pkg);
    }
    restore_var_lib();
    $? = $rc;
}


# ---- make deb refuses an nginx nginx-dev does not build for ----------

# A dpkg database of this machine in which nginx is another one; dpkg-query
# and nginx in PATH answer for it.  Nothing of the machine changes.
my $fake = "$dir/fake";
mkdir $fake;
mkdir "$fake/bin";
{
    open my $in, '<', '/var/lib/dpkg/status' or die $!;
    local $/ = '';
    my @st = <$in>;
    close $in;

    # the installed nginx as nginx-abi-1.22.1-0, an ABI nginx-dev does not
    # build for
    open my $out, '>', "$fake/status-abi" or die $!;
    for (@st) {
        my $s = $_;
        $s =~ s/\bnginx-abi-\S+?(,|\n)/nginx-abi-1.22.1-0$1/g
            if $s =~ /^Package: nginx\n/;
        print $out $s;
    }
    close $out;

    # an nginx 1.24.0-2 (nginx-abi-1.24.0-1) and its nginx-common, as on
    # a machine of a later Debian, without nginx-dev
    open $out, '>', "$fake/status-other" or die $!;
    for (@st) {
        my $s = $_;
        next if $s =~ /^Package: nginx-dev\n/;
        if ($s =~ /^Package: nginx(-common)?\n/) {
            my ($v) = $s =~ /^Version: (\S+)/m;
            $s =~ s/^Version: .*$/Version: 1.24.0-2/m;
            $s =~ s/\Q$v\E/1.24.0-2/g;
            $s =~ s/\bnginx-abi-\S+?(,|\n)/nginx-abi-1.24.0-1$1/g;
        }
        print $out $s;
    }
    close $out;
}

sub fake_dpkg_query {
    my ($status) = @_;
    mkdir "$fake/admin";
    system('cp', $status, "$fake/admin/status") == 0 or die "cp: $?";
    open my $fh, '>', "$fake/bin/dpkg-query" or die $!;
    print $fh "#!/bin/sh\nexec /usr/bin/dpkg-query --admindir=$fake/admin \"\$@\"\n";
    close $fh;
    chmod 0755, "$fake/bin/dpkg-query";
}

{
    fake_dpkg_query("$fake/status-abi");
    local $ENV{PATH} = "$fake/bin:$ENV{PATH}";
    my ($rc, $out) = run("make -C $root deb");
    isnt($rc, 0, 'make deb fails when nginx is of another ABI');
    like($out, qr/leadlist: nginx \S+ provides .*nginx-abi-1\.22\.1-0, but nginx-dev \S+ builds modules for \Q$dev_abi\E/,
         'and says which ABI each has') or diag($out);
    unlike($out, qr/dh_auto_build/, 'before anything is compiled');
}

{
    # a /usr/sbin/nginx replaced by another build than the packaged one
    unlink "$fake/bin/dpkg-query";
    open my $fh, '>', "$fake/bin/nginx" or die $!;
    print $fh "#!/bin/sh\necho 'nginx version: nginx/1.25.3' >&2\n";
    close $fh;
    chmod 0755, "$fake/bin/nginx";
    local $ENV{PATH} = "$fake/bin:$ENV{PATH}";
    my ($rc, $out) = run("make -C $root deb");
    isnt($rc, 0, 'make deb fails when the nginx binary is another version');
    like($out, qr/leadlist: \S+ is nginx 1\.25\.3, but nginx-dev \S+ is nginx 1\.22\.\d+: the module would not load into it/,
         'and says which versions') or diag($out);
    unlink "$fake/bin/nginx";
}


# ---- the package ------------------------------------------------------

my ($rc, $out) = run("make -C $root deb");
is($rc, 0, 'make deb') or BAIL_OUT("make deb failed:\n$out");

my $version = `dpkg-parsechangelog -l $root/debian/changelog -S Version`;
chomp $version;
my $arch = `dpkg --print-architecture`;
chomp $arch;
my $deb = "$root/build/deb/${pkg}_${version}_${arch}.deb";
ok(-f $deb, "make deb wrote build/deb/${pkg}_${version}_${arch}.deb")
    or BAIL_OUT('no package');

# a copy: a make deb elsewhere must not change it under the test
system('cp', $deb, "$dir/") == 0 or die "cp: $?";
$deb = "$dir/${pkg}_${version}_${arch}.deb";

my $depends = `dpkg-deb -f $deb Depends`;
like($depends, qr/(^|, )\Q$dev_abi\E(,|$)/m, "Depends: $dev_abi")
    or diag($depends);

my %files = map { s{^\.}{}r => 1 } grep { length }
            map { (split ' ', $_, 6)[5] // '' } split /\n/, `dpkg-deb -c $deb`;
for my $f ($so, $snippet, $example, "/usr/share/leadlist/openapi.yaml",
           "/usr/share/doc/$pkg/copyright", "/usr/share/doc/$pkg/changelog.gz",
           map { "/usr/share/leadlist/sql/" . s{.*/}{}r }
               glob("$root/sql/[0-9]*.sql"))
{
    ok($files{$f}, "the package has $f");
}

my $snippet_text = `dpkg-deb --fsys-tarfile $deb | tar -xOf - .$snippet`;
is($snippet_text, "load_module modules/ngx_http_leadlist_module.so;\n",
   'the modules-available snippet loads the module');

{
    my ($lrc, $lint) = run('lintian', '--pedantic', $deb);
    my @errors = grep { /^E: / } split /\n/, $lint;
    is(scalar @errors, 0, 'lintian: no error') or diag($lint);
    is($lrc, 0, 'lintian exits 0');
    diag("lintian: $_") for grep { /^[WIP]: / } split /\n/, $lint;
}

# apt, simulating only, with the machine's dpkg database and with one in
# which nginx is of another ABI
{
    my ($src, $sout) = run(@apt, '-s', 'install', $deb);
    is($src, 0, 'apt-get -s install: it installs next to this nginx')
        or diag($sout);
    like($sout, qr/^Inst \Q$pkg\E /m, 'apt would install it');

    ($src, $sout) = run(@apt, '-s', '-o', "Dir::State::status=$fake/status-other",
                        'install', $deb);
    isnt($src, 0, 'apt-get -s install next to nginx 1.24.0-2: refused');
    like($sout, qr/\Q$pkg\E : Depends: \Q$dev_abi\E/,
         "for want of $dev_abi") or diag($sout);
    unlike($sout, qr/^Inst /m, 'nothing would be installed');
}


# ---- installed --------------------------------------------------------

# The nginx of the test's own: the modules Debian's nginx.conf loads
# (modules-enabled), everything it writes in $dir/$name, on the test port.
sub own_conf {
    my ($name, $http) = @_;
    my $d = "$dir/$name";
    mkdir $d;
    mkdir "$d/$_" for qw(conf logs tmp);
    open my $fh, '>', "$d/conf/nginx.conf" or die $!;
    print $fh own_nginx_conf(
        dir => $d, main => 'include /etc/nginx/modules-enabled/*.conf;',
        http => $http);
    close $fh;
    return $d;
}

# nginx's own prefix: the snippets load modules/ngx_http_...so from it
sub start_own {
    my ($d) = @_;
    my ($pid, $why) = start_own_nginx($d, bin => $nginx, prefix => 0);
    push @started, $pid if $pid;
    return ($pid, $why);
}

my $stand_in = auth_server(port => $port,
                           headers => [['X-User-Id', '$ll_user'],
                                       ['X-Org-Id', 't090']]);
my $endpoint = <<"_EOC_";
    upstream leadlist_db {
        leadlist_pg_server "$ENV{TEST_NGINX_PG_CONNINFO}";
    }

    map \$http_authorization \$ll_user { "Bearer t090" u-1; }

$stand_in
_EOC_

($rc, $out) = run(@apt, 'install', $deb);
$installed = 1;
is($rc, 0, "apt-get install ./$pkg") or BAIL_OUT($out);
is(status_of($pkg), 'ii', "$pkg is installed");

ok(-f $so, "$so is there");
is(readlink($enabled), $snippet, "$enabled enables it");
ok(!system_nginx_pid(), 'the system nginx was not started');

# nginx -t creates the temporary directories of the machine's
# configuration in /var/lib/nginx: those it made go again at once
($rc, $out) = run($nginx, '-t');
restore_var_lib();
is($rc, 0, 'nginx -t: the machine\'s nginx.conf with the module enabled')
    or diag($out);

{
    # the packaged example as it is, but for where it writes; its
    # load_module modules/... finds the packaged module in nginx's prefix
    my $d = "$dir/example";
    mkdir $d;
    my $text = -f $example ? `cat $example` : `zcat $example.gz`;
    like($text, qr/^load_module modules\/ngx_http_leadlist_module\.so;$/m,
         'the example loads the module from nginx\'s modules/');
    $text =~ s/^(events \{)/error_log $d\/error.log;\npid $d\/nginx.pid;\n\n$1/m;
    $text =~ s/^(http \{)/$1\n    access_log off;\n    client_body_temp_path $d\/body;\n    proxy_temp_path $d\/proxy;\n    fastcgi_temp_path $d\/fastcgi;\n    uwsgi_temp_path $d\/uwsgi;\n    scgi_temp_path $d\/scgi;\n/m;
    open my $fh, '>', "$d/nginx.conf" or die $!;
    print $fh $text;
    close $fh;
    ($rc, $out) = run($nginx, '-t', '-c', "$d/nginx.conf", '-e',
                      "$d/error.log");
    is($rc, 0, 'nginx -t: the packaged nginx.conf.example') or diag($out);
    like($out, qr/test is successful/, 'nginx says the test is successful');
}

{
    su(join "\n",
       "DELETE FROM tenant.lead_list_persons WHERE org_id = 't090';",
       "DELETE FROM tenant.persons WHERE org_id = 't090';",
       "DELETE FROM tenant.lead_lists WHERE org_id = 't090';",
       "INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)"
       . " VALUES ('t090', 'l', 'l', 'person', '{u-1}');");

    my $d = own_conf('serve', $endpoint);
    my ($pid, $why) = start_own($d);
    ok($pid, 'nginx starts with the packaged module') or diag($why);

    my $res = HTTP::Tiny->new(timeout => 10)->request('POST',
        "http://127.0.0.1:$port/api/lead-lists/l/add-prospects",
        { headers => { Authorization => 'Bearer t090',
                       'Content-Type' => 'application/json' },
          content => '{"persons":[{"id":"t090-p1","fullName":"Ann"}]}' });
    is($res->{status}, 200, 'POST add-prospects through it: 200')
        or diag($res->{content});
    my $body = eval { $json->decode($res->{content}) } // {};
    is($body->{addedCount}, 1, 'addedCount 1');
    like($res->{headers}{'x-request-id'} // '', qr/^[0-9a-f]{32}$/,
         'with an X-Request-Id');
    is_deeply(su("SELECT person_id, added_by FROM tenant.lead_list_persons"
                 . " WHERE org_id = 't090';"),
              [['t090-p1', 'u-1']], 'the prospect is in the list');

    stop_ours($pid) if $pid;
    my $log = `cat $d/logs/error.log`;
    unlike($log, qr/\[(alert|emerg)\]|exited on signal/,
           'no alert, emerg or crash in its error log') or diag($log);

    su(join "\n",
       "DELETE FROM tenant.lead_list_persons WHERE org_id = 't090';",
       "DELETE FROM tenant.persons WHERE org_id = 't090';",
       "DELETE FROM tenant.lead_lists WHERE org_id = 't090';");
}


# ---- purged -------------------------------------------------------------

($rc, $out) = run(@apt, 'purge', $pkg);
is($rc, 0, "apt-get purge $pkg") or diag($out);
$installed = 0 if $rc == 0;
like(status_of($pkg), qr/^(un|pn|)$/, "$pkg is gone");
ok(!-e $so, "$so is gone");
ok(!-e $enabled && !-l $enabled && !-l "$enabled.removed",
   'modules-enabled has no link to it');
ok(!-e $snippet, "$snippet is gone");

($rc, $out) = run($nginx, '-t');
restore_var_lib();
is($rc, 0, 'nginx -t: the machine\'s nginx.conf without the module')
    or diag($out);

{
    my $d = own_conf('serve-endpoint-after', $endpoint);
    ($rc, $out) = run($nginx, '-t', '-c', "$d/conf/nginx.conf", '-e',
                      "$d/logs/error.log");
    isnt($rc, 0, 'the endpoint\'s directives are unknown again');
    like($out, qr/unknown directive "leadlist_pg_server"/,
         'nginx -t names the first of them') or diag($out);

    $d = own_conf('serve-after', <<"_EOC_");
    server {
        listen 127.0.0.1:$port;
        location = /ping {
            return 204;
        }
    }
_EOC_
    my ($pid, $why) = start_own($d);
    ok($pid, 'nginx starts without the module') or diag($why);
    my $res = HTTP::Tiny->new(timeout => 10)
        ->get("http://127.0.0.1:$port/ping");
    is($res->{status}, 204, 'and serves a request');
    stop_ours($pid) if $pid;
}


# ---- left as found ------------------------------------------------------

restore_var_lib();
my $after = snapshot(@watched);
is_deeply($after, $before,
          '/etc/nginx, /usr/lib/nginx, /usr/share/nginx as found')
    or diag(join "\n", map { "$_: " . ($before->{$_} // 'absent') . ' -> '
                             . ($after->{$_} // 'absent') }
                       grep { ($before->{$_} // '') ne ($after->{$_} // '') }
                       sort keys %{ { %$before, %$after } });
is_deeply([sort glob('/var/lib/nginx/*')], [sort keys %var_lib_before],
          '/var/lib/nginx as found');
is_deeply(-e '/run/nginx.pid' ? snapshot('/run/nginx.pid') : {},
          $pid_file_before, '/run/nginx.pid as found');
ok(!system_nginx_pid(), 'the system nginx does not run');

done_testing();
