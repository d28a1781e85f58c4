#!/usr/bin/env bash
#
# make bench: the module against its limits.
#
#   bench/run.sh                  1,000,000 persons, 30 s per run (~20 min,
#                                 half of it the pool sweep; the first run
#                                 also loads the catalogue)
#   BENCH_QUICK=1 bench/run.sh    100,000 persons, 5 s per run (~6 min)
#
# Starts everything itself: a PostgreSQL cluster in build/bench-pg (kept,
# so that the catalogue is loaded once; util/pg.sh destroy build/bench-pg
# removes it), the migrations, the catalogue (bench/catalogue.sql), the
# tenants (bench/fixtures.sql, reset each run), and nginx with the module
# on 127.0.0.1:18180 with an auth stand-in on 18181 (bench/lib.sh).  Then,
# all at the same concurrency and with the same number of PostgreSQL
# connections:
#
#   H    the HTTP limit: the same nginx answering after the same auth
#        subrequest, without the module
#   A    direct mode, 1 new person per request, over 1,024 lists
#   Adb  the database limit of A: pgbench, the module's statement and
#        parameters
#   D    direct mode, 1 person already in the list;  Ddb  its database limit
#   B    direct mode, 100 persons, 50 of them already in the list
#   C1   bulk: selectAll limit 1000 with a filter matching a few percent,
#        each request into a fresh list;  C2  the same with the search {}
#   M    100,000 requests of A, the nginx worker's RSS before and after
#   L1-3 bulk latency, one connection (as bench/bulk_latency.sh)
#   s*   H, A, Adb, D and Ddb again with PostgreSQL on a CPU of its own
#        (cpu_split in bench/lib.sh; BENCH_SPLIT=0 skips them)
#
# and prints one table.  Then the pool sweep (issue 11, pool_sweep in
# bench/lib.sh): leadlist_pg_keepalive 4, 16 and 32 with leadlist_pg_max
# at its default, the adaptive limit on and off, at 32 HTTP connections
# over 2 workers: direct 1 new person and 10 persons already in the list,
# against pgbench of the same statement at 8 and 32 clients; its own table.
# Last, the sizes side by side (sweep_rounds): each size with the limit on
# once a round, then pgbench, for BENCH_ROUNDS rounds (default 3) of
# BENCH_ROUND_SECONDS (10), and issue 11's targets read within rounds,
# where every configuration meets the same minute of a shared machine.
#
#   BENCH_ONLY=sweep bench/run.sh          the sweep alone (BENCH_ONLY=main:
#                                          the main table alone)
#   BENCH_SECONDS=5 bench/run.sh           5 s per run
#
# Settings: see bench/lib.sh.  Logs of each run are in build/bench/out.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(date +%s)
stack_up

# the main table's runs, on one worker (BENCH_WORKERS)
main_runs() {
    nginx_up

    w="$dur $conns $threads"

    # opens and prepares the pool's connections, the auth upstream's keepalive
    wrk_run _W1 "warm-up" 3 "$conns" "$threads" mode=direct kind=1 prefix=w \
        added=1 2>/dev/null
    wrk_run _W2 "warm-up" 2 "$conns" "$threads" mode=direct kind=1 prefix=w2 \
        path=/bench/http-limit added=1 2>/dev/null
    rss_start=$(rss_kb)

    # shellcheck disable=SC2086
    {
    wrk_run H "HTTP limit: auth subrequest + return 200" $w \
        mode=direct kind=1 prefix=h path=/bench/http-limit added=1

    wrk_run A "A  direct, 1 new person" $w \
        mode=direct kind=1 prefix=a added=1
    pgbench_run Adb "A  database limit (pgbench, same statement)" \
        "$bench/pgbench/new.sql" 1

    wrk_run D "D  direct, 1 person already in the list" $w \
        mode=direct kind=3 persons=1 dups=1 added=0
    pgbench_run Ddb "D  database limit (pgbench, same statement)" \
        "$bench/pgbench/dup.sql" 3

    wrk_run B "B  direct, 100 persons, 50 already in the list" $w \
        mode=direct kind=2 persons=100 dups=50 prefix=b \
        added=50

    match=$(spsql -Atc "SELECT round(100.0 * count(*) / $rows, 1)
                          FROM global.persons AS p
                         WHERE p.search_seniority = ANY ('{vp,c-level}')
                           AND p.search_country = ANY ('{united states}')")

    wrk_run C1 "C  bulk 1000, filter ($match%), fresh lists" $w \
        mode=bulk kind=4 search=filter added=1000
    wrk_run C2 "C  bulk 1000, {}, fresh lists" $w \
        mode=bulk kind=5 search=all added=1000

    rss_before=$(rss_kb)
    hwm_before=$(hwm_kb)
    wrk_run M "M  A again, $rss_requests requests (RSS)" 900 "$conns" "$threads" \
        mode=direct kind=1 prefix=m stop=$((rss_requests / threads)) \
        added=1
    rss_after=$(rss_kb)
    hwm_after=$(hwm_kb)

    bulk_latency "$dur"

    if [ "${BENCH_SPLIT:-1}" = 1 ] && [ "$ncpu" -ge 2 ]; then
        cpu_split
        wrk_run sH "H  split: HTTP limit" $w \
            mode=direct kind=1 prefix=sh path=/bench/http-limit added=1
        wrk_run sA "A  split: direct, 1 new person" $w \
            mode=direct kind=1 prefix=sa added=1
        pgbench_run sAdb "A  split: database limit" "$bench/pgbench/new.sql" 1
        wrk_run sD "D  split: direct, 1 person already in the list" $w \
            mode=direct kind=3 persons=1 dups=1 added=0
        pgbench_run sDdb "D  split: database limit" "$bench/pgbench/dup.sql" 3
    fi
    }

    rss_end=$(rss_kb)
}

main_report() {
    print_table

    cat <<EOF

nginx worker RSS (VmRSS, all workers): $rss_start kB after warm-up,
$rss_before kB before M, $rss_after kB after M's ${R[M.requests]} requests ($((rss_after - rss_before)) kB), $rss_end kB at the end
(peak VmHWM $hwm_before kB before M, $hwm_after kB after)

bulk adds: C1/C2 write $(awk -v r="${R[C1.rows]}" -v n="${R[C1.requests]}" 'BEGIN { printf "%.0f", r / (n ? n : 1) }')/$(awk -v r="${R[C2.rows]}" -v n="${R[C2.requests]}" 'BEGIN { printf "%.0f", r / (n ? n : 1) }') list rows per request; fresh lists were exhausted ${R[C1.exhausted]}/${R[C2.exhausted]} times
EOF
}

[ "$only" = sweep ] || main_runs
[ "$only" = main ] || { pool_sweep; sweep_rounds; }

print_header "leadlist benchmark$([ "${BENCH_QUICK:-0}" = 1 ] && echo ' (BENCH_QUICK)')"
[ "$only" = sweep ] || main_report
[ "$only" = main ] || { print_sweep; print_rounds; }

echo
echo "total time $(( $(date +%s) - t_start )) s; logs in $out"
