# Shared by bench/run.sh and bench/bulk_latency.sh (sourced, not run).
#
# The stack: a throwaway PostgreSQL (util/pg.sh) holding the catalogue
# (bench/catalogue.sql, kept between runs) and the tenants
# (bench/fixtures.sql, reset every run), and Debian's nginx with the
# module, an auth stand-in and an HTTP-limit location.  Measurements: wrk
# with bench/wrk/leadlist.lua, pgbench with bench/pgbench/*.sql.
#
# Settings (environment):
#
#   BENCH_QUICK=1         100,000 persons, 5 s runs (default: 1,000,000, 30 s)
#   BENCH_ROWS            persons in the catalogue
#   BENCH_SECONDS         seconds per measured run (BENCH_DURATION: the same)
#   BENCH_ONLY            main: only the runs of the main table; sweep: only
#                         the pool sweep (default: both)
#   BENCH_CONNECTIONS     HTTP connections (wrk -c), default 16
#   BENCH_THREADS         wrk and pgbench threads, default 2
#   BENCH_PG_CONNECTIONS  PostgreSQL connections of the module (all
#                         workers together) and pgbench clients, default 16
#   BENCH_WORKERS         nginx worker_processes, default 1
#   BENCH_PORT            nginx port, default 18180 (the auth stand-in
#                         listens on the next one)
#   BENCH_PG_DIR          cluster directory, default build/bench-pg
#                         (build/bench-pg-quick with BENCH_QUICK=1)
#   BENCH_RSS_REQUESTS    requests between the two RSS readings, 100000
#   BENCH_KEEP=1          leave nginx and PostgreSQL running at the end
#   BENCH_SPLIT=0         skip the runs with PostgreSQL on a CPU of its own
#
# The pool sweep (bench/run.sh, BENCH_ONLY=sweep alone):
#
#   BENCH_SWEEP_SIZES     leadlist_pg_keepalive values, default "4 16 32"
#   BENCH_SWEEP_CONNECTIONS  HTTP connections, default 32
#   BENCH_SWEEP_WORKERS   nginx worker_processes, default 2
#   BENCH_SWEEP_CLIENTS   pgbench clients of its ceiling runs, default
#                         "8 32 2" (2, one per CPU of this machine: where
#                         bench/pipeline.sh found the database's best)
#   BENCH_SWEEP_FIXED     fixed limits per worker run for reference
#                         (leadlist_pg_keepalive = leadlist_pg_max = N,
#                         adaptive off), default "2 3 4"; "" for none
#   BENCH_SWEEP_BOUNCER   PgBouncer pool sizes of its reference runs, default
#                         "8"; "" for none (skipped without pgbouncer)
#   BENCH_ROUNDS          rounds of the sizes side by side after the sweep
#                         (sweep_rounds), default 3; 0 for none
#   BENCH_ROUND_SECONDS   seconds of each run of a round, default 10 (5
#                         with BENCH_QUICK)

set -eu

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench=$root/bench

if [ "${BENCH_QUICK:-0}" = 1 ]; then
    rows=${BENCH_ROWS:-100000}
    dur=${BENCH_SECONDS:-${BENCH_DURATION:-5}}
    pgdir=${BENCH_PG_DIR:-$root/build/bench-pg-quick}
    round_dur=${BENCH_ROUND_SECONDS:-5}
else
    rows=${BENCH_ROWS:-1000000}
    dur=${BENCH_SECONDS:-${BENCH_DURATION:-30}}
    pgdir=${BENCH_PG_DIR:-$root/build/bench-pg}
    round_dur=${BENCH_ROUND_SECONDS:-10}
fi

conns=${BENCH_CONNECTIONS:-16}
threads=${BENCH_THREADS:-2}
pgconns=${BENCH_PG_CONNECTIONS:-16}
workers=${BENCH_WORKERS:-1}
port=${BENCH_PORT:-18180}
auth_port=$((port + 1))
rss_requests=${BENCH_RSS_REQUESTS:-100000}
# seconds of a run before its connects count as "after warm-up" (wrk_run)
settle=3
only=${BENCH_ONLY:-}
sweep_sizes=${BENCH_SWEEP_SIZES:-4 16 32}
sweep_conns=${BENCH_SWEEP_CONNECTIONS:-32}
sweep_workers=${BENCH_SWEEP_WORKERS:-2}
sweep_clients=${BENCH_SWEEP_CLIENTS:-8 32 2}
sweep_fixed=${BENCH_SWEEP_FIXED-2 3 4}
sweep_serial=${BENCH_SWEEP_SERIAL-16}
sweep_bouncer=${BENCH_SWEEP_BOUNCER-8}
sweep_nrounds=${BENCH_ROUNDS:-3}
bouncer_port=$((port + 2))

# the pool's directives in nginx.conf (nginx_conf): keepalive and max per
# worker, max omitted when empty (the module's default), and the adaptive
# limit's switch and the statements per connection, each omitted when
# empty
ngx_keepalive=$((pgconns / workers))
ngx_max=$ngx_keepalive
ngx_adaptive=
ngx_pipeline=

# set by nginx_up
nginx_master=
nginx_workers=
# read once: after cpu_split, nproc counts only this shell's CPUs
ncpu=$(nproc)

# fixtures (bench/fixtures.sql): organizations, lists per kind and org,
# fresh lists per kind and org, organizations without copies, duplicates
# per list of kind 2
orgs=64
lists=16
fresh=$(( rows >= 1000000 ? 1000 : 300 ))
cold=2000
ndups=50

run=$root/build/bench
out=$run/out
pgbench_bin=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
module=$root/build/ngx_http_leadlist_module.so
template=$bench/person.json
nginx_bin=${NGINX:-/usr/sbin/nginx}

die() {
    echo "bench: $*" >&2
    exit 1
}

note() {
    printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

check_tools() {
    local t
    for t in wrk "$pgbench_bin" "$nginx_bin"; do
        command -v "$t" >/dev/null 2>&1 \
            || die "missing $t (make bench installs wrk and postgresql-contrib)"
    done
    [ -f "$module" ] || die "no $module: run make (or make bench)"
    [ "$workers" -ge 1 ] && [ $((pgconns % workers)) = 0 ] \
        || die "BENCH_PG_CONNECTIONS must be a multiple of BENCH_WORKERS"
    [ $((conns % threads)) = 0 ] \
        || die "BENCH_CONNECTIONS must be a multiple of BENCH_THREADS"
    [ $((sweep_conns % threads)) = 0 ] \
        || die "BENCH_SWEEP_CONNECTIONS must be a multiple of BENCH_THREADS"
    case $only in
        ''|main|sweep) ;;
        *) die "BENCH_ONLY is main or sweep" ;;
    esac
}


# ---------------------------------------------------------------- PostgreSQL

# superuser psql on the bench database
spsql() {
    "$root/util/pg.sh" psql "$pgdir" -X -q -v ON_ERROR_STOP=1 "$@"
}

