#!/usr/bin/env bash
#
# What the kernel's split of wrk's connections between the nginx workers
# costs, and whether more statements on the busier worker would help: the
# sweep's "1 new person" (32 connections, 2 workers, PostgreSQL on the same
# CPUs) with a fixed limit per worker (leadlist_pg_keepalive =
# leadlist_pg_max = N, adaptive off) for each N of BENCH_SPLIT_LIMITS, once
# with the split the kernel picks and once with all 32 connections on one
# worker (the other is stopped while wrk connects, BENCH_SPLIT_STOP
# seconds), in BENCH_SPLIT_ROUNDS alternating rounds.
#
#   bench/split.sh            (10 s runs; BENCH_SECONDS, BENCH_SPLIT_LIMITS
#                              default "3 6", BENCH_SPLIT_ROUNDS default 2)
#
# A forced run's p99 and max include the stop: the stopped worker also
# holds some of the auth stand-in's upstream connections.  Compare req/s.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

dur=${BENCH_SECONDS:-10}
limits=${BENCH_SPLIT_LIMITS:-3 6}
rounds=${BENCH_SPLIT_ROUNDS:-2}
stop_for=${BENCH_SPLIT_STOP:-0.3}

stack_up
cpu_unsplit

workers=$sweep_workers
conns=$sweep_conns

# the second worker sleeps while wrk opens its connections
stop_second_worker() {
    local w
    w=$(pgrep -P "$(cat "$run/nginx.pid")" | tail -1)
    kill -STOP "$w"
    ( sleep "$stop_for"; kill -CONT "$w" ) &
}

split_rows=()
for r in $(seq "$rounds"); do
    for n in $limits; do
        ngx_keepalive=$n
        ngx_max=$n
        ngx_adaptive=off
        for how in kernel one; do
            sweep_restart "_s$r$n$how" "sw$r$n$how"
            name=s${r}_${n}_$how
            wrk_before=
            [ "$how" = one ] && wrk_before=stop_second_worker
            sweep_load new "s$r$n$how"
            split_run "$name" "fixed $n/worker, split: $how, round $r" \
                "${sweep_args[@]}"
            wrk_before=
            split_rows+=("$name")
        done
    done
done

echo
echo "== the workers' split: 1 new person, $conns connections, $workers workers, ${dur} s per run, $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
printf '%-44s %7s %9s %8s %8s  %s\n' run split 'req/s' 'p50 ms' 'p99 ms' 'cpu ngx/pg/gen'
for n in "${split_rows[@]}"; do
    printf '%-44s %7s %9.1f %8s %8s  %s\n' "${R[$n.label]}" "${R[$n.split]}" \
        "${R[$n.rps]}" "$(ms "${R[$n.p50_us]}")" "$(ms "${R[$n.p99_us]}")" \
        "${R[$n.cpu]}"
done
echo "   split: wrk's connections per worker half way through the run; one: the second worker was stopped"
echo "   for ${stop_for} s while wrk connected (its p99 and max include that stop)"
