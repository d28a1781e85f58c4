#!/usr/bin/env bash
# The body validator alone: microseconds per body for a 1-person body (533
# bytes) and a 100-person body (52 KB), for the working tree and, when a
# git revision is given, for that revision too, alternating in one run so
# that both see the same machine.
#
#   bench/validator.sh [REV]
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build/validator
mkdir -p "$out"

cc -O2 -I"$root/src" "$root/bench/validator_bench.c" \
    "$root/src/ngx_http_leadlist_body.c" -ljansson -o "$out/tree"

bins=(tree)

if [ $# -gt 0 ]; then
    mkdir -p "$out/rev"
    git -C "$root" show "$1:src/ngx_http_leadlist_body.c" > "$out/rev/body.c"
    git -C "$root" show "$1:src/ngx_http_leadlist_body.h" \
        > "$out/rev/ngx_http_leadlist_body.h"
    cc -O2 -I"$out/rev" "$root/bench/validator_bench.c" "$out/rev/body.c" \
        -ljansson -o "$out/rev/bin"
    bins+=(rev/bin)
fi

for round in 1 2 3; do
    for b in "${bins[@]}"; do
        name=${b%/bin}
        [ "$name" = rev ] && name="$1"
        printf '%-8s %s\n' "$name" "$("$out/$b" 1 20000)"
        printf '%-8s %s\n' "$name" "$("$out/$b" 100 300)"
    done
done