# cluster settings of a database server rather than of a test cluster
# (util/pg.sh keeps 128MB of shared buffers); a change needs a restart
pg_tune() {
    local want have
    want="1GB|1GB|on|on"
    have=$(spsql -Atc "SELECT current_setting('shared_buffers') || '|'
                           || current_setting('max_wal_size') || '|'
                           || current_setting('track_io_timing') || '|'
                           || current_setting('log_connections')")
    [ "$have" = "$want" ] && return 0

    note "tuning the cluster (shared_buffers 1GB, max_wal_size 1GB), restarting"
    spsql <<'EOF'
ALTER SYSTEM SET shared_buffers = '1GB';
ALTER SYSTEM SET max_wal_size = '1GB';
ALTER SYSTEM SET checkpoint_timeout = '15min';
ALTER SYSTEM SET track_io_timing = on;
ALTER SYSTEM SET log_connections = on;
EOF
    "$root/util/pg.sh" stop "$pgdir"
    "$root/util/pg.sh" start "$pgdir" >/dev/null
}

pg_up() {
    local tag have start

    mkdir -p "$(dirname "$pgdir")"
    "$root/util/pg.sh" start "$pgdir" >/dev/null
    pg_tune
    # shellcheck disable=SC1091
    . "$pgdir/env"
    # a cluster left running (BENCH_KEEP=1) may still be pinned by cpu_split
    pg_cpus "0-$((ncpu - 1))"

    tag="leadlist bench catalogue: $rows persons, $(sha256sum "$bench/catalogue.sql" | cut -c1-16)"
    have=$(spsql -Atc "SELECT obj_description('global.persons'::regclass, 'pg_class')")

    if [ "$have" != "$tag" ]; then
        note "loading $rows persons into global.persons (once per cluster) ..."
        start=$(date +%s)
        spsql -v rows="$rows" -v tag="$tag" -f "$bench/catalogue.sql" >/dev/null
        note "catalogue loaded in $(( $(date +%s) - start )) s"
    else
        note "catalogue of $rows persons already loaded in $pgdir"
    fi
}

pg_fixtures() {
    local start
    start=$(date +%s)
    spsql -v orgs="$orgs" -v lists="$lists" -v fresh="$fresh" \
          -v cold="$cold" -v dups="$ndups" -v tmpl="$(cat "$template")" \
          -f "$bench/fixtures.sql" >/dev/null
    note "tenants reset: $orgs organizations ($fresh fresh lists per kind), $cold without copies ($(( $(date +%s) - start )) s)"
}

pg_postmaster() {
    head -1 "$(pg_server)/data/postmaster.pid"
}

# where util/pg.sh keeps the server's data and log
pg_server() {
    if [ -s "$pgdir/server" ]; then
        cat "$pgdir/server"
    else
        echo "$pgdir"
    fi
}


# --------------------------------------------------------------------- nginx

nginx_conf() {
    mkdir -p "$run/logs" "$run/empty"

    # a copy: a "make" elsewhere rewrites build/*.so in place, under a
    # running nginx
    cp "$module" "$run/module.so.tmp"
    mv "$run/module.so.tmp" "$run/ngx_http_leadlist_module.so"

    (umask 077 && cat >"$run/nginx.conf") <<EOF
# written by bench/lib.sh
load_module $run/ngx_http_leadlist_module.so;

worker_processes $workers;
error_log $run/logs/error.log warn;
pid $run/nginx.pid;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path $run/body;
    proxy_temp_path $run/proxy;
    fastcgi_temp_path $run/fastcgi;
    uwsgi_temp_path $run/uwsgi;
    scgi_temp_path $run/scgi;

    keepalive_requests 1000000;
    client_max_body_size 8m;
    client_body_buffer_size 1m;

    upstream leadlist_db {
        leadlist_pg_server "$TEST_NGINX_PG_CONNINFO";
        leadlist_pg_keepalive $ngx_keepalive;${ngx_max:+
        leadlist_pg_max $ngx_max;}${ngx_adaptive:+
        leadlist_pg_adaptive $ngx_adaptive;}${ngx_pipeline:+
        leadlist_pg_pipeline $ngx_pipeline;}
        leadlist_pg_queue 4096 timeout=30s;
        leadlist_pg_query_timeout 60s;
    }

    upstream bench_auth {
        server 127.0.0.1:$auth_port;
        keepalive 64;
    }

    # the auth stand-in: "Authorization: Bearer o=ORG;u=USER" is a member
    # of ORG; no user is a 401
    map \$http_authorization \$bench_org {
        "~^Bearer o=(?<v>[A-Za-z0-9_-]+)" \$v;
        default "";
    }

    map \$http_authorization \$bench_user {
        "~;u=(?<v>[A-Za-z0-9_-]+)" \$v;
        default "";
    }

    server {
        listen 127.0.0.1:$auth_port;

        location = /verify {
            if (\$bench_user = "") {
                return 401;
            }

            add_header X-User-Id \$bench_user;
            add_header X-Org-Id \$bench_org;
            add_header X-User-Role member;
            return 204;
        }

        location / {
            return 404;
        }
    }

    server {
        listen 127.0.0.1:$port;

        location = /_auth {
            internal;
            proxy_pass http://bench_auth/verify;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location ~ ^/api/lead-lists/(?<list_id>[^/]+)/add-prospects\$ {
            leadlist_add_prospects leadlist_db;
            leadlist_list_id \$list_id;
            leadlist_auth_request /_auth;
        }

        # the HTTP limit: the same auth subrequest, then a fixed answer.
        # "return" alone would run before the access phase, so the answer
        # comes from a named location after try_files (one stat()).
        location = /bench/http-limit {
            auth_request /_auth;
            root $run/empty;
            try_files /none @http_ok;
        }

        location @http_ok {
            default_type application/json;
            return 200 '{"addedCount":1,"alreadyInListCount":0,"notMatchedCount":0}';
        }
    }
}
EOF
}

nginx_up() {
    local i
    port_busy "$port" && die "port $port is in use (set BENCH_PORT)"
    port_busy "$auth_port" && die "port $auth_port is in use (set BENCH_PORT)"

    nginx_conf
    : >"$run/logs/error.log"
    "$nginx_bin" -t -q -p "$run" -c "$run/nginx.conf" \
        || die "nginx -t failed"
    "$nginx_bin" -p "$run" -c "$run/nginx.conf"

    for i in $(seq 50); do
        [ -s "$run/nginx.pid" ] && port_busy "$port" && break
        sleep 0.1
    done
    nginx_master=$(cat "$run/nginx.pid")
    for i in $(seq 50); do
        nginx_workers=$(ps -o pid= --ppid "$nginx_master" | tr -s ' \n' ' ')
        [ "$(echo $nginx_workers | wc -w)" -ge "$workers" ] && break
        sleep 0.1
    done
    note "nginx $nginx_master on 127.0.0.1:$port, workers:$nginx_workers"
}

nginx_down() {
    local pid i
    [ -s "$run/nginx.pid" ] || return 0
    pid=$(cat "$run/nginx.pid")
    kill -QUIT "$pid" 2>/dev/null || return 0
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -TERM "$pid" 2>/dev/null || true
}

# stack_up: what every bench script starts with: the tools checked, an
# empty $out, the stack torn down on exit, PostgreSQL up with the
# catalogue and fresh tenants
stack_up() {
    check_tools
    rm -rf "$out"
    mkdir -p "$out"
    trap stack_down EXIT
    trap 'exit 130' INT TERM
    pg_up
    pg_fixtures
}

stack_down() {
    [ "${BENCH_KEEP:-0}" = 1 ] && return 0
    bouncer_down
    nginx_down
    "$root/util/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
}

# nginx again, with the settings of now (workers, ngx_*)
nginx_restart() {
    local i
    nginx_down
    for i in $(seq 50); do
        port_busy "$port" || port_busy "$auth_port" || break
        sleep 0.1
    done
    nginx_up
}

# nginx_accepts: 0 when nginx -t takes the configuration nginx_conf writes
# now (e.g. with a directive a module built before it does not know)
nginx_accepts() {
    nginx_conf
    "$nginx_bin" -t -q -p "$run" -c "$run/nginx.conf" >"$out/.nginx-t" 2>&1
}


# ---------------------------------------------------------------- split CPUs

