#!/usr/bin/env bash
#
# bench/statement.sh: PostgreSQL CPU per call of the module's statement,
# the current leadlist.add_prospects against the one it replaced, in the
# same run and the same database.
#
#   bench/statement.sh               2 rounds, 10 s per run (~6 min)
#   BENCH_ROUNDS=3 BENCH_DURATION=20 bench/statement.sh
#
# A throwaway cluster of its own (util/pg.sh, build/bench-stmt-pg; set
# LEADLIST_PG_PORT if the default port search is not wanted), the
# migrations of sql/, and 003's function from git (BENCH_OLD_REV, the last
# commit before sql/006) loaded beside them as leadlist.add_prospects_old.
# The tenants are bench/fixtures.sql's (64 organizations, 16 lists of each
# kind, no catalogue: direct mode does not read it), reset every round.
#
# Workloads, each with pgbench -M prepared at every client count of
# BENCH_CLIENTS (default "8 32"), as leadlist_app:
#
#   new1   direct, 1 new person (bench/person.json, 570 bytes) into a list
#          of kind 1 of a random organization (bench/pgbench/new.sql)
#   dup10  direct, 10 persons all already in the list (kind 2 lists hold
#          x-<list>-1 .. 50) whose tenant copies hold every member
#
# Variants (BENCH_VARIANTS, default "old new rep dry key"):
#
#   old    003's function, as the module sent it before
#   new    006's function, no Prefer and no key (flags 0, key NULL)
#   rep    Prefer: return=representation (flags 1)
#   dry    Prefer: tx=rollback (flags 2)
#   key    a new Idempotency-Key per call (TTL 24 h): the recording cost
#   fn:S.F a function of 006's signature, flags 0 (to try other shapes,
#          or an earlier version: BENCH_SQL names a file of SQL run as the
#          superuser once the cluster is up, which may create it)
#   fnk:S.F the same with a new Idempotency-Key per call, as key
#   sql:F  the statement in file F instead of a function call: one
#          statement that returns the function's columns, with pgbench's
#          variables :o, :user, :admin and :list for the arguments, each
#          with a cast (:o::text), @BODY@ for the body, and no -- comments
#          (callgrind's run joins its lines); to try a shape without
#          PL/pgSQL
#
# Variants run in alternating order from round to round (old new ... then
# ... new old), so that the tables' growth during a round favours none.
#
# Then, per workload, one more pgbench run with 1 client in which every
# transaction picks one of the variants at random (pgbench -f A@1 -f B@1):
# the latency quantiles of each variant's transactions, which a busy machine
# skews alike for all of them (BENCH_MIX_DURATION, default 30 s; 0 skips).
#
# With BENCH_CALLGRIND=1, last, the instructions per call, which no other
# load on the machine changes: the cluster is stopped and a single-user
# backend (postgres --single, as the superuser: row-level security and
# privilege checks are skipped) runs 40 and then 240 calls of each
# workload and variant under valgrind --tool=callgrind; per call is the
# difference / 200.  Each variant's statement is prepared once, as the
# module prepares it, and executed with the call's arguments: a call pays
# its execution and the parse of its body, not the planning of the
# statement (sql: variants included).
# About 40 s per variant and workload.
#
# Printed per run: transactions/s, p50 latency, PostgreSQL CPU per call
# (utime + stime of the postmaster, its reaped backends and the live ones,
# read before and after, the backends waited for; as bench/lib.sh does),
# and how busy the machine's CPUs were with anything else ("others": a
# high figure means the run shared the machine).  The last table gives,
# per workload and client count, the median of the rounds.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bench=$root/bench
pgdir=${BENCH_STMT_PG_DIR:-$root/build/bench-stmt-pg}
out=$root/build/bench-stmt
dur=${BENCH_DURATION:-10}
rounds=${BENCH_ROUNDS:-2}
clients=${BENCH_CLIENTS:-8 32}
variants=${BENCH_VARIANTS:-old new rep dry key}
workloads=${BENCH_WORKLOADS:-new1 dup10}
mix_dur=${BENCH_MIX_DURATION:-30}
callgrind=${BENCH_CALLGRIND:-0}
# the last commit before sql/006 (HEAD while 006 is not committed)
added=$(git -C "$root" log -n 1 --format=%H --diff-filter=A -- sql/006-add-prospects.sql)
old_rev=${BENCH_OLD_REV:-${added:+$added^}}
old_rev=${old_rev:-HEAD}
pgbench_bin=${PGBENCH:-/usr/lib/postgresql/15/bin/pgbench}
threads=2
orgs=64
lists=16

