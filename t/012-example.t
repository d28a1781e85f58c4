# nginx.conf.example is the runnable synopsis of README.md: it must pass
# nginx -t with the module built here (only load_module's path and the
# log and temp paths are adjusted to a scratch prefix).

use strict;
use warnings;

use Test::More;
use File::Temp qw(tempdir);

my $module = $ENV{TEST_NGINX_LOAD_MODULES}
    or plan skip_all => 'TEST_NGINX_LOAD_MODULES is not set (util/test.sh)';
my $nginx = $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';

my $dir = tempdir('leadlist-example-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/$_" for qw(conf logs);

open my $in, '<', 'nginx.conf.example' or die "nginx.conf.example: $!";
my $conf = do { local $/; <$in> };
close $in;

like($conf, qr/^load_module \S+;$/m, 'the example loads the module');
like($conf, qr/leadlist_add_prospects leadlist_db;/,
     'the example serves the endpoint');

$conf =~ s/^load_module \S+;$/load_module $module;/m;
$conf =~ s/^(events \{)/error_log $dir\/logs\/error.log;\npid $dir\/logs\/nginx.pid;\n\n$1/m;
$conf =~ s/^(http \{)/$1\n    access_log off;\n    client_body_temp_path $dir\/body;\n    proxy_temp_path $dir\/proxy;\n    fastcgi_temp_path $dir\/fastcgi;\n    uwsgi_temp_path $dir\/uwsgi;\n    scgi_temp_path $dir\/scgi;\n/m;

open my $out, '>', "$dir/conf/nginx.conf" or die $!;
print $out $conf;
close $out;

local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
    if $ENV{TEST_NGINX_LD_PRELOAD};

my $res = `$nginx -t -p $dir/ -c $dir/conf/nginx.conf -e $dir/logs/error.log 2>&1`;

is($?, 0, 'nginx -t accepts nginx.conf.example') or diag($res);
like($res, qr/test is successful/, 'nginx says the test is successful');

done_testing();