# On one machine nginx, PostgreSQL and the load generator share the CPUs:
# every CPU-second nginx and wrk use is taken from PostgreSQL, so the module
# cannot reach the database limit however little it costs.  Deployed, the
# database has CPUs of its own; cpu_split gives it one here: every
# PostgreSQL process (and the backends it forks later) on the last CPU,
# nginx, this shell and the load generators it starts on the others.
# Both sides of a ratio then run the same way.
cpu_split() {
    local last p
    last=$((ncpu - 1))
    pg_cpus "$last"
    for p in $nginx_master $nginx_workers $$; do
        taskset -a -cp "0-$((last - 1))" "$p" >/dev/null
    done
}

# pg_cpus LIST: every PostgreSQL process, and the backends it forks later,
# on these CPUs
pg_cpus() {
    local p pm
    pm=$(pg_postmaster)
    for p in $pm $(ps -o pid= --ppid "$pm"); do
        taskset -a -cp "$1" "$p" >/dev/null
    done
}


# --------------------------------------------------------------- accounting

# utime + stime of a process and of its reaped children, in clock ticks
ticks() {
    local f
    f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    f=${f##*) }
    # shellcheck disable=SC2086
    set -- $f
    echo $(( ${12} + ${13} + ${14} + ${15} ))
}

nginx_ticks() {
    local p s=0
    for p in $nginx_workers; do
        s=$((s + $(ticks "$p")))
    done
    echo $s
}

# the whole cluster: the postmaster with its reaped children, and the
# live backends
pg_ticks() {
    local pm p s
    pm=$(pg_postmaster)
    s=$(ticks "$pm")
    for p in $(ps -o pid= --ppid "$pm"); do
        s=$((s + $(ticks "$p")))
    done
    echo $s
}

pg_children() {
    ps -o pid= --ppid "$(pg_postmaster)" | wc -l
}

# pg_settle N: wait (up to 5 s) until the postmaster is back to N children,
# so that the backends of a client that just left have exited and their CPU
# time is in the postmaster's account before it is read
pg_settle() {
    local i
    for i in $(seq 50); do
        [ "$(pg_children)" -le "$1" ] && return 0
        sleep 0.1
    done
}

# busy ticks of the whole machine (all CPUs)
machine_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# workers_kb FIELD: a /proc status field (kB) summed over the workers
workers_kb() {
    local p s=0 v
    for p in $nginx_workers; do
        v=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$p/status")
        s=$((s + v))
    done
    echo $s
}

rss_kb() { workers_kb VmRSS; }
hwm_kb() { workers_kb VmHWM; }

# Rows of tenant.lead_list_persons in the lists of one kind (see
# bench/fixtures.sql), counted by primary-key ranges: the statistics views
# lag up to 10 s behind idle backends, too late for a check after a run.
rows_in_kind() {
    local kind=$1
    if [ "$kind" = 7 ]; then
        spsql -Atc "SELECT count(*) FROM tenant.lead_list_persons
                     WHERE org_id BETWEEN '100001' AND '199999'"
        return
    fi
    spsql -Atc "SELECT sum(x.n) FROM generate_series(1, $orgs) AS o,
                LATERAL (SELECT count(*) AS n FROM tenant.lead_list_persons AS m
                          WHERE m.org_id = o::text
                            AND m.lead_list_id BETWEEN (o * 1000000 + $kind * 100000)::text
                                                   AND (o * 1000000 + $kind * 100000 + 99999)::text) AS x"
}

# child_cpu VAR: user + system seconds of this shell's waited-for children
# (the builtin must run in this shell, not in a $(...) subshell)
child_cpu() {
    times >"$out/.times"
    printf -v "$1" '%s' "$(awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%.3f\n", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$out/.times")"
}


# ------------------------------------------------------------- measurements

# Results, by run name: R[name.field]
declare -A R
names=()

hz=$(getconf CLK_TCK)

# Connections PostgreSQL accepted for the module's role, counted in the
# server's log (log_connections, pg_tune): during a run nothing else logs
# in as that role, each connect is one line the moment it is made, and a
# reading takes no session of its own (pg_stat_database.sessions, counted
# before, took in every role and the reading psql itself).
pg_connects() {
    grep -c "connection authorized: user=$TEST_NGINX_PG_USER " \
        "$(pg_server)/log" || true
}

# the module's open connections (and pgbench's)
pg_backends() {
    spsql -Atc "SELECT count(*) FROM pg_stat_activity
                 WHERE backend_type = 'client backend'
                   AND usename = '$TEST_NGINX_PG_USER'"
}

# before the load starts: acct_start KIND
acct_start() {
    a_kind=$1
    a_rows=$(rows_in_kind "$a_kind")
    a_conn=$(pg_connects)
    a_ng=$(nginx_ticks)
    a_pg=$(pg_ticks)
    a_m=$(machine_ticks)
    a_t=$(date +%s.%N)
    child_cpu a_lg
}

# the moment the load stops
acct_stop() {
    e_ng=$(nginx_ticks)
    e_pg=$(pg_ticks)
    e_m=$(machine_ticks)
    e_t=$(date +%s.%N)
    e_conn=$(pg_connects)
    e_back=$(pg_backends)
}

# after the load generator was waited for: acct_end NAME
acct_end() {
    local name=$1 lg n secs late
    lg=$(awk -v a="$a_lg" -v b="$e_lg" 'BEGIN { print b - a }')
    R[$name.rows]=$(( $(rows_in_kind "$a_kind") - a_rows ))
    n=${R[$name.requests]:-0}
    [ "$n" -gt 0 ] || n=1
    secs=$(awk -v a="$a_t" -v b="$e_t" 'BEGIN { print b - a }')
    R[$name.wall]=$secs
    R[$name.connects]=$(( e_conn - a_conn ))
    # and after the run's own first seconds (wrk_run), once its clients
    # have settled on the workers
    R[$name.connects_late]=${R[$name.connects]}
    late=$secs
    if [ -s "$out/$name.settled" ]; then
        R[$name.connects_late]=$(( e_conn - $(cat "$out/$name.settled") ))
        late=$(awk -v t="$secs" -v s="$settle" 'BEGIN { print t - s }')
    fi
    R[$name.cps]=$(awk -v c="${R[$name.connects_late]}" -v t="$late" 'BEGIN { printf "%.1f", c / t }')
    R[$name.backends]=$e_back
    R[$name.ng_us]=$(awk -v d=$((e_ng - a_ng)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')
    R[$name.pg_us]=$(awk -v d=$((e_pg - a_pg)) -v hz="$hz" -v n="$n" 'BEGIN { printf "%.0f", d / hz * 1e6 / n }')
    R[$name.lg_us]=$(awk -v s="$lg" -v n="$n" 'BEGIN { printf "%.0f", s * 1e6 / n }')
    R[$name.cpu]=$(awk -v ng=$((e_ng - a_ng)) -v pg=$((e_pg - a_pg)) -v lg="$lg" \
                       -v hz="$hz" -v t="$secs" \
        'BEGIN { printf "%.2f/%.2f/%.2f", ng / hz / t, pg / hz / t, lg / t }')
    # machine CPU used by neither nginx, PostgreSQL nor the load generator:
    # other jobs on a shared machine, and the kernel's network softirqs
    R[$name.other]=$(awk -v m=$((e_m - a_m)) -v ng=$((e_ng - a_ng)) -v pg=$((e_pg - a_pg)) \
                         -v lg="$lg" -v hz="$hz" -v t="$secs" \
        'BEGIN { o = (m - ng - pg) / hz - lg; if (o < 0) o = 0; printf "%.2f", o / t }')
}

# all_stopped DIR THREADS: every wrk thread left its mark (builtins only)
all_stopped() {
    local k
    for ((k = 0; k < $2; k++)); do
        [ -e "$1/t$k" ] || return 1
    done
}

# wrk_run NAME LABEL SECONDS CONNECTIONS THREADS key=value ...
#
# With stop=N each wrk thread stops after N answers and leaves a mark;
# wrk's main thread sleeps for the whole duration whatever its threads do,
# so once every thread has stopped (and exited) it gets a SIGINT, which
# ends its sleep.  Requests per second are then counted up to that moment.
wrk_run() {
    local name=$1 label=$2 secs=$3 c=$4 t=$5 log line kv k v pid kind=1 stopdir=
    shift 5
    log=$out/$name.wrk
    # names starting with _ (warm-ups) stay out of the table
    [ "${name#_}" = "$name" ] && names+=("$name")
    R[$name.label]=$label

    for kv in "$@"; do
        case $kv in
            kind=*) kind=${kv#kind=} ;;
            mode=cold) kind=7 ;;
            stop=*) stopdir=$out/$name.stopped ;;
        esac
    done

    spsql -c CHECKPOINT
    note "run $name: $label (${secs}s, $c connections)"
    [ -z "$stopdir" ] || { rm -rf "$stopdir"; mkdir -p "$stopdir"; }

    acct_start "$kind"
    # a caller's hook, right before wrk connects (bench/split.sh)
    [ -z "${wrk_before:-}" ] || "$wrk_before"
    wrk -t"$t" -c"$c" -d"${secs}s" --timeout 60s \
        -s "$bench/wrk/leadlist.lua" "http://127.0.0.1:$port" \
        -- threads="$t" template="$template" orgs="$orgs" lists="$lists" \
           fresh="$fresh" ${stopdir:+stopfile=$stopdir/t} "$@" \
        >"$log" 2>&1 &
    pid=$!

    # The module's connects are counted from here too, and from $settle s
    # on: a new wrk's connections fall on the workers anew (the kernel's
    # split), and a worker that got more clients than in the warm-up opens
    # connections for them in the first second, once.
    rm -f "$out/$name.settled"
    if [ "$secs" -gt $(( 2 * settle )) ]; then
        ( sleep "$settle"; pg_connects >"$out/$name.settled" ) &
        settled_pid=$!
    fi

    if [ -n "$stopdir" ]; then
        while kill -0 "$pid" 2>/dev/null; do
            if all_stopped "$stopdir" "$t"; then
                acct_stop
                # the threads return once stopped; then the signal can
                # only reach the main thread
                sleep 0.2
                kill -INT "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
        wait "$pid" || true
        child_cpu e_lg
    else
        wait "$pid" || true
        child_cpu e_lg
        acct_stop
    fi
    [ -z "${settled_pid:-}" ] || wait "$settled_pid" 2>/dev/null || true
    settled_pid=

    line=$(grep '^RESULT ' "$log" || true)
    [ -n "$line" ] || { cat "$log" >&2; die "wrk gave no result for $name"; }
    for kv in ${line#RESULT }; do
        k=${kv%%=*}
        v=${kv#*=}
        R[$name.$k]=$v
    done
    R[$name.errors]=$(( R[$name.sock_errors] + R[$name.non2xx] ))
    acct_end "$name"
    if [ -n "$stopdir" ]; then
        R[$name.rps]=$(awk -v n="${R[$name.requests]}" -v t="${R[$name.wall]}" 'BEGIN { printf "%.1f", n / t }')
    fi
    grep '^FIRST_BAD' "$log" | cut -c1-300 >&2 || true
    summary_line "$name" >&2
}

# A run of a PostgreSQL client (pgbench, bench/pipeline_bench.c) in three
# steps: client_begin NAME LABEL KIND DETAIL records it and starts the
# accounting after a checkpoint; pg_client PORT COMMAND... runs the client
# with libpq's environment for the bench database; client_end, once the
# client was waited for, takes its CPU and waits for its backends to exit.
client_begin() {
    names+=("$1")
    R[$1.label]=$2
    spsql -c CHECKPOINT
    client_kids=$(pg_children)
    note "run $1: $2 ($4)"
    acct_start "$3"
}

pg_client() {
    local port=$1
    shift
    PGHOST=$TEST_NGINX_PG_HOST PGPORT=$port \
    PGUSER=$TEST_NGINX_PG_USER PGPASSWORD=$TEST_NGINX_PG_PASSWORD \
    PGDATABASE=$TEST_NGINX_PG_DB "$@"
}

client_end() {
    child_cpu e_lg
    pg_settle "$client_kids"
    acct_stop
}

# pgbench_run NAME LABEL SCRIPT KIND [CLIENTS [BODY]]: CLIENTS default
# BENCH_PG_CONNECTIONS; BODY the body template, default one person.  The
# caller may set pgbench_mode (-M, default prepared) and pgbench_port (the
# server's port by default).
pgbench_run() {
    local name=$1 label=$2 script=$3 kind=$4 log lat pid v
    local clients=${5:-$pgconns} body=${6:-} jobs=$threads
    local mode=${pgbench_mode:-prepared}
    local pgport=${pgbench_port:-$TEST_NGINX_PG_PORT}
    log=$out/$name.pgbench
    [ -n "$body" ] || body="{\"persons\":[$(cat "$template")]}"
    [ "$clients" -ge "$jobs" ] || jobs=$clients

    rm -f "$out/$name".log*
    client_begin "$name" "$label" "$kind" "${dur}s, $clients clients"
    pg_client "$pgport" \
        "$pgbench_bin" -n -M "$mode" -c "$clients" -j "$jobs" \
            -T "$dur" -f "$script" -l --log-prefix="$out/$name.log" \
            -D orgs="$orgs" -D lists="$lists" -D kind="$kind" \
            -D user=u-bench -D admin=f -D max=1000 \
            -D tmpl="$body" >"$log" 2>&1 &
    pid=$!
    wait "$pid" || echo "pgbench exit status $?" >>"$log"
    client_end

    R[$name.requests]=$(awk '/^number of transactions actually processed:/ { print $6 }' "$log")
    R[$name.rps]=$(awk '/^tps = / { print $3; exit }' "$log")
    R[$name.sock_errors]=0
    R[$name.non2xx]=$(awk '/^number of failed transactions:/ { print $5 }' "$log")
    R[$name.non2xx]=${R[$name.non2xx]:-0}
    if grep -q 'aborted\|exit status' "$log"; then
        grep -m3 'error' "$log" >&2 || true
        R[$name.non2xx]=$(( R[$name.non2xx] + 1 ))
    fi
    [ -n "${R[$name.requests]}" ] || { cat "$log" >&2; die "pgbench failed in $name"; }

    # per-transaction log: client, transaction, latency (us) or "failed"
    lat=$(cat "$out/$name".log* | awk '{ print $3 }' | sort -n | awk '
        function at(q,   k) { k = int(n * q + 0.5); if (k < 1) k = 1; return v[k] }
        /^[0-9]+$/ { v[++n] = $1; next }
        { bad++ }
        END {
            if (n == 0) { print "0 0 0 0 " bad + 0; exit }
            printf "%d %d %d %d %d\n", at(0.50), at(0.90), at(0.99), v[n], bad + 0
        }')
    read -r R[$name.p50_us] R[$name.p90_us] R[$name.p99_us] R[$name.max_us] v <<<"$lat"
    R[$name.errors]=$(( R[$name.non2xx] + v ))
    rm -f "$out/$name".log*
    acct_end "$name"
    summary_line "$name" >&2
}

ms() {
    awk -v u="$1" 'BEGIN { if (u == "") print "-"; else printf (u < 10000 ? "%.2f" : "%.1f"), u / 1000 }'
}

summary_line() {
    local n=$1
    printf '    %-10s %9.1f req/s  p50 %7s ms  p99 %7s ms  max %7s ms  errors %s  rows +%s  cpu nginx/pg/loadgen %s  others %s\n' \
        "$n" "${R[$n.rps]}" "$(ms "${R[$n.p50_us]}")" "$(ms "${R[$n.p99_us]}")" \
        "$(ms "${R[$n.max_us]}")" "${R[$n.errors]}" "${R[$n.rows]}" \
        "${R[$n.cpu]}" "${R[$n.other]}"
}

ratio() {
    local a=${R[$1.rps]:-} b=${R[$2.rps]:-}
    [ -n "$a" ] && [ -n "$b" ] || { echo -; return; }
    awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

# median of the arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2];
              else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# lowest, median and highest of the arguments: "0.86 0.94 1.12"
spread() {
    printf '%.2f %.2f %.2f' "$(printf '%s\n' "$@" | sort -g | head -1)" \
        "$(median "$@")" "$(printf '%s\n' "$@" | sort -g | tail -1)"
}


# ------------------------------------------------------------- bulk latency

# One connection, so that each figure is the latency of one request alone:
# selectAll limit 1000 with the filter (a few percent) into fresh lists of
# organizations that already hold those copies, the same with {}, and into
# organizations that hold none yet (1,000 copies inserted).
bulk_latency() {
    local secs=${1:-$dur} s=$((orgs * 2))

    # first, one add of each search per organization, so that the copies
    # exist (lists j = 0 and 1)
    wrk_run _L0 "warm-up: one filter add per organization" 60 1 1 \
        mode=bulk kind=6 search=filter stop="$orgs" start=0 \
        added=1000 2>/dev/null
    wrk_run _L0 "warm-up: one {} add per organization" 60 1 1 \
        mode=bulk kind=6 search=all stop="$orgs" start="$orgs" \
        added=1000 2>/dev/null

    wrk_run L1 "bulk latency: filter, copies exist, 1 conn" "$secs" 1 1 \
        mode=bulk kind=6 search=filter start="$s" added=1000
    wrk_run L2 "bulk latency: {}, copies exist, 1 conn" "$secs" 1 1 \
        mode=bulk kind=6 search=all start=$((s + orgs * fresh / 2)) \
        added=1000
    wrk_run L3 "bulk latency: filter, new org (1000 copies), 1 conn" "$secs" 1 1 \
        mode=cold search=filter fresh="$cold" added=1000
}


# --------------------------------------------------------------- pool sweep

# Issue 11: how the pool does at the database's limit, whatever its size.
# leadlist_pg_keepalive at each of BENCH_SWEEP_SIZES with leadlist_pg_max
# left at its default, the adaptive limit on and off, at 32 HTTP
# connections over 2 workers, PostgreSQL on the same CPUs as nginx; two
# workloads: direct 1 new person, and 10 persons all already in the list
# (lists of kind 2, which hold 'x-<list>-1' .. 'x-<list>-50').  pgbench of
# the module's statement with the same bodies, at 8 and at 32 clients, is
# the ceiling they are read against.  Names: sw1_K_M and sw10_K_M (K the
# keepalive, M on, off or "-" for a module without leadlist_pg_adaptive),
# swdb1_C and swdb10_C (C the clients).  For reference, the same
# workloads with a fixed limit of N per worker (leadlist_pg_keepalive =
# leadlist_pg_max = N, adaptive off) for each N of BENCH_SWEEP_FIXED:
# sw1_N_fixed and sw10_N_fixed, the best an operator who knew the database's
# knee could configure.  Each run also records how nginx handed wrk's
# connections to the workers (R[NAME.split], e.g. "21/11"): the kernel
# decides, and the split moves from run to run.  And for the same 32
# clients, the standard pooler: pgbench through PgBouncer (transaction
# pooling, P server connections for each P of BENCH_SWEEP_BOUNCER),
# swdbb1_P and swdbb10_P.  PgBouncer 1.18 (Debian 12) keeps no prepared
# statement across server connections, so these run with -M extended,
# read against pgbench -M extended direct at the ceiling's first client
# count (swdbx1_C, swdbx10_C).

sweep_names=()
round_names=()
sweep_modes=

# the body of 10 persons the lists of kind 2 hold, for pgbench's dup.sql:
# it puts 'x-<list>-1' for @ID@, so ids "@ID@", "@ID@0" .. "@ID@8" are
# persons 1 and 10 to 18 of the list
dup10_body() {
    local s b=
    for s in '' 0 1 2 3 4 5 6 7 8; do
        b="${b:+$b,}$(sed "s/@ID@/@ID@$s/g" "$template")"
    done
    echo "{\"persons\":[$b]}"
}

# PgBouncer on bouncer_port in front of the bench cluster: transaction
# pooling, $1 server connections, clients trusted (the server's password
# from its auth file).  It refuses to run as root: as postgres then.
bouncer_up() {
    local dir=$run/pgbouncer i
    bouncer_down
    rm -rf "$dir"
    mkdir -p "$dir"
    cat >"$dir/pgbouncer.ini" <<EOF
[databases]
$TEST_NGINX_PG_DB = host=$TEST_NGINX_PG_HOST port=$TEST_NGINX_PG_PORT dbname=$TEST_NGINX_PG_DB

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $dir/users.txt
pool_mode = transaction
default_pool_size = $1
max_client_conn = 1000
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
    printf '"%s" "%s"\n' "$TEST_NGINX_PG_USER" "$TEST_NGINX_PG_PASSWORD" \
        >"$dir/users.txt"
    chmod 600 "$dir/users.txt"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres: "$dir"
        (cd / && runuser -u postgres -- pgbouncer -d "$dir/pgbouncer.ini")
    else
        pgbouncer -d "$dir/pgbouncer.ini"
    fi || die "pgbouncer did not start (see $dir/pgbouncer.log)"
    for i in $(seq 50); do
        port_busy "$bouncer_port" && return 0
        sleep 0.1
    done
    die "pgbouncer does not listen on $bouncer_port"
}

bouncer_down() {
    local f=$run/pgbouncer/pgbouncer.pid i
    [ -s "$f" ] || return 0
    kill -TERM "$(cat "$f")" 2>/dev/null || true
    for i in $(seq 50); do
        [ -e "$f" ] && port_busy "$bouncer_port" || break
        sleep 0.1
    done
    rm -f "$f"
}

# the PgBouncer reference, after the ceilings: its own ceiling (-M
# extended, direct) at the first client count, then each pool size
bouncer_runs() {
    local c=${sweep_clients%% *} p

    [ -n "$sweep_bouncer" ] || return 0
    if ! command -v pgbouncer >/dev/null; then
        note "sweep: no pgbouncer (apt-get install pgbouncer): no PgBouncer reference"
        return 0
    fi

    pgbench_mode=extended pgbench_run "swdbx1_$c" \
        "sweep: pgbench -M extended, 1 new person, $c clients" \
        "$bench/pgbench/new.sql" 1 "$c"
    pgbench_mode=extended pgbench_run "swdbx10_$c" \
        "sweep: pgbench -M extended, 10 in the list, $c clients" \
        "$bench/pgbench/dup.sql" 2 "$c" "$(dup10_body)"
    sweep_names+=("swdbx1_$c" "swdbx10_$c")

    for p in $sweep_bouncer; do
        bouncer_up "$p"
        pgbench_mode=extended pgbench_port=$bouncer_port pgbench_run \
            "swdbb1_$p" "sweep: PgBouncer pool $p, 1 new person, $sweep_conns clients" \
            "$bench/pgbench/new.sql" 1 "$sweep_conns"
        pgbench_mode=extended pgbench_port=$bouncer_port pgbench_run \
            "swdbb10_$p" "sweep: PgBouncer pool $p, 10 in the list, $sweep_conns clients" \
            "$bench/pgbench/dup.sql" 2 "$sweep_conns" "$(dup10_body)"
        sweep_names+=("swdbb1_$p" "swdbb10_$p")
        bouncer_down
    done
}

# cpu_split's pinning undone: the sweep runs on the CPUs of the main table
cpu_unsplit() {
    local all="0-$((ncpu - 1))"
    pg_cpus "$all"
    taskset -a -cp "$all" $$ >/dev/null
}

pool_sweep() {
    local workers=$sweep_workers conns=$sweep_conns c k m
    local ngx_keepalive ngx_max= ngx_adaptive ngx_pipeline=

    cpu_unsplit

    # the ceilings
    for c in $sweep_clients; do
        sweep_pgbench "swdb1_$c" "sweep: pgbench, 1 new person, $c clients" \
            new "$c"
        sweep_names+=("swdb1_$c")
        sweep_pgbench "swdb10_$c" \
            "sweep: pgbench, 10 in the list, $c clients" dup10 "$c"
        sweep_names+=("swdb10_$c")
    done
    bouncer_runs

    # a module built before leadlist_pg_adaptive: its pool as it is
    ngx_keepalive=${sweep_sizes%% *}
    ngx_adaptive=off
    if nginx_accepts; then
        sweep_modes="on off"
    elif grep -q 'unknown directive "leadlist_pg_adaptive"' "$out/.nginx-t"
    then
        note "sweep: this module has no leadlist_pg_adaptive: its pool as it is, no off runs"
        sweep_modes=none
    else
        cat "$out/.nginx-t" >&2
        die "nginx -t failed"
    fi

    for k in $sweep_sizes; do
        for m in $sweep_modes; do
            ngx_keepalive=$k
            ngx_adaptive=$m
            [ "$m" = none ] && ngx_adaptive=
            sweep_pair "$k" "$m"
        done
    done

    # the references: a fixed limit, once each
    for k in $sweep_fixed; do
        ngx_keepalive=$k
        ngx_max=$k
        ngx_adaptive=off
        [ "$sweep_modes" = none ] && ngx_adaptive=
        sweep_pair "$k" fixed
    done

    # and one statement per connection at a time, the pool before
    # leadlist_pg_pipeline (a module without it has no such runs)
    ngx_max=
    ngx_pipeline=1
    for k in $sweep_serial; do
        ngx_keepalive=$k
        ngx_adaptive=on
        [ "$sweep_modes" = none ] && ngx_adaptive=
        if ! nginx_accepts; then
            note "sweep: this module has no leadlist_pg_pipeline: no serial runs"
            break
        fi
        sweep_pair "$k" serial
    done
}

# sweep_pair K M: nginx with the pool directives the caller set, its
# connections and limit settled by a warm-up, then both workloads
sweep_pair() {
    local k=$1 m=$2

    sweep_restart "_sw_${k}_$m" "sww$k$m"

    sweep_load new "sw$k$m"
    sweep_run "sw1_${k}_$m" "$k" "$m" "direct, 1 new person" \
        "${sweep_args[@]}"
    sweep_load dup10
    sweep_run "sw10_${k}_$m" "$k" "$m" "direct, 10 in the list" \
        "${sweep_args[@]}"
}

# sweep_rounds: the sweep's sizes side by side, adaptive on, 1 new person
# a request: each size once a round, then pgbench on the same statement
# with each of the sweep's client counts, for sweep_nrounds rounds of
# round_dur seconds.  The machine's speed moves by more between runs
# minutes apart than the targets' margins (README Performance); within a
# round every configuration meets the same minute, so the targets are
# read from ratios within rounds too (print_rounds).
sweep_rounds() {
    local workers=$sweep_workers conns=$sweep_conns dur=$round_dur r k c
    local ngx_keepalive ngx_max='' ngx_adaptive=on ngx_pipeline=''

    [ "$sweep_nrounds" -gt 0 ] || return 0
    [ "$sweep_modes" = none ] && ngx_adaptive=

    for r in $(seq "$sweep_nrounds"); do
        for k in $sweep_sizes; do
            ngx_keepalive=$k
            sweep_restart "_rd${r}_$k" "rdw${r}x$k"
            sweep_load new "rd${r}x$k"
            split_run "rd${r}_$k" "round $r: 1 new, keepalive $k" \
                "${sweep_args[@]}"
            round_names+=("rd${r}_$k")
        done
        for c in $sweep_clients; do
            sweep_pgbench "rdpg${r}_$c" \
                "round $r: pgbench, 1 new person, $c clients" new "$c"
            round_names+=("rdpg${r}_$c")
        done
    done
}

# sweep_restart NAME PREFIX: nginx restarted with the pool directives the
# caller set, its connections and limit settled by 3 s of 1 new person a
# request (a run NAME, out of the tables; ids made from PREFIX)
sweep_restart() {
    nginx_restart
    sweep_load new "$2"
    wrk_run "$1" warm-up 3 "$conns" "$threads" "${sweep_args[@]}" \
        2>/dev/null
}

# sweep_load KIND [PREFIX]: the sweep's workloads as wrk_run's key=value
# words, in the array sweep_args: new (1 new person a request, its ids
# made from PREFIX) or dup10 (10 persons all already in the list)
sweep_load() {
    if [ "$1" = new ]; then
        sweep_args=(mode=direct kind=1 prefix="$2" added=1)
    else
        sweep_args=(mode=direct kind=2 persons=10 dups=10 added=0)
    fi
}

# sweep_pgbench NAME LABEL KIND CLIENTS: pgbench on the statement and body
# of the sweep's workload KIND (sweep_load), its ceiling
sweep_pgbench() {
    if [ "$3" = new ]; then
        pgbench_run "$1" "$2" "$bench/pgbench/new.sql" 1 "$4"
    else
        pgbench_run "$1" "$2" "$bench/pgbench/dup.sql" 2 "$4" \
            "$(dup10_body)"
    fi
}

# sweep_label NAME: the pool's settings of a sweep run, for its table
sweep_label() {
    local k=${R[$1.keepalive]}
    case ${R[$1.mode]} in
        fixed) echo "fixed limit $k/worker" ;;
        serial) echo "keepalive $k, adaptive on, pipeline 1" ;;
        *) echo "keepalive $k, adaptive ${R[$1.mode]}" ;;
    esac
}

# sweep_run NAME K M LABEL key=value ...: one measured run of the sweep
sweep_run() {
    local name=$1 k=$2 m=$3 label=$4
    shift 4

    split_run "$name" "sweep: $label, keepalive $k, adaptive $m" "$@"
    R[$name.keepalive]=$k
    R[$name.mode]=$m
    sweep_names+=("$name")
}

# split_run NAME LABEL key=value ...: a measured wrk run (dur, conns,
# threads) and the workers' split half way through it
split_run() {
    local name=$1 label=$2
    shift 2

    split_at_half "$name"
    wrk_run "$name" "$label" "$dur" "$conns" "$threads" "$@"
    split_read "$name"
}

# split_at_half NAME: in the background, half way through the run (after
# wrk_run's checkpoint and before its end), the client connections each
# nginx worker holds, largest first ("21/11")
split_at_half() {
    rm -f "$out/$1.split"
    ( sleep $(( dur / 2 + 2 ))
      ss -Htnp state established "( sport = :$port )" 2>/dev/null \
        | grep -o 'pid=[0-9]*' | sort | uniq -c | sort -rn \
        | awk '{ printf "%s%s", (NR > 1 ? "/" : ""), $1 }' \
        >"$out/$1.split" ) &
    split_pid=$!
}

split_read() {
    wait "$split_pid" 2>/dev/null || true
    R[$1.split]=$(cat "$out/$1.split" 2>/dev/null)
    R[$1.split]=${R[$1.split]:--}
}

# sweep_best GLOB [ARRAY]: the best req/s (tps) among the runs whose names
# match GLOB, in the array of run names named ARRAY (sweep_names)
sweep_best() {
    local -n names_=${2:-sweep_names}
    local n b=0
    for n in "${names_[@]}"; do
        # shellcheck disable=SC2053
        [[ $n == $1 ]] || continue
        b=$(awk -v a="${R[$n.rps]}" -v b="$b" 'BEGIN { print (a > b ? a : b) }')
    done
    echo "$b"
}

# sweep_pgbest NAME: pgbench's best tps (-M prepared; -M extended for its
# own rows) on the workload of sweep run NAME (sw1_*, sw10_*, swdb*)
sweep_pgbest() {
    local w
    case $1 in
        swdbb*) w=${1#swdbb} ;;
        swdb*) w=${1#swdb} ;;
        *) w=${1#sw} ;;
    esac
    sweep_best "swdb${w%%_*}_*"
}

print_sweep() {
    local n w m best pgbest r1 r2 p99 miss
    echo
    echo "== pool sweep (issue 11): leadlist_pg_keepalive $sweep_sizes, leadlist_pg_max default,"
    echo "   $sweep_conns HTTP connections (wrk, $threads threads), $sweep_workers workers, PostgreSQL on the same $ncpu CPUs; $dur s per run"
    echo "   adaptive: leadlist_pg_adaptive on/off$([ "$sweep_modes" = none ] && echo '; none: this module has no such directive, its pool as it is')"
    echo
    printf '%-46s %9s %8s %8s %6s %5s %5s %7s %6s %5s %5s  %s\n' \
        run 'req/s' 'p50 ms' 'p99 ms' errors open conn 'conn/s' split /best \
        /pg targets
    for n in "${sweep_names[@]}"; do
        case $n in
            swdb*)
                # PgBouncer's: /pg against the same ceiling as the module's
                r2=-
                case $n in
                    swdbb*)
                        pgbest=$(sweep_pgbest "$n")
                        r2=$(awk -v a="${R[$n.rps]}" -v b="$pgbest" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }') ;;
                esac
                printf '%-46s %9.1f %8s %8s %6s %5s %5s %7s %6s %5s %5s\n' \
                    "${R[$n.label]#sweep: }" "${R[$n.rps]}" \
                    "$(ms "${R[$n.p50_us]}")" "$(ms "${R[$n.p99_us]}")" \
                    "${R[$n.errors]}" - - - - - "$r2"
                continue ;;
        esac

        w=${n%%_*}                      # sw1 or sw10
        m=${R[$n.mode]}
        best=$(sweep_best "${w}_*_$m")
        pgbest=$(sweep_pgbest "$n")
        r1=$(awk -v a="${R[$n.rps]}" -v b="$best" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
        r2=$(awk -v a="${R[$n.rps]}" -v b="$pgbest" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')

        # issue 11's targets: direct 1 person >= 0.9 x the best of its
        # sweep and >= 0.7 x pgbench's best; p99 <= 15 ms and no connects
        # after warm-up for every run
        miss=
        p99=${R[$n.p99_us]}
        if [ "$m" = fixed ] || [ "$m" = serial ]; then
            miss=" (reference)"
        elif [ "$w" = sw1 ]; then
            awk -v r="$r1" 'BEGIN { exit !(r < 0.9) }' && miss="$miss /best<0.9"
            awk -v r="$r2" 'BEGIN { exit !(r < 0.7) }' && miss="$miss /pg<0.7"
        fi
        if [ "$m" != fixed ] && [ "$m" != serial ]; then
            [ "$p99" -gt 15000 ] && miss="$miss p99>15ms"
            [ "${R[$n.connects_late]}" -gt 0 ] && miss="$miss connects"
        fi
        [ "${R[$n.errors]}" -gt 0 ] && miss="$miss errors"

        printf '%-46s %9.1f %8s %8s %6s %5s %5s %7s %6s %5s %5s %s\n' \
            "$(sweep_row_label "$n")" \
            "${R[$n.rps]}" "$(ms "${R[$n.p50_us]}")" \
            "$(ms "$p99")" "${R[$n.errors]}" "${R[$n.backends]}" \
            "${R[$n.connects]}" "${R[$n.cps]}" "${R[$n.split]}" "$r1" "$r2" \
            "${miss:- ok}"
    done
    cat <<'EOF2'

   open: the module's connections open at the end of the run (all workers); conn: connections PostgreSQL
   accepted for the module during the run (log_connections), after a 3 s warm-up with the same settings;
   conn/s: per second from the run's 4th second on (a new wrk's clients fall on the workers anew, and a
   worker given more than in the warm-up connects for them once, at the start); the target counts these
   split: wrk's connections held by each nginx worker half way through the run (the kernel hands them out)
   fixed limit N/worker: leadlist_pg_keepalive = leadlist_pg_max = N, adaptive off; for reference, no targets;
   its /best is against the best fixed run
   pipeline 1: keepalive N, adaptive on, leadlist_pg_pipeline 1 (one statement per connection at a time, the
   pool before pipelining); for reference, no targets
   /best: req/s / the best of the same workload and adaptive setting over the sweep; /pg: req/s / the best
   pgbench tps (-M prepared) of the same statement and body; targets (issue 11): 1 new person /best >= 0.9
   and /pg >= 0.7, every run p99 <= 15 ms, no connects, no errors
   PgBouncer pool P: pgbench with the sweep's clients through PgBouncer (transaction pooling, P server
   connections), -M extended (PgBouncer 1.18 keeps no prepared statements); its own ceiling: the
   -M extended rows
EOF2
    print_sweep_cpu
}

