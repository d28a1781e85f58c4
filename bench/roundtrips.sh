#!/usr/bin/env bash
# Counts the PostgreSQL round trips of a warm request: strace follows the
# nginx worker while N requests run one after the other on a warm
# connection, and the script prints, per request, the sends to and the
# reads from PostgreSQL's socket.  One send then one answer is one round
# trip.  Then 3 seconds of wrk with 16 connections over the same one
# PostgreSQL connection (leadlist_pg_max 1): each statement that ends
# hands the connection to the next request in the queue, in one event.
#
#   bench/roundtrips.sh [N]        (default 20; needs strace and wrk)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-20}
pgdir=${LEADLIST_PG_DIR:-$root/build/pg-rt}
run=$root/build/roundtrips
port=${LEADLIST_RT_PORT:-18280}

cd "$root"
make -s all

cleanup() {
    [ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null || true
    [ -n "${strace_pid:-}" ] && kill "$strace_pid" 2>/dev/null || true
    util/pg.sh stop "$pgdir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

util/pg.sh start "$pgdir" >/dev/null
. "$pgdir/env"

util/pg.sh psql "$pgdir" -q -c "
    DELETE FROM tenant.lead_list_persons WHERE org_id = 'rt';
    DELETE FROM tenant.persons WHERE org_id = 'rt';
    DELETE FROM tenant.lead_lists WHERE org_id = 'rt';
    INSERT INTO tenant.lead_lists (org_id, id, name, type, user_ids)
    VALUES ('rt', 'l', 'l', 'person', '{u}');" >/dev/null

rm -rf "$run"
mkdir -p "$run/logs"

cat > "$run/nginx.conf" <<_EOC_
load_module $root/build/ngx_http_leadlist_module.so;
worker_processes 1;
error_log $run/logs/error.log notice;
pid $run/nginx.pid;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $run/body;
    proxy_temp_path $run/proxy;
    upstream db {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
        leadlist_pg_keepalive 1;
        leadlist_pg_max 1;
    }
    server {
        listen 127.0.0.1:$((port + 1));
        location = /verify {
            add_header X-User-Id u;
            add_header X-Org-Id rt;
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
            leadlist_add_prospects db;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }
    }
}
_EOC_

/usr/sbin/nginx -p "$run" -c "$run/nginx.conf"
sleep 0.3

post() {
    curl -s -o /dev/null -w '%{http_code}' -X POST \
        "http://127.0.0.1:$port/api/lead-lists/l/add-prospects" \
        -H 'Content-Type: application/json' \
        -d "{\"persons\":[{\"id\":\"$1\"}]}"
}

# warm up: the connection is made and the statement prepared
for i in 1 2 3; do post "warm-$i" >/dev/null; done

worker=$(pgrep -P "$(cat "$run/nginx.pid")" | head -1)
pgfd=$(ss -tnpH "dst 127.0.0.1:$TEST_NGINX_PG_PORT" \
       | grep -o "pid=$worker,fd=[0-9]*" | head -1 | sed 's/.*fd=//')

[ -n "$pgfd" ] || { echo "no PostgreSQL connection in worker $worker" >&2; exit 1; }

# post.lua: each request a person of its own
cat > "$run/post.lua" <<'_LUA_'
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
    n = n + 1
    wrk.body = string.format('{"persons":[{"id":"rt-q-%d-%d"}]}', n, os.time())
    return wrk.format(nil, "/api/lead-lists/l/add-prospects")
end
_LUA_

# measure LABEL CLIENTS: requests from CLIENTS clients, under strace; one
# client: N requests by curl; more: wrk for 3 seconds
measure() {
    local label=$1 clients=$2 sends reads eagain ioctls ok count

    strace -qq -p "$worker" \
        -e trace=sendto,recvfrom,sendmsg,recvmsg,write,read,writev,readv,ioctl \
        -o "$run/strace.log" &
    strace_pid=$!
    sleep 0.5

    if [ "$clients" = 1 ]; then
        codes=
        for i in $(seq 1 "$n"); do codes="$codes $(post "rt-$i-$$")"; done
        count=$n
        ok=$(echo "$codes" | tr ' ' '\n' | grep -c '^200$' || true)
    else
        wrk -t1 -c"$clients" -d3s -s "$run/post.lua" \
            "http://127.0.0.1:$port" >"$run/wrk.log" 2>&1
        count=$(awk '/requests in/ { print $1 }' "$run/wrk.log")
        ok=$(( count - $(awk '/Non-2xx/ { print $NF }' "$run/wrk.log") + 0 ))
    fi

    sleep 0.2
    kill "$strace_pid"
    wait "$strace_pid" 2>/dev/null || true
    strace_pid=

    sends=$(grep -cE "^(sendto|sendmsg|write|writev)\($pgfd," "$run/strace.log" || true)
    reads=$(grep -E "^(recvfrom|recvmsg|read|readv)\($pgfd," "$run/strace.log" \
            | grep -vc "EAGAIN" || true)
    eagain=$(grep -E "^(recvfrom|recvmsg|read|readv)\($pgfd," "$run/strace.log" \
             | grep -c "EAGAIN" || true)
    ioctls=$(grep -c "^ioctl($pgfd," "$run/strace.log" || true)

    per() { awk -v a="$1" -v b="$count" 'BEGIN { printf "%.2f", a / b }'; }
    echo "== $label: $count requests from $clients client(s) (2xx: $ok), PostgreSQL socket fd $pgfd of worker $worker"
    echo "sends to PostgreSQL:      $sends ($(per "$sends") per request)"
    echo "reads with data:          $reads ($(per "$reads") per request)"
    echo "reads that found nothing: $eagain ($(per "$eagain") per request)"
    echo "FIONREAD checks:          $ioctls ($(per "$ioctls") per request)"
    echo "round trips per warm request: $(per "$sends")"
}

measure "one after the other" 1
measure "queued on one connection" 16
