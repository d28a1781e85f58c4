#!/usr/bin/env bash
#
# Pool configurations side by side on the sweep's setup (32 HTTP
# connections over 2 nginx workers, PostgreSQL on the same CPUs),
# interleaved: AB_ROUNDS rounds, each running every configuration once in
# the order given, so that the machine's drift falls on all of them alike.
# On this shared machine the same configuration moved by up to 1.3 x
# between runs minutes apart: one run of each says nothing about a change
# of 10%; the ratios within a round do.
#
#   bench/ab.sh 'keepalive=16 adaptive=on' \
#               'keepalive=1 max=1 adaptive=off pipeline=8'
#
# A configuration is words of key=value:
#
#   keepalive=N max=N adaptive=on|off pipeline=N
#                 the pool's directives (max, adaptive and pipeline left
#                 out: the module's defaults)
#   so=PATH       another build of the module (default build/)
#   kind=new|dup10  1 new person (default), or 10 persons all already in
#                 the list
#   pgbench=N     not nginx: pgbench with N clients, the same statement
#                 and body (the sweep's ceiling), interleaved with the rest
#   vs=N          the configuration (by its place, from 1) this one's
#                 runs are compared with in each round (default 1)
#   label=TEXT    its name in the table (default: the words themselves);
#                 the rest of the words, spaces and all: put it last
#
# AB_ROUNDS (default 5), BENCH_SECONDS (default 10 here).  Prints each
# run, then per configuration the median req/s, p99, PostgreSQL and nginx
# CPU per request and the worker split of each round, and its req/s
# against its reference configuration's in the same round (the first, or
# vs=N; lowest, median and highest of those ratios).

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

dur=${BENCH_SECONDS:-10}
rounds=${AB_ROUNDS:-5}

[ $# -ge 1 ] || die "usage: bench/ab.sh 'key=value ...' ..."

conns=$sweep_conns
default_module=$module

# ab_set CONF: the pool's settings and the workload of one configuration
ab_set() {
    local kv

    ngx_keepalive=16 ngx_max='' ngx_adaptive='' ngx_pipeline=''
    module=$default_module ab_kind=new ab_label=$1 ab_pgbench='' ab_vs=1
    workers=$sweep_workers

    for kv in ${1%%label=*}; do
        case $kv in
            keepalive=*) ngx_keepalive=${kv#*=} ;;
            max=*) ngx_max=${kv#*=} ;;
            adaptive=*) ngx_adaptive=${kv#*=} ;;
            pipeline=*) ngx_pipeline=${kv#*=} ;;
            workers=[1-9]) workers=${kv#*=} ;;
            so=*) module=${kv#*=} ;;
            kind=new|kind=dup10) ab_kind=${kv#*=} ;;
            pgbench=*) ab_pgbench=${kv#*=} ;;
            vs=[1-9]|vs=[1-9][0-9]) ab_vs=${kv#*=} ;;
            *) die "unknown setting $kv" ;;
        esac
    done

    # a label may hold spaces: everything after "label="
    case $1 in
        *label=*) ab_label=${1#*label=} ;;
    esac

    [ -r "$module" ] || die "no module at $module"
    [ "$ab_vs" -le "$nconfs" ] ||
        die "vs=$ab_vs: there are $nconfs configurations"
}

# ab_run NAME: one measured run of the configuration ab_set made
ab_run() {
    local name=$1

    if [ -n "$ab_pgbench" ]; then
        sweep_pgbench "$name" "$ab_label" "$ab_kind" "$ab_pgbench"
        R[$name.split]=-
        return
    fi

    sweep_restart "_$name" "w$name"
    sweep_load "$ab_kind" "$name"
    split_run "$name" "$ab_label" "${sweep_args[@]}"
}

# every configuration is read once before the stack starts: a mistake
# fails at once, not after the rounds before it
nconfs=$#
for conf in "$@"; do
    ab_set "$conf"
done

stack_up
cpu_unsplit

for r in $(seq "$rounds"); do
    i=0
    for conf in "$@"; do
        i=$((i + 1))
        ab_set "$conf"
        ab_run "ab${r}_$i"
    done
done

echo
echo "== side by side: $conns connections," \
     "$sweep_workers workers (unless workers=N), ${dur} s per run," \
     "$rounds rounds, $(git -C "$root" rev-parse --short HEAD 2>/dev/null)," \
     "$(date -u '+%Y-%m-%d %H:%M') UTC"
printf '%-44s %9s %8s %8s %7s %7s %7s %7s %7s  %s\n' configuration \
    'req/s' 'p50 ms' 'p99 ms' 'pg us' 'ngx us' '/ref lo' '/ref' '/ref hi' \
    'splits'

i=0
for conf in "$@"; do
    i=$((i + 1))
    ab_set "$conf"
    rps=() p50=() p99=() pg=() ng=() rat=() splits=
    for r in $(seq "$rounds"); do
        n=ab${r}_$i
        rps+=("${R[$n.rps]}")
        p50+=("${R[$n.p50_us]}")
        p99+=("${R[$n.p99_us]}")
        pg+=("${R[$n.pg_us]}")
        ng+=("${R[$n.ng_us]}")
        rat+=("$(ratio "$n" "ab${r}_$ab_vs")")
        splits="$splits${splits:+ }${R[$n.split]}"
    done
    printf '%-44s %9.1f %8s %8s %7s %7s %7s %7s %7s  %s\n' \
        "${ab_label:0:44}" "$(median "${rps[@]}")" \
        "$(ms "$(median "${p50[@]}")")" "$(ms "$(median "${p99[@]}")")" \
        "$(median "${pg[@]}")" "$(median "${ng[@]}")" \
        "$(printf '%s\n' "${rat[@]}" | sort -g | head -1)" \
        "$(median "${rat[@]}")" \
        "$(printf '%s\n' "${rat[@]}" | sort -g | tail -1)" "$splits"
done

echo "   medians over the rounds; pg us, ngx us: PostgreSQL's and nginx's CPU per request; /ref: req/s over"
echo "   the reference configuration's in the same round (the first, or the one vs=N names; lowest, median,"
echo "   highest); splits: wrk's connections per worker half way through each round's run"
