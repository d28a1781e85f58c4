#!/usr/bin/env bash
#
# Where the nginx worker spends its CPU: perf (software clock, so that it
# works in VMs without PMU access) on the worker while wrk runs workload A
# (1 new person per request), B (100 persons) and the HTTP limit; prints
# the hottest symbols by self time and by shared object.
#
#   bench/profile.sh            (BENCH_QUICK=1 for the 100,000-person catalogue)
#   PROFILE_SECONDS=10          length of each profile
#   PROFILE_CALLGRAPH=1         also record call graphs (dwarf; big files)
#
# Same stack and settings as bench/run.sh (bench/lib.sh).  perf.data files
# are left in build/bench/out.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

secs=${PROFILE_SECONDS:-10}

command -v perf >/dev/null || die "no perf (apt-get install linux-perf)"
stack_up
nginx_up

wrk_run _W1 "warm-up" 3 "$conns" "$threads" mode=direct kind=1 prefix=w \
    added=1 2>/dev/null

# profile NAME key=value ...: wrk for secs + 2 seconds, perf for secs
profile() {
    local name=$1 pid wpid g=
    shift
    [ "${PROFILE_CALLGRAPH:-0}" = 1 ] && g="--call-graph dwarf,16384"
    note "profile $name"
    wrk -t"$threads" -c"$conns" -d"$((secs + 2))s" --timeout 60s \
        -s "$bench/wrk/leadlist.lua" "http://127.0.0.1:$port" \
        -- threads="$threads" template="$template" orgs="$orgs" \
           lists="$lists" fresh="$fresh" "$@" >"$out/$name.wrk" 2>&1 &
    wpid=$!
    sleep 1
    # shellcheck disable=SC2086
    perf record -q -e cpu-clock $g -o "$out/$name.perf.data" \
        -p "$(echo $nginx_workers | tr ' ' ',')" -- sleep "$secs" \
        >/dev/null 2>&1 || true
    wait "$wpid" || true
    grep '^RESULT' "$out/$name.wrk" | sed 's/^RESULT/   wrk:/'

    echo "-- $name: by shared object"
    perf report -i "$out/$name.perf.data" --stdio --no-children \
        --sort dso 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12
    echo "-- $name: hottest symbols (self)"
    perf report -i "$out/$name.perf.data" --stdio --no-children \
        --sort dso,symbol -g none 2>/dev/null | grep -v '^#' \
        | grep -v '^$' | head -40
    echo
}

profile A mode=direct kind=1 prefix=pa added=1
profile B mode=direct kind=2 persons=100 dups=50 prefix=pb \
    added=50
profile H mode=direct kind=1 prefix=ph path=/bench/http-limit \
    added=1

# syscalls NAME REQUESTS key=value ...: strace -c on the worker while wrk
# sends REQUESTS requests; system calls per request
syscalls() {
    local name=$1 n=$2 spid
    shift 2
    command -v strace >/dev/null || return 0
    note "system calls $name"
    # shellcheck disable=SC2046
    strace -c -o "$out/$name.strace" $(printf -- '-p %s ' $nginx_workers) \
        2>/dev/null &
    spid=$!
    sleep 0.5
    wrk_run "_S$name" "syscalls" 300 "$conns" "$threads" \
        stop=$((n / threads)) "$@" 2>/dev/null
    kill -INT "$spid" 2>/dev/null || true
    wait "$spid" || true
    echo "-- $name: system calls per request (strace -c, ${R[_S$name.requests]} requests)"
    awk -v n="${R[_S$name.requests]}" '
        $1 ~ /^[0-9.]+$/ && NF >= 5 {
            name = $NF; calls = $4
            if (calls ~ /^[0-9]+$/) printf "   %-16s %6.2f\n", name, calls / n
        }' \
        "$out/$name.strace"
    echo
}

if [ "${PROFILE_STRACE:-1}" = 1 ]; then
    syscalls A 4000 mode=direct kind=1 prefix=sa added=1
    syscalls H 4000 mode=direct kind=1 prefix=sh path=/bench/http-limit \
        added=1
fi