die() {
    echo "bench: $*" >&2
    exit 1
}

note() {
    printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

spsql() {
    "$root/util/pg.sh" psql "$pgdir" -X -q -v ON_ERROR_STOP=1 "$@"
}

[ -x "$pgbench_bin" ] || die "no $pgbench_bin (apt-get install postgresql-contrib)"
git -C "$root" cat-file -e "$old_rev:sql/003-add-prospects.sql" 2>/dev/null \
    || die "no sql/003-add-prospects.sql at $old_rev (set BENCH_OLD_REV)"

mkdir -p "$out"
trap '"$root/util/pg.sh" stop "$pgdir" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

"$root/util/pg.sh" start "$pgdir" >/dev/null
# shellcheck disable=SC1091
. "$pgdir/env"

# 003's function beside the current one, under another name
git -C "$root" show "$old_rev:sql/003-add-prospects.sql" \
    | sed -e '/^CREATE SCHEMA leadlist;/d' \
          -e 's/leadlist\.add_prospects(/leadlist.add_prospects_old(/g' \
          -e 's/^CREATE FUNCTION /CREATE OR REPLACE FUNCTION /' \
    | spsql >/dev/null
spsql -c 'GRANT EXECUTE ON FUNCTION leadlist.add_prospects_old(text, text, boolean, text, jsonb, integer) TO leadlist_app'
[ -z "${BENCH_SQL:-}" ] || spsql -f "$BENCH_SQL" >/dev/null


# ------------------------------------------------------------ the scripts

person=$(cat "$bench/person.json")
tmpl1="{\"persons\":[$person]}"
tmpl10="{\"persons\":[$(for k in $(seq 1 10); do
    printf '%s%s' "$([ "$k" = 1 ] || echo ,)" "${person//@ID@/x-@L@-$k}"
done)]}"

# script WORKLOAD VARIANT: writes the pgbench script, prints its path
script() {
    local w=$1 v=$2 f body call
    f=$out/$w-${v//[^a-z0-9_]/_}.sql
    case $w in
        new1)  body="replace(:tmpl::text, '@ID@', 'pg-' || :pid::text)::jsonb" ;;
        dup10) body="replace(:tmpl10::text, '@L@', :list::text)::jsonb" ;;
        *)     die "unknown workload $w" ;;
    esac
    local args=":o::text, :user::text, :admin::boolean, :list::text, $body, :max::integer"
    case $v in
        old)  call="outcome, added_count, selected_count FROM leadlist.add_prospects_old($args)" ;;
        new)  call="outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects($args, 0, NULL::text, 86400)" ;;
        rep)  call="outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects($args, 1, NULL::text, 86400)" ;;
        dry)  call="outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects($args, 2, NULL::text, 86400)" ;;
        key)  call="outcome, added_count, selected_count, response, replayed FROM leadlist.add_prospects($args, 0, 'k-' || :pid::text || '-' || :client_id::text, 86400)" ;;
        fn:*) call="outcome, added_count, selected_count, response, replayed FROM ${v#fn:}($args, 0, NULL::text, 86400)" ;;
        fnk:*) call="outcome, added_count, selected_count, response, replayed FROM ${v#fnk:}($args, 0, 'k-' || :pid::text || '-' || :client_id::text, 86400)" ;;
        sql:*) call=$(<"${v#sql:}"); call=${call//@BODY@/"$body"} ;;
        *)    die "unknown variant $v" ;;
    esac
    [[ $v == sql:* ]] || call="SELECT $call"
    cat >"$f" <<EOF
\\set o random(1, :orgs)
\\set j random(0, :lists - 1)
\\set list :o * 1000000 + :kind * 100000 + :j
\\set pid random(1, 1000000000000)
$call;
EOF
    echo "$f"
}

