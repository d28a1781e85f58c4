package OwnNginx;

# An nginx a test file starts itself (not Test::Nginx's), in a directory
# of its own: $dir/conf/nginx.conf, $dir/logs (error.log, nginx.pid) and
# $dir/tmp.  t/inc/Faults.pm, t/090-package.t and t/091-openapi.t write
# their configurations with these pieces and start nginx with
# start_own_nginx().

use strict;
use warnings;

use Exporter 'import';
use Time::HiRes ();

our @EXPORT = qw(own_nginx_conf auth_server start_own_nginx stop_own_nginx);


# The whole nginx.conf; options:
#   dir          the directory (required)
#   main         lines before events {} (load_module, include, ...)
#   workers      worker_processes, default 1
#   connections  worker_connections, default 128
#   access_log   default off
#   log_level    error_log's level, default info
#   http         what the http {} block holds besides the temp paths
sub own_nginx_conf {
    my (%o) = @_;

    my $dir = $o{dir};
    my $main = $o{main} // '';
    my $user = $> == 0 ? 'user root;' : '';
    my $workers = $o{workers} // 1;
    my $connections = $o{connections} // 128;
    my $access_log = $o{access_log} // 'off';
    my $level = $o{log_level} // 'info';
    my $http = $o{http} // '';

    return <<"_EOC_";
$main
worker_processes $workers;
error_log $dir/logs/error.log $level;
pid $dir/logs/nginx.pid;
$user

events {
    worker_connections $connections;
}

http {
    access_log $access_log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;

$http
}
_EOC_
}


# A server {} with the endpoint as nginx.conf.example has it, and the auth
# stand-in it asks: /_verify answers 401 when $ll_user is empty, else 204
# with the headers given ([name, value] pairs).  Options:
#   port       where it listens (required)
#   listen     more parameters of that listen directive (http2, ...)
#   auth_port  another port, plain HTTP/1, that the stand-in is reached on
#              (default: port)
#   headers    the /_verify answer's headers
#   location   more lines for the endpoint location
sub auth_server {
    my (%o) = @_;

    my $port = $o{port};
    my $listen = $o{listen} // '';
    my $auth_port = $o{auth_port} // $port;
    my $more_listen = $auth_port == $port ? ''
        : "        listen 127.0.0.1:$auth_port;\n";
    my $headers = join '', map { "            add_header $_->[0] $_->[1];\n" }
                               @{ $o{headers} // [] };
    my $location = $o{location} // '';

    return <<"_EOC_";
    server {
        listen 127.0.0.1:$port $listen;
$more_listen
        location = /_auth {
            internal;
            proxy_pass http://127.0.0.1:$auth_port/_verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location = /_verify {
            if (\$ll_user = "") {
                return 401;
            }
$headers            return 204;
        }

        location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
            leadlist_add_prospects leadlist_db;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
$location
        }
    }
_EOC_
}


# Starts the nginx of $dir/conf/nginx.conf as a daemon and waits up to
# 10 s for its pid file.  Options: bin (default TEST_NGINX_BINARY or
# /usr/sbin/nginx); prefix => 0 keeps nginx's own prefix (for a
# configuration that loads modules/... from it), else the prefix is $dir.
# Returns the master's pid, or (undef, why): the exit status and the
# error log's [emerg] lines.
sub start_own_nginx {
    my ($dir, %o) = @_;

    my $bin = $o{bin} // $ENV{TEST_NGINX_BINARY} // '/usr/sbin/nginx';
    my @prefix = ($o{prefix} // 1) ? ('-p', "$dir/") : ();
    my $pid_file = "$dir/logs/nginx.pid";

    # make test-asan: the sanitizer runtimes the module needs
    local $ENV{LD_PRELOAD} = $ENV{TEST_NGINX_LD_PRELOAD}
        if $ENV{TEST_NGINX_LD_PRELOAD};

    my $rc = system($bin, @prefix, '-c', "$dir/conf/nginx.conf",
                    '-e', "$dir/logs/error.log");

    if ($rc == 0) {
        for (1 .. 500) {
            if (open my $fh, '<', $pid_file) {
                my $pid = <$fh>;
                return $1 if defined $pid && $pid =~ /^(\d+)\n/;
            }
            Time::HiRes::sleep(0.02);
        }
    }

    my @emerg;
    if (open my $fh, '<', "$dir/logs/error.log") {
        @emerg = grep { /\[emerg\]/ } <$fh>;
    }
    return (undef, ($rc ? "nginx exited with status $rc" : 'no pid file')
                   . ":\n" . join('', @emerg));
}


# Stops an nginx master gracefully (QUIT), after 10 s with KILL; returns
# whether it stopped gracefully.
sub stop_own_nginx {
    my ($pid) = @_;
    kill 'QUIT', $pid;
    for (1 .. 500) {
        return 1 unless kill 0, $pid;
        Time::HiRes::sleep(0.02);
    }
    kill 'KILL', $pid;
    return 0;
}

1;
