#!/usr/bin/env bash
# make test-asan: the suite with the module built with ASan and UBSan, in
# Debian's own nginx with the sanitizer runtimes preloaded (they must come
# first in the process's library list).  Any report fails the run.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
module=$1
shift

logs=$root/build/asan/logs
rm -rf "$logs"
mkdir -p "$logs"

export TEST_NGINX_LOAD_MODULES=$module
export TEST_NGINX_LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"

# leaks are valgrind's job (make test-valgrind): nginx's own exit-time
# allocations would drown LeakSanitizer's report.  A report aborts the
# worker (halt_on_error, and the module is built -fno-sanitize-recover),
# so the request fails its test even when the report itself went to
# nginx's stderr rather than to the log files checked below.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:log_path=$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/ubsan"

rc=0
"$root/util/test.sh" "$@" || rc=$?

if compgen -G "$logs/*" > /dev/null; then
    cat "$logs"/*
    echo "test-asan: sanitizer reports above" >&2
    exit 1
fi

exit $rc