kind_of() {
    case $1 in
        new1) echo 1 ;;
        dup10) echo 2 ;;
    esac
}


# --------------------------------------------------------------- accounting

pg_postmaster() {
    local srv=$pgdir
    [ -s "$pgdir/server" ] && srv=$(cat "$pgdir/server")
    head -1 "$srv/data/postmaster.pid"
}

# utime + stime of a process and of its reaped children, in clock ticks
ticks() {
    local f
    f=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
    f=${f##*) }
    # shellcheck disable=SC2086
    set -- $f
    echo $(( ${12} + ${13} + ${14} + ${15} ))
}

pg_ticks() {
    local pm p s
    pm=$(pg_postmaster)
    s=$(ticks "$pm")
    for p in $(ps -o pid= --ppid "$pm"); do
        s=$((s + $(ticks "$p")))
    done
    echo "$s"
}

pg_settle() {
    local i
    for i in $(seq 50); do
        [ "$(ps -o pid= --ppid "$(pg_postmaster)" | wc -l)" -le "$1" ] && return 0
        sleep 0.1
    done
}

machine_ticks() {
    awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# this shell's waited-for children (pgbench), in ticks
child_ticks() {
    times | awk -v hz="$hz" 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * hz }'
}

hz=$(getconf CLK_TCK)
ncpu=$(nproc)

# runs a command as leadlist_app on the bench database
pgbench_env() {
    env PGHOST="$TEST_NGINX_PG_HOST" PGPORT="$TEST_NGINX_PG_PORT" \
        PGUSER="$TEST_NGINX_PG_USER" PGPASSWORD="$TEST_NGINX_PG_PASSWORD" \
        PGDATABASE="$TEST_NGINX_PG_DB" "$@"
}

# mix WORKLOAD: 1 client, the variants interleaved per transaction; prints
# latency quantiles per variant
mix() {
    local w=$1 v i=0 args=()
    for v in $variants; do
        args+=(-f "$(script "$w" "$v")@1")
    done
    rm -f "$out"/mix.log*
    pgbench_env "$pgbench_bin" -n -M prepared -c 1 -j 1 -T "$mix_dur" "${args[@]}" \
        -l --log-prefix="$out/mix.log" \
        -D orgs="$orgs" -D lists="$lists" -D kind="$(kind_of "$w")" \
        -D user=u-bench -D admin=f -D max=1000 \
        -D tmpl="$tmpl1" -D tmpl10="$tmpl10" >"$out/mix-$w.out" 2>&1 \
        || { cat "$out/mix-$w.out" >&2; die "pgbench failed: mix $w"; }
    for v in $variants; do
        # per-transaction log: client, transaction, latency (us), script
        cat "$out"/mix.log* | awk -v n="$i" '$4 == n { print $3 }' | sort -n \
            | awk -v w="$w" -v v="$v" '{ a[NR] = $1 }
                END { printf "%-6s %-22s %7d  %6d %6d %6d\n", w, v, NR,
                             a[int(NR * 0.1) + 1], a[int(NR * 0.25) + 1], a[int(NR * 0.5) + 1] }'
        i=$((i + 1))
    done
    rm -f "$out"/mix.log*
}

# run WORKLOAD VARIANT CLIENTS ROUND: one pgbench run, one result line
run() {
    local w=$1 v=$2 c=$3 r=$4 s log kids p0 p1 m0 m1 g0 g1 t0 t1 n tps lat
    s=$(script "$w" "$v")
    log=$out/$w-${v//[^a-z0-9_]/_}-c$c-r$r.log
    spsql -c CHECKPOINT
    kids=$(ps -o pid= --ppid "$(pg_postmaster)" | wc -l)
    p0=$(pg_ticks); m0=$(machine_ticks); g0=$(child_ticks); t0=$(date +%s.%N)
    pgbench_env "$pgbench_bin" -n -M prepared -c "$c" -j "$threads" -T "$dur" -f "$s" \
            -D orgs="$orgs" -D lists="$lists" -D kind="$(kind_of "$w")" \
            -D user=u-bench -D admin=f -D max=1000 \
            -D tmpl="$tmpl1" -D tmpl10="$tmpl10" >"$log" 2>&1 \
        || { cat "$log" >&2; die "pgbench failed: $w $v"; }
    t1=$(date +%s.%N)
    pg_settle "$kids"
    p1=$(pg_ticks); m1=$(machine_ticks); g1=$(child_ticks)
    grep -q '^number of failed transactions: 0 ' "$log" \
        || { cat "$log" >&2; die "failed transactions: $w $v"; }
    n=$(awk '/^number of transactions actually processed:/ { print $6 }' "$log")
    tps=$(awk '/^tps = / { printf "%.0f", $3; exit }' "$log")
    lat=$(awk '/^latency average = / { print $4; exit }' "$log")
    # w c v r tps latency_ms pg_us_per_call others_cpus
    awk -v w="$w" -v c="$c" -v v="$v" -v r="$r" -v n="$n" -v tps="$tps" \
        -v lat="$lat" -v pg=$((p1 - p0)) -v m=$((m1 - m0)) -v g=$((g1 - g0)) \
        -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
            t = t1 - t0
            others = (m - pg - g) / hz / t
            if (others < 0) others = 0
            printf "%-6s %3d %-22s %2d %8d %8.2f %9.1f %7.2f\n",
                   w, c, v, r, tps, lat, pg / hz * 1e6 / n, others
        }' >>"$out/results"
}

: >"$out/results"
printf '%-6s %3s %-22s %2s %8s %8s %9s %7s\n' workld cli variant rd 'tps' 'lat ms' 'pg us' others >&2
note "$ncpu CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); ${dur}s per run, $rounds rounds"

# the tenants as bench/fixtures.sql makes them, and 1,000 live keys per
# organization (of another user) recorded earlier: a table in use, whose
# statistics lead the planner to its indexes (an empty table's plans,
# cached by each backend until the next ANALYZE, scan it sequentially)
reset() {
    spsql -v orgs="$orgs" -v lists="$lists" -v fresh=1 -v cold=1 -v dups=50 \
          -v tmpl="$person" -f "$bench/fixtures.sql" >/dev/null
    spsql -c 'TRUNCATE tenant.idempotency_keys' \
          -c "INSERT INTO tenant.idempotency_keys (org_id, user_id, key, fingerprint,
                  outcome, added_count, selected_count, response, expires_at)
              SELECT o::text, 'u-earlier', 'k-' || k, sha256(k::text::bytea), 'ok', 1, 1,
                     '{\"addedCount\":1,\"alreadyInListCount\":0,\"notMatchedCount\":0}',
                     now() + interval '1 day'
                FROM generate_series(1, $orgs) AS o, generate_series(1, 1000) AS k" \
          -c 'VACUUM ANALYZE tenant.idempotency_keys'
}

