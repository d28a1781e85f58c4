#!/usr/bin/env bash
# make run: PostgreSQL with the demo data and nginx with the module in the
# foreground on 127.0.0.1:8080.  Demo callers are bearer tokens mapped to
# identities in plain nginx config (a stand-in for a real auth service).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
pgdir=$root/build/pg
run=$root/build/run
port=${LEADLIST_PORT:-8080}
metrics_port=$((port + 2))

cd "$root"

trap 'util/pg.sh stop "$pgdir" >/dev/null 2>&1 || true' EXIT
trap 'exit 0' INT TERM

util/pg.sh start "$pgdir"
util/pg.sh demo "$pgdir" >/dev/null
. "$pgdir/env"

mkdir -p "$run/logs"

cat > "$run/nginx.conf" <<_EOC_
load_module $root/build/ngx_http_leadlist_module.so;

daemon off;
worker_processes 2;
error_log stderr notice;
pid $run/nginx.pid;

events {
    worker_connections 1024;
}

http {
    log_format leadlist '\$remote_addr [\$time_local] "\$request" \$status '
                        '\$request_time org=\$leadlist_org_id '
                        'user=\$leadlist_user_id list=\$leadlist_list_id '
                        'outcome=\$leadlist_outcome added=\$leadlist_added '
                        'selected=\$leadlist_selected '
                        'wait=\$leadlist_pool_wait_time '
                        'sql=\$leadlist_statement_time '
                        'server=\$leadlist_server';

    access_log $run/logs/access.log leadlist;
    client_body_temp_path $run/body;
    proxy_temp_path $run/proxy;
    fastcgi_temp_path $run/fastcgi;
    uwsgi_temp_path $run/uwsgi;
    scgi_temp_path $run/scgi;

    upstream leadlist_db {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
        leadlist_pg_keepalive 8;
    }

    # demo identities: alice is in acme's person list, bob is not, carol
    # is an acme admin, dave belongs to globex
    map \$http_authorization \$demo_user {
        "Bearer alice-token"  u-alice;
        "Bearer bob-token"    u-bob;
        "Bearer carol-token"  u-carol;
        "Bearer dave-token"   u-dave;
    }

    map \$demo_user \$demo_org {
        u-dave   globex;
        ""       "";
        default  acme;
    }

    map \$demo_user \$demo_role {
        u-carol  "member,admin";
        default  member;
    }

    # Prometheus metrics, loopback only (README "Metrics")
    server {
        listen 127.0.0.1:$metrics_port;

        location = /metrics {
            leadlist_metrics;
            allow 127.0.0.1;
            deny all;
        }
    }

    server {
        listen 127.0.0.1:$((port + 1));

        location = /verify {
            if (\$demo_user = "") {
                return 401;
            }

            add_header X-User-Id \$demo_user;
            add_header X-Org-Id \$demo_org;
            add_header X-User-Role \$demo_role;
            return 204;
        }
    }

    server {
        listen 127.0.0.1:$port;

        location = /_auth {
            internal;
            proxy_pass http://127.0.0.1:$((port + 1))/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
            leadlist_add_prospects leadlist_db;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }
    }
}
_EOC_

/usr/sbin/nginx -t -q -p "$run" -c "$run/nginx.conf"

u=http://127.0.0.1:$port/api/lead-lists
j='Content-Type: application/json'

cat <<_EOT_

leadlist is serving on http://127.0.0.1:$port (Ctrl-C stops it).  Try:

  # alice adds two prospects to acme's list: the counts by reason,
  # {"addedCount":2,"alreadyInListCount":0,"notMatchedCount":0}
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -d '{"persons":[{"id":"p-900001","fullName":"Ada Lovelace","title":"CTO"},{"id":"p-900002","fullName":"Alan Turing"}]}'

  # the same again: {"addedCount":0,"alreadyInListCount":2,"notMatchedCount":0}
  (repeat the command above)

  # which ids went where (Prefer: return=representation): p-000001 is in
  # the list already, p-999999 is not in the catalogue
  curl -si -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -H 'Prefer: return=representation' \\
    -d '{"selection":{"searchId":"acme-all","ids":["p-000001","p-000003","p-999999"]}}'

  # a dry run (Prefer: tx=rollback): the exact answer, nothing stored
  curl -si -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' -H 'Prefer: tx=rollback' \\
    -d '{"selection":{"searchId":"acme-cto","selectAll":true,"limit":50}}'

  # every CTO of a saved search, 50 at a time
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -d '{"selection":{"searchId":"acme-cto","selectAll":true,"limit":50}}'

  # an idempotent request: send it twice; the second answer is the first
  # one again, with Idempotent-Replayed: true, and adds nothing
  curl -si -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -H 'Idempotency-Key: demo-key-1' -d '{"persons":[{"id":"p-900003"}]}'

  # the same key with another body: 422; a malformed key: 400
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -H 'Idempotency-Key: demo-key-1' -d '{"persons":[{"id":"p-900004"}]}'
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' \\
    -H 'Idempotency-Key: "unterminated' -d '{"persons":[{"id":"p-900004"}]}'

  # bob is not in the list: 403; carol is an admin: 200
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer bob-token' -H '$j' -d '{"persons":[{"id":"p-1"}]}'
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer carol-token' -H '$j' -d '{"persons":[{"id":"p-1"}]}'

  # dave (globex) cannot see acme's list: 404; no token: 401
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer dave-token' -H '$j' -d '{"persons":[{"id":"p-1"}]}'
  curl -s -X POST $u/acme-prospects/add-prospects -H '$j' -d '{}'

  # a company list: 400 pointing to /add-companies; a bad body: 400
  curl -s -X POST $u/acme-companies/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' -d '{"persons":[{"id":"p-1"}]}'
  curl -s -X POST $u/acme-prospects/add-prospects \\
    -H 'Authorization: Bearer alice-token' -H '$j' -d '{"persons":[{"id":5}]}'

  # every worker's figures for Prometheus; who did what in the access log
  curl -s http://127.0.0.1:$metrics_port/metrics
  tail $run/logs/access.log

_EOT_

/usr/sbin/nginx -p "$run" -c "$run/nginx.conf"
