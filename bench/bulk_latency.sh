#!/usr/bin/env bash
#
# Latency of bulk adds of 1,000 on the 1,000,000-person catalogue: each
# request is selectAll with limit 1000 into a fresh list, one at a time
# over one connection (so that a figure is one request's latency, not a
# queue's), through nginx and the module.
#
#   bench/bulk_latency.sh                 1,000,000 persons, 30 s per case
#   BENCH_QUICK=1 bench/bulk_latency.sh   100,000 persons, 5 s per case
#
# Cases: the search 'filter' (VPs and C-levels in the United States, a few
# percent of the catalogue) into organizations that already hold copies
# of those persons (the usual case after a first add), the search {} the
# same way, and 'filter' into organizations that hold no copies yet (1,000
# tenant copies inserted).  Same stack and settings as bench/run.sh (which
# runs these cases too, after its own); see bench/lib.sh.

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
stack_up
nginx_up

# one request per PostgreSQL connection opens and prepares them
wrk_run _W1 "warm-up" 2 "$conns" "$threads" mode=direct kind=1 prefix=w \
    added=1 2>/dev/null

bulk_latency "$dur"

print_header "leadlist bulk latency$([ "${BENCH_QUICK:-0}" = 1 ] && echo ' (BENCH_QUICK)')"
print_table