for r in $(seq 1 "$rounds"); do
    reset
    order=$variants
    [ $((r % 2)) = 0 ] && order=$(echo "$variants" | tr ' ' '\n' | tac | tr '\n' ' ')
    for w in $workloads; do
        for c in $clients; do
            for v in $order; do
                run "$w" "$v" "$c" "$r"
                tail -1 "$out/results" >&2
            done
        done
    done
done

echo
echo "PostgreSQL CPU per call, median of $rounds rounds (us); tps median in ()"
awk -v vs="$variants" '{ k = $1 " " $2; key[k] = 1; pg[k, $3] = pg[k, $3] " " $7; tp[k, $3] = tp[k, $3] " " $5 }
     function med(s,   a, n, i, j, t) {
         n = split(s, a, " ")
         for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
         return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
     }
     END {
         for (k in key) {
             printf "%-11s", k
             nv = split(vs, var, " ")
             for (i = 1; i <= nv; i++) { v = var[i]; if ((k, v) in pg) printf "  %s %.1f (%d)", v, med(pg[k, v]), med(tp[k, v]) }
             printf "\n"
         }
     }' "$out/results" | sort

if [ "$mix_dur" -gt 0 ]; then
    reset
    echo
    echo "1 client, variants interleaved per transaction, ${mix_dur}s per workload: latency (us)"
    printf '%-6s %-22s %7s  %6s %6s %6s\n' workld variant calls p10 p25 p50
    for w in $workloads; do
        mix "$w"
    done
