#!/usr/bin/env bash
# Runs prove over the given test paths (default t/) against a throwaway
# PostgreSQL, which is stopped again however the run ends.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
pgdir=${LEADLIST_PG_DIR:-$root/build/pg}

cd "$root"

trap 'util/pg.sh stop "$pgdir" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

util/pg.sh start "$pgdir"
. "$pgdir/env"

export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-/usr/sbin/nginx}
export TEST_NGINX_LOAD_MODULES=${TEST_NGINX_LOAD_MODULES:-$root/build/ngx_http_leadlist_module.so}

# the module must load into this nginx before any test can mean anything
printf 'load_module %s;\nevents {}\n' "$TEST_NGINX_LOAD_MODULES" \
    > "$root/build/load-check.conf"
LD_PRELOAD=${TEST_NGINX_LD_PRELOAD:-} \
    "$TEST_NGINX_BINARY" -t -q -p "$root/build" -c "$root/build/load-check.conf" \
    -e /dev/stderr

[ $# -eq 0 ] && set -- t

prove -I t/lib -r ${PROVE_FLAGS:-} "$@"
