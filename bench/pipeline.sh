#!/usr/bin/env bash
#
# What PostgreSQL does with the module's statement when its client keeps
# several statements in flight on one connection (libpq's pipeline mode,
# a Sync after each statement, so that each is still its own transaction)
# instead of one statement per connection at a time, as pgbench and the
# module do: the sweep's ceiling, read against clients that pipeline.
#
# For "1 new person" and "10 persons already in the list", in
# BENCH_PIPELINE_ROUNDS alternating rounds (each round against its own
# pgbench): pgbench (prepared) at BENCH_PIPELINE_CLIENTS clients (the
# sweep's 8 and 32, and 2: one per CPU), then
# bench/pipeline_bench.c with CONNSxDEPTH for each of BENCH_PIPELINE_RUNS
# (DEPTH 1: one statement per connection at a time, the pgbench way).
# PostgreSQL on the same 2 CPUs as in the sweep; no nginx.
#
#   bench/pipeline.sh     (10 s runs; BENCH_SECONDS, BENCH_PIPELINE_ROUNDS
#                          default 2, BENCH_PIPELINE_CLIENTS default
#                          "2 8 32", BENCH_PIPELINE_RUNS default
#                          "2x1 4x1 8x1 2x2 2x4 4x2")

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

dur=${BENCH_SECONDS:-10}
rounds=${BENCH_PIPELINE_ROUNDS:-2}
clients=${BENCH_PIPELINE_CLIENTS:-2 8 32}
runs=${BENCH_PIPELINE_RUNS:-2x1 4x1 8x1 2x2 2x4 4x2}

stack_up
cpu_unsplit

cc -O2 -Wall -Wextra -I"$(pg_config --includedir)" \
    "$bench/pipeline_bench.c" -lpq -o "$out/pipeline_bench" \
    || die "could not build bench/pipeline_bench.c"

echo "{\"persons\":[$(cat "$template")]}" >"$out/new.json"
dup10_body >"$out/dup10.json"

# pipeline_run NAME LABEL CONNS DEPTH KIND BODY: as pgbench_run, with
# bench/pipeline_bench.c as the client (lib.sh's client_begin/_end)
pipeline_run() {
    local name=$1 label=$2 c=$3 d=$4 kind=$5 body=$6 log kv kvs
    log=$out/$name.pipe

    client_begin "$name" "$label" "$kind" "${dur}s"
    pg_client "$TEST_NGINX_PG_PORT" \
        "$out/pipeline_bench" "" "$c" "$d" "$dur" "$body" "$kind" \
            "$orgs" "$lists" >"$log" 2>&1 &
    wait $! || { cat "$log" >&2; die "pipeline_bench failed in $name"; }
    client_end

    read -ra kvs <"$log"
    for kv in "${kvs[@]}"; do
        case $kv in
            statements=*) R[$name.requests]=${kv#*=} ;;
            tps=*) R[$name.rps]=${kv#*=} ;;
            p50_us=*|p90_us=*|p99_us=*|max_us=*) R[$name.${kv%%=*}]=${kv#*=} ;;
            failed=*) R[$name.errors]=${kv#*=} ;;
        esac
    done
    [ -n "${R[$name.rps]:-}" ] || { cat "$log" >&2; die "no figures in $name"; }
    acct_end "$name"
    summary_line "$name" >&2
}

# the best pgbench of a round and workload: best_of NAME...
best_of() {
    local n b=
    for n in "$@"; do
        if [ -z "$b" ] || awk -v a="${R[$n.rps]}" -v b="${R[$b.rps]}" \
                              'BEGIN { exit !(a > b) }'; then
            b=$n
        fi
    done
    echo "$b"
}

rows=()
for r in $(seq "$rounds"); do
    for w in 1 10; do
        if [ "$w" = 1 ]; then
            kind=1 script=new.sql body=$out/new.json what="1 new person"
        else
            kind=2 script=dup.sql body=$out/dup10.json
            what="10 in the list"
        fi

        refs=()
        for c in $clients; do
            name=r${r}w${w}pgb$c
            pgbench_run "$name" "round $r, $what: pgbench, $c clients" \
                "$bench/pgbench/$script" "$kind" "$c" "$(cat "$body")"
            refs+=("$name")
        done
        best=$(best_of "${refs[@]}")
        for n in "${refs[@]}"; do
            R[$n.best]=$best
        done
        rows+=("${refs[@]}")

        for spec in $runs; do
            name=r${r}w${w}p$spec
            pipeline_run "$name" \
                "round $r, $what: ${spec%x*} connections x ${spec#*x} in flight" \
                "${spec%x*}" "${spec#*x}" "$kind" "$body"
            R[$name.best]=$best
            rows+=("$name")
        done
    done
done

echo
echo "== the module's statement, pipelined or not, $(git -C "$root" rev-parse --short HEAD 2>/dev/null), ${dur}s runs, $(nproc) CPUs"
printf '%-52s %9s %8s %8s %7s %7s %7s\n' run "tps" "p50 ms" "p99 ms" "pg us" "cl us" "÷ best"
for n in "${rows[@]}"; do
    printf '%-52s %9.0f %8s %8s %7s %7s %7s\n' "${R[$n.label]}" "${R[$n.rps]}" \
        "$(ms "${R[$n.p50_us]}")" "$(ms "${R[$n.p99_us]}")" \
        "${R[$n.pg_us]}" \
        "$(awk -v c="${R[$n.cpu]##*/}" -v r="${R[$n.rps]}" \
               'BEGIN { printf "%.0f", c / r * 1e6 }')" \
        "$(ratio "$n" "${R[$n.best]}")"
done
echo "   tps: statements per second; pg us, cl us: CPU per statement of all"
echo "   PostgreSQL processes and of the client (pgbench or pipeline_bench);"
echo "   ÷ best: against the best pgbench of the same round and workload;"
echo "   errors in any run are in the lines above the table"