# print_sweep_cpu: what each sweep run cost the machine per request, and
# the req/s those costs allow with every CPU busy: nginx, PostgreSQL and
# the load generator share the same CPUs, so a run's ceiling against
# pgbench's best bounds its /pg whatever the pool does
print_sweep_cpu() {
    local n total pgbest
    echo
    echo "== the sweep's CPU per request (us) and the ceiling it sets"
    echo
    printf '%-46s %9s %6s %6s %6s %6s %5s %8s %5s %7s\n' \
        run 'req/s' ngx pg gen total busy ceiling /ceil ceil/pg
    for n in "${sweep_names[@]}"; do
        [[ $n == swdbb* ]] && continue
        pgbest=$(sweep_pgbest "$n")
        total=$(( R[$n.ng_us] + R[$n.pg_us] + R[$n.lg_us] ))
        awk -v label="$(sweep_row_label "$n")" -v r="${R[$n.rps]}" \
            -v ng="${R[$n.ng_us]}" -v pg="${R[$n.pg_us]}" \
            -v lg="${R[$n.lg_us]}" -v t="$total" -v cpu="${R[$n.cpu]}" \
            -v o="${R[$n.other]}" -v ncpu="$ncpu" -v best="$pgbest" '
            BEGIN {
                split(cpu, c, "/")
                busy = c[1] + c[2] + c[3] + o
                ceil = (t > 0 ? ncpu * 1e6 / t : 0)
                printf "%-46s %9.1f %6d %6d %6d %6d %5.2f %8.0f %5.2f %7.2f\n",
                    label, r, ng, pg, lg, t, busy, ceil,
                    (ceil > 0 ? r / ceil : 0), (best > 0 ? ceil / best : 0)
            }'
    done
    cat <<'EOF2'

   ngx, pg, gen: CPU time per request of the nginx workers, of all PostgreSQL processes and of the load
   generator (wrk or pgbench); total: their sum; busy: CPUs busy on average during the run, the three and
   anything else (the kernel's work outside them, other jobs)
   ceiling: CPUs x 1e6 / total, the req/s of these costs with every CPU busy; /ceil: req/s / ceiling;
   ceil/pg: ceiling / pgbench's best tps of the same workload, the highest /pg these costs allow
   (PgBouncer's runs are left out: its CPU is in none of the three); pgbench's pg includes its clients'
   connections (a backend's start and SCRAM), which its tps leaves out: short runs show /ceil above 1
EOF2
}

# print_rounds: each size's medians over the rounds, and its req/s over
# the best size's and over pgbench's best in the same round (lowest,
# median, highest): issue 11's targets read within rounds
print_rounds() {
    local k c r n rps p99 rb rp splits miss
    [ "$sweep_nrounds" -gt 0 ] || return 0
    echo
    echo "== the sizes side by side: $sweep_nrounds rounds of $round_dur s, each size once a round,"
    echo "   then pgbench with $sweep_clients clients; 1 new person, adaptive on$([ "$sweep_modes" = none ] && echo ' (this module: its pool as it is)')"
    echo
    printf '%-34s %9s %8s %16s %16s  %-18s %s\n' run 'req/s' 'p99 ms' \
        '/best lo med hi' '/pg lo med hi' 'splits' targets
    for k in $sweep_sizes; do
        rps=() p99=() rb=() rp=() splits=
        for r in $(seq "$sweep_nrounds"); do
            n=rd${r}_$k
            rps+=("${R[$n.rps]}")
            p99+=("${R[$n.p99_us]}")
            rb+=("$(round_over "$n" "rd${r}_*")")
            rp+=("$(round_over "$n" "rdpg${r}_*")")
            splits="$splits${splits:+ }${R[$n.split]}"
        done
        miss=
        awk -v r="$(median "${rb[@]}")" 'BEGIN { exit !(r < 0.9) }' && miss="$miss /best<0.9"
        awk -v r="$(median "${rp[@]}")" 'BEGIN { exit !(r < 0.7) }' && miss="$miss /pg<0.7"
        awk -v u="$(median "${p99[@]}")" 'BEGIN { exit !(u > 15000) }' && miss="$miss p99>15ms"
        printf '%-34s %9.1f %8s %16s %16s  %-18s %s\n' \
            "1 new, keepalive $k" \
            "$(median "${rps[@]}")" "$(ms "$(median "${p99[@]}")")" \
            "$(spread "${rb[@]}")" "$(spread "${rp[@]}")" "$splits" \
            "${miss:- ok}"
    done
    for c in $sweep_clients; do
        rps=() p99=()
        for r in $(seq "$sweep_nrounds"); do
            rps+=("${R[rdpg${r}_$c.rps]}")
            p99+=("${R[rdpg${r}_$c.p99_us]}")
        done
        printf '%-34s %9.1f %8s\n' "pgbench, $c clients" \
            "$(median "${rps[@]}")" "$(ms "$(median "${p99[@]}")")"
    done
    cat <<'EOF2'

   req/s, p99: medians over the rounds; /best: req/s over the best size's in the same round; /pg: over
   pgbench's best client count in the same round; lowest, median and highest over the rounds; splits:
   wrk's connections per worker in each round; targets (issue 11), from the medians: /best >= 0.9,
   /pg >= 0.7, p99 <= 15 ms
EOF2
}

# round_over NAME GLOB: round run NAME's req/s over the best of the round
# runs that match GLOB
round_over() {
    awk -v a="${R[$1.rps]}" -v b="$(sweep_best "$2" round_names)" \
        'BEGIN { print (b > 0 ? a / b : 0) }'
}

# sweep_row_label NAME: a sweep run's name in the tables
sweep_row_label() {
    case $1 in
        swdb*) echo "${R[$1.label]#sweep: }" ;;
        sw1_*) echo "1 new, $(sweep_label "$1")" ;;
        *) echo "10 in list, $(sweep_label "$1")" ;;
    esac
}


