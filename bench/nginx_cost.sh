#!/usr/bin/env bash
#
# Instructions nginx spends per request (callgrind), for the HTTP limit
# (H) and for workloads A (1 new person) and D (1 person already in the
# list) of bench/run.sh, and for the sweep's 10 persons already in the list
# (D10), and the system calls nginx makes per request (perf, when it is
# installed): figures that the load of a shared machine does not move, to
# compare two builds of the module (run the script in each checkout, with
# the same catalogue size).
#
#   bench/nginx_cost.sh               (BENCH_QUICK=1: 100,000 persons)
#   COST_REQUESTS=2000                requests measured per workload
#
# One nginx process (master_process off) under valgrind --tool=callgrind,
# the auth stand-in in the same process as in bench/run.sh, so that each
# figure includes the auth subrequest and its upstream; subtract H for the
# module's own.  wrk, one connection, stops after the given number of
# answers; counters are zeroed after a warm-up of each workload.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

n=${COST_REQUESTS:-2000}
warm=200

command -v callgrind_control >/dev/null || die "no callgrind_control (valgrind)"
check_tools
rm -rf "$out"
mkdir -p "$out"

vg_pid=
cost_down() {
    [ -n "$vg_pid" ] && kill -TERM "$vg_pid" 2>/dev/null && wait "$vg_pid"
    "$root/util/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true
}
trap cost_down EXIT
trap 'exit 130' INT TERM

pg_up
pg_fixtures

workers=1
ngx_keepalive=16
ngx_max=16
nginx_conf
sed -i '1a daemon off;\nmaster_process off;' "$run/nginx.conf"
: >"$run/logs/error.log"
"$nginx_bin" -t -q -p "$run" -c "$run/nginx.conf" || die "nginx -t failed"

valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.%p" \
    "$nginx_bin" -p "$run" -c "$run/nginx.conf" 2>"$out/valgrind.log" &
vg_pid=$!

for _ in $(seq 300); do
    port_busy "$port" && break
    sleep 0.1
done
port_busy "$port" || die "nginx under callgrind did not start"

# requests NAME COUNT key=value ...: COUNT answers on one connection
requests() {
    local name=$1 count=$2 stopdir=$out/$1.stopped pid
    shift 2
    rm -rf "$stopdir"
    mkdir -p "$stopdir"
    wrk -t1 -c1 -d600s --timeout 60s -s "$bench/wrk/leadlist.lua" \
        "http://127.0.0.1:$port" -- threads=1 template="$template" \
        orgs="$orgs" lists="$lists" fresh="$fresh" stop="$count" \
        stopfile="$stopdir/t" "$@" >"$out/$name.wrk" 2>&1 &
    pid=$!
    while kill -0 "$pid" 2>/dev/null && ! all_stopped "$stopdir" 1; do
        sleep 0.2
    done
    sleep 0.2
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" || true
    grep -q '^RESULT .* sock_errors=0 non2xx=0 bad=0 ' "$out/$name.wrk" \
        || die "$name: bad answers (see $out/$name.wrk)"
}

# callgrind_control ARGS: valgrind reads its commands only while the
# program runs, so one more request wakes nginx up from epoll_wait (it
# counts in the next figure: 1 in COST_REQUESTS)
control() {
    local pid
    callgrind_control "$@" "$vg_pid" >/dev/null &
    pid=$!
    sleep 0.5
    while kill -0 "$pid" 2>/dev/null; do
        curl -s -o /dev/null "http://127.0.0.1:$port/none" || true
        sleep 0.5
    done
    wait "$pid"
}

# the system calls of nginx's event loop, counted by perf's tracepoints
# (valgrind makes them for nginx; its own are none of these)
syscalls="epoll_wait epoll_ctl accept4 recvfrom readv writev sendto sendmsg
          getsockopt setsockopt ioctl close"

# count_syscalls NAME: perf stat on nginx until stop_syscalls
perf_pid=
count_syscalls() {
    local ev= s
    command -v perf >/dev/null || return 0
    for s in $syscalls; do
        ev=$ev${ev:+,}syscalls:sys_enter_$s
    done
    perf stat -x, -e "$ev" -p "$vg_pid" -o "$out/$1.syscalls" &
    perf_pid=$!
    sleep 0.5
}

# stop_syscalls: perf writes its counts
stop_syscalls() {
    [ -n "$perf_pid" ] || return 0
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    perf_pid=
}

# syscall_total NAME: the count per request, "-" without perf
syscall_total() {
    if [ ! -f "$out/$1.syscalls" ]; then
        echo "-"
        return
    fi
    awk -F, -v n="$n" '$3 ~ /sys_enter_/ { t += $1 }
        END { printf "%.2f", t / n }' "$out/$1.syscalls"
}

# the calls behind the count, per request: "recvfrom 4.00 writev 3.00 ..."
syscall_detail() {
    [ -f "$out/$1.syscalls" ] || return 0
    awk -F, -v n="$n" '$3 ~ /sys_enter_/ && $1 / n >= 0.005 {
            sub(/.*sys_enter_/, "", $3)
            printf " %s %.2f", $3, $1 / n
        }' "$out/$1.syscalls"
}

# cost NAME LABEL key=value ...: instructions and system calls per request
# of one workload
cost() {
    local name=$1 label=$2 total calls
    shift 2
    requests "_$name" "$warm" "$@" prefix="w$name"
    control -z
    count_syscalls "$name"
    requests "$name" "$n" "$@"
    stop_syscalls
    calls=$(syscall_total "$name")
    control -d "$name"
    total=$(awk '/^(summary|totals):/ { print $2; exit }' \
                "$(find "$out" -name "callgrind.*" -newer "$out/_$name.wrk" | sort | tail -1)")
    printf '%-44s %12s %9s\n' "$label" \
        "$(awk -v t="$total" -v n="$n" 'BEGIN { printf "%.0f", t / n }')" \
        "$calls"
    details="$details$(printf '%-4s' "$name")$(syscall_detail "$name")
"
}

echo
echo "== nginx instructions per request (callgrind), $(git -C "$root" rev-parse --short HEAD 2>/dev/null), $n requests each, 1 connection"
printf '%-44s %12s %9s\n' "request" "instructions" "syscalls"
details=
cost H "H  auth subrequest + return 200" mode=direct kind=1 prefix=ch \
    path=/bench/http-limit added=1
cost A "A  direct, 1 new person" mode=direct kind=1 prefix=ca added=1
cost D "D  direct, 1 person already in the list" mode=direct kind=3 \
    persons=1 dups=1 added=0
cost D10 "D10 direct, 10 persons already in the list" mode=direct kind=2 \
    persons=10 dups=10 added=0

if [ -n "$details" ]; then
    echo "   syscalls: system calls of the nginx process per request (perf), by call:"
    printf '%s' "$details" | sed 's/^/   /'
fi