fi

# ------------------------------------------------------------- callgrind

# calls WORKLOAD VARIANT N: the variant's statement prepared once, as the
# module prepares it, then N executions, each with its own list and (new1)
# its own new person
calls() {
    local w=$1 v=$2 n=$3 i o j list body flags=0 key=NULL stmt
    local fn=leadlist.add_prospects
    case $v in
        old)   stmt="SELECT outcome FROM leadlist.add_prospects_old(\$1, \$2, \$3, \$4, \$5, 1000)" ;;
        sql:*) stmt=$(tr '\n' ' ' <"${v#sql:}")
               stmt=${stmt//:o::/\$1::}
               stmt=${stmt//:user::/\$2::}
               stmt=${stmt//:admin::/\$3::}
               stmt=${stmt//:list::/\$4::}
               stmt=${stmt//@BODY@/\$5} ;;
        *)     case $v in
                   rep)  flags=1 ;;
                   dry)  flags=2 ;;
                   key)  key=\$6 ;;
                   fn:*) fn=${v#fn:} ;;
                   fnk:*) fn=${v#fnk:}; key=\$6 ;;
               esac
               stmt="SELECT outcome FROM $fn(\$1, \$2, \$3, \$4, \$5, 1000, $flags, $key, 86400)" ;;
    esac
    echo "PREPARE c(text, text, boolean, text, jsonb, text) AS $stmt;"
    for i in $(seq 1 "$n"); do
        o=$(( (i * 7) % orgs + 1 ))
        j=$(( (i * 5) % lists ))
        list=$(( o * 1000000 + $(kind_of "$w") * 100000 + j ))
        case $w in
            new1)  body=${tmpl1//@ID@/cg-$v-$n-$i-$$} ;;
            dup10) body=${tmpl10//@L@/$list} ;;
        esac
        echo "EXECUTE c('$o', 'u-bench', false, '$list', '$body', 'cg-$w-${v//[^a-z0-9]/}-$n-$i-$$');"
    done
}

# instructions WORKLOAD VARIANT N: callgrind's total for N calls
instructions() {
    local f=$out/cg-$1-${2//[^a-z0-9_]/_}-$3 srv=$pgdir as=()
    [ -s "$pgdir/server" ] && srv=$(cat "$pgdir/server")
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    calls "$1" "$2" "$3" >"$f.sql"
    (cd / && "${as[@]}" valgrind --tool=callgrind --callgrind-out-file="$cgdir/out" \
        "$(dirname "$pgbench_bin")/postgres" --single -D "$srv/data" \
        "$TEST_NGINX_PG_DB" <"$f.sql" >"$f.log" 2>&1)
    if ! grep -q 'outcome = "ok"' "$f.log" || grep -q ERROR "$f.log"; then
        grep -m3 'ERROR\|outcome = ' "$f.log" >&2
        die "callgrind run failed: $*"
    fi
    awk '/^summary:/ { print $2 }' "$cgdir/out"
    rm -f "$cgdir/out" "$f.sql"
}

if [ "$callgrind" = 1 ]; then
    command -v valgrind >/dev/null || die "no valgrind (apt-get install valgrind)"
    reset
    "$root/util/pg.sh" stop "$pgdir"
    # callgrind's output, written by the server's user
    cgdir=$(mktemp -d)
    [ "$(id -u)" = 0 ] && chown postgres: "$cgdir"
    echo
    echo "instructions per call (callgrind, single-user backend, (240 calls - 40 calls) / 200)"
    for w in $workloads; do
        for v in $variants; do
            a=$(instructions "$w" "$v" 40)
            b=$(instructions "$w" "$v" 240)
            if [ -z "$a" ] || [ -z "$b" ]; then
                die "callgrind: no count for $w $v"
            fi
            printf '%-6s %-22s %10d\n' "$w" "$v" $(( (b - a) / 200 ))
        done
    done
    rm -rf "$cgdir"
fi
