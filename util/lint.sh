#!/usr/bin/env bash
# The nginx style checks a compiler does not make: 80 columns, no tabs,
# no trailing spaces, no // comments, in the module's C sources.
set -u

cd "$(dirname "$0")/.."

files=$(ls ngx_http_leadlist_module.c src/*.c src/*.h)
bad=0

report() {
    [ -z "$2" ] && return
    echo "lint: $1:" >&2
    echo "$2" | sed 's/^/    /' >&2
    bad=1
}

report "lines over 80 columns" "$(awk 'length > 80 {print FILENAME ":" FNR}' $files)"
report "tabs" "$(grep -n "$(printf '\t')" $files)"
report "trailing spaces" "$(grep -n ' $' $files)"
report "// comments" "$(grep -nE '^\s*//|[;{}]\s*//' $files)"

[ $bad -eq 0 ] && echo "lint: $(echo $files | wc -w) files clean"
exit $bad