# ------------------------------------------------------------------ report

print_header() {
    local title=$1
    echo
    echo "== $title"
    echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- src ngx_http_leadlist_module.c sql 2>/dev/null || echo ' (+ uncommitted changes in src/ or sql/)')"
    echo "   $ncpu CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average at start: $load_start"
    echo "   nginx $("$nginx_bin" -v 2>&1 | sed 's/.*nginx\///'); PostgreSQL $(spsql -Atc 'SHOW server_version' | cut -d' ' -f1) (fsync off, synchronous_commit off, shared_buffers 1GB)"
    echo "   catalogue $(printf "%'d" "$rows") persons; $orgs organizations, $cold more without copies; $dur s per run"
    [ "$only" = sweep ] && return
    echo "   main table: $workers nginx worker(s), $conns HTTP connections (wrk, $threads threads), $pgconns PostgreSQL connections (leadlist_pg_keepalive = leadlist_pg_max = $((pgconns / workers)) per worker; pgbench -c $pgconns -j $threads -M prepared)"
    echo "   split: PostgreSQL on CPU $((ncpu - 1)), nginx and the load generators on CPU 0$([ "$ncpu" -gt 2 ] && echo "-$((ncpu - 2))")"
}

print_table() {
    local n dbr hr lbl
    printf '\n%-52s %9s %8s %8s %8s %7s %6s %6s %7s %7s %15s %6s\n' \
        run 'req/s' 'p50 ms' 'p99 ms' 'max ms' errors '/DB' '/HTTP' \
        'ngx us' 'pg us' 'cpu ngx/pg/gen' others
    for n in "${names[@]}"; do
        # the sweep's runs and its rounds have tables of their own
        # (print_sweep, print_rounds)
        [ "${n#sw}" = "$n" ] && [ "${n#rd}" = "$n" ] || continue
        dbr=-
        hr=-
        case $n in
            A|D|sA|sD) dbr=$(ratio "$n" "${n}db") ;;
        esac
        case $n in
            A|B|C1|C2|D|M) hr=$(ratio "$n" H) ;;
            sA|sD) hr=$(ratio "$n" sH) ;;
        esac
        lbl=${R[$n.label]}
        [ ${#lbl} -gt 52 ] && lbl=${lbl:0:51}~
        printf '%-52s %9.1f %8s %8s %8s %7s %6s %6s %7s %7s %15s %6s\n' \
            "$lbl" "${R[$n.rps]}" "$(ms "${R[$n.p50_us]}")" \
            "$(ms "${R[$n.p99_us]}")" "$(ms "${R[$n.max_us]}")" \
            "${R[$n.errors]}" "$dbr" "$hr" "${R[$n.ng_us]}" "${R[$n.pg_us]}" \
            "${R[$n.cpu]}" "${R[$n.other]}"
    done
    cat <<'EOF2'

   errors: non-2xx answers + socket errors (wrk), failed transactions (pgbench)
   /DB: module req/s / pgbench tps of the same statement; /HTTP: module req/s / HTTP limit
   ngx us, pg us: CPU time per request of the nginx worker(s) and of all PostgreSQL processes
   cpu ngx/pg/gen: CPUs busy on average with nginx, PostgreSQL and the load generator (wrk or pgbench)
   others: CPUs busy on average with anything else on the machine during the run (other jobs, kernel)
EOF2
}
