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

# the validator's sources present in a src/ directory (a revision from
# before the split has body.c alone)
sources() {
    local f
    for f in body rules scan path arena; do
        [ -f "$1/ngx_http_leadlist_$f.c" ] && echo "$1/ngx_http_leadlist_$f.c"
    done
}

cc -O2 -I"$root/src" "$root/bench/validator_bench.c" \
    $(sources "$root/src") -ljansson -o "$out/tree"

bins=(tree)

if [ $# -gt 0 ]; then
    rm -rf "$out/rev" && mkdir -p "$out/rev"
    git -C "$root" archive "$1" src | tar -x -C "$out/rev"
    cc -O2 -I"$out/rev/src" "$root/bench/validator_bench.c" \
        $(sources "$out/rev/src") -ljansson -o "$out/rev/bin"
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
