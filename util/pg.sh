#!/usr/bin/env bash
#
# A throwaway PostgreSQL cluster for development and tests.
#
#   util/pg.sh start   [DIR]        init if needed, start, migrate, write DIR/env
#   util/pg.sh stop    [DIR]        fast shutdown (no error if not running)
#   util/pg.sh demo    [DIR]        load sql/demo/*.sql as the superuser
#   util/pg.sh psql    [DIR] [ARGS] psql as the superuser on database leadlist
#   util/pg.sh destroy [DIR]        stop and remove DIR
#   util/pg.sh standby DIR FROM     a synchronous streaming standby of the
#                                   running cluster FROM, started, in DIR
#
# DIR defaults to build/pg in the repository.  Layout:
#
#   DIR/data            PGDATA
#   DIR/run             unix socket directory
#   DIR/log             server log
#   DIR/superuser.pw    password of the superuser "postgres" (mode 600)
#   DIR/app.pw          password of the module's role "leadlist_app" (mode 600)
#   DIR/migrations.sum  checksum of the sql/ migrations the database was built from
#   DIR/env             sourceable TEST_NGINX_PG_* exports
#
# When run as root and the "postgres" user cannot reach DIR (a checkout
# under /root, say), data, run, log and superuser.pw live in a directory
# under /tmp instead, named in DIR/server.
#
# The cluster listens on 127.0.0.1 only, on LEADLIST_PG_PORT if set, else on
# the first free port from LEADLIST_PG_FIRST_PORT (default 55432) up.
# fsync is off: never keep data here.
#
# When run as root, the server runs as the "postgres" user (PostgreSQL
# refuses root); otherwise it runs as the calling user.
#
# A standby (t/060-faults-failover.t) has the same layout and passwords as
# FROM (pg_basebackup -R copies the roles); FROM is switched to synchronous
# replication (synchronous_commit on, synchronous_standby_names '*'), so
# that a commit it acknowledges is on the standby too.  The standby itself
# waits for no standby of its own, so that it can be promoted
# (pg_ctl promote) and serve writes at once.

set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
db=leadlist
app_role=leadlist_app
first_port=${LEADLIST_PG_FIRST_PORT:-55432}

# Settings of the caller's environment must not redirect our clients to
# some other server.
for v in $(compgen -e | grep '^PG' || true); do
    unset "$v"
done

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '3,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

[ -x "$bindir/pg_ctl" ] \
    || die "no PostgreSQL in $bindir (install postgresql-15 or set PG_BINDIR)"

if [ "$(id -u)" = 0 ]; then
    getent passwd postgres >/dev/null \
        || die "running as root needs a \"postgres\" user to run the server"
    # from /, which the server's user can always enter
    as_pg() { (cd / && runuser -u postgres -- "$@"); }
else
    as_pg() { "$@"; }
fi

absdir() {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *)  printf '%s/%s\n' "$(pwd)" "$1" ;;
    esac
}

randpw() {
    od -An -N24 -tx1 /dev/urandom | tr -d ' \n'
}

# Writes stdin to a file only its owner (and root) can read.
write_secret() {
    (umask 077 && cat >"$1")
    [ "$(id -u)" = 0 ] && chown postgres: "$1"
    return 0
}

# Finds where the server's files live: DIR itself, unless the server's user
# cannot get there.  Directories inside the repository (build/) are opened
# for traversal (x, not r); above it nothing is changed, and the server
# goes to a directory of its own under /tmp instead.
locate_server() {
    local d
    srv=$dir
    if [ -s "$dir/server" ]; then
        srv=$(cat "$dir/server")
        return 0
    fi
    [ "$(id -u)" = 0 ] || return 0
    [ -d "$dir" ] || return 0
    d=$dir
    while [ "$d" != / ]; do
        d=$(dirname "$d")
        as_pg test -x "$d" && continue
        case $d/ in
            "$root"/*) chmod o+x "$d" ;;
            *)
                srv=/tmp/leadlist-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
                echo "pg.sh: user postgres cannot enter $d: the server's files go to $srv" >&2
                echo "$srv" >"$dir/server"
                return 0
                ;;
        esac
    done
}

port_busy() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

running() {
    [ -f "$srv/data/PG_VERSION" ] && as_pg "$bindir/pg_ctl" -D "$srv/data" status >/dev/null 2>&1
}

running_port() {
    sed -n 4p "$srv/data/postmaster.pid"
}

su_psql() {
    PGPASSWORD=$(cat "$srv/superuser.pw") PGCONNECT_TIMEOUT=10 \
        PGOPTIONS="-c client_min_messages=warning" \
        "$bindir/psql" -X -h 127.0.0.1 -p "$port" -U postgres "$@"
}

init_cluster() {
    mkdir -p "$srv"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$srv"
        [ "$srv" = "$dir" ] || chmod 700 "$srv"
    fi
    as_pg test -w "$srv" || die "user postgres cannot write to $srv"

    randpw | write_secret "$srv/superuser.pw"
    rm -rf "$srv/data"
    as_pg "$bindir/initdb" -D "$srv/data" -U postgres \
        --pwfile="$srv/superuser.pw" \
        --auth-local=scram-sha-256 --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

    # A socket path longer than sun_path cannot be bound: then TCP only.
    local sockdir=$srv/run
    if [ ${#sockdir} -gt 90 ]; then
        sockdir=
    else
        as_pg mkdir -p "$sockdir"
    fi

    as_pg tee -a "$srv/data/postgresql.conf" >/dev/null <<EOF

# util/pg.sh: a throwaway cluster (fsync off: never keep data here)
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sockdir'
password_encryption = 'scram-sha-256'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

start_server() {
    local port_try tries=0

    if [ -n "${LEADLIST_PG_PORT:-}" ]; then
        port_try=$LEADLIST_PG_PORT
        port_busy "$port_try" && die "port $port_try (LEADLIST_PG_PORT) is in use"
    else
        port_try=$first_port
    fi

    while :; do
        if [ -z "${LEADLIST_PG_PORT:-}" ]; then
            while port_busy "$port_try"; do
                port_try=$((port_try + 1))
            done
        fi
        : >"$srv/log"
        [ "$(id -u)" = 0 ] && chown postgres: "$srv/log"
        if as_pg "$bindir/pg_ctl" -D "$srv/data" -l "$srv/log" -w -t 60 \
               -o "-p $port_try" start >/dev/null
        then
            port=$port_try
            return 0
        fi
        # Another process may have taken the port since we looked.
        tries=$((tries + 1))
        if [ -z "${LEADLIST_PG_PORT:-}" ] && [ $tries -lt 20 ] \
           && grep -q 'could not bind\|could not create any TCP/IP' "$srv/log"
        then
            port_try=$((port_try + 1))
            continue
        fi
        tail -20 "$srv/log" >&2
        die "the server did not start (log: $srv/log)"
    done
}

migrations_sum() {
    local f
    for f in "$root"/sql/[0-9]*.sql; do
        printf '%s\n' "$(basename "$f")"
        cat "$f"
    done | sha256sum | cut -d' ' -f1
}

# Builds the database under a temporary name and renames it when every
# migration went through: an interrupted start never leaves a half-built
# database behind.  A database built from other migrations than the ones
# in sql/ now is thrown away and rebuilt (this cluster holds nothing worth
# keeping).
ensure_database() {
    local sum have f tmp=${db}__building
    sum=$(migrations_sum)
    have=$(cat "$dir/migrations.sum" 2>/dev/null || true)

    if [ "$(su_psql -d postgres -Atc \
            "SELECT 1 FROM pg_database WHERE datname = '$db'")" = 1 ]; then
        [ "$sum" = "$have" ] && return 0
        echo "pg.sh: sql/ changed since $db was built: rebuilding it" >&2
        su_psql -d postgres -qc "DROP DATABASE $db WITH (FORCE)"
    fi

    su_psql -d postgres -qc "DROP DATABASE IF EXISTS $tmp WITH (FORCE)"
    su_psql -d postgres -qc "CREATE DATABASE $tmp TEMPLATE template0"
    for f in "$root"/sql/[0-9]*.sql; do
        su_psql -d "$tmp" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null \
            || die "migration $(basename "$f") failed"
    done
    su_psql -d postgres -qc "ALTER DATABASE $tmp RENAME TO $db"
    echo "$sum" >"$dir/migrations.sum"
}

set_app_password() {
    [ -s "$dir/app.pw" ] || randpw | write_secret "$dir/app.pw"
    su_psql -d postgres -q -v ON_ERROR_STOP=1 \
        -v pw="$(cat "$dir/app.pw")" >/dev/null <<EOF
ALTER ROLE $app_role PASSWORD :'pw';
EOF
}

write_env() {
    local su_pw app_pw sock=
    su_pw=$(cat "$srv/superuser.pw")
    # the socket directory, when the server could bind one there
    [ -S "$srv/run/.s.PGSQL.$port" ] && sock=$srv/run
    app_pw=$(cat "$dir/app.pw")
    (umask 077 && cat >"$dir/env.tmp") <<EOF
# written by util/pg.sh start; source it
export TEST_NGINX_PG_HOST=127.0.0.1
export TEST_NGINX_PG_PORT=$port
export TEST_NGINX_PG_DB=$db
export TEST_NGINX_PG_USER=$app_role
export TEST_NGINX_PG_PASSWORD=$app_pw
export TEST_NGINX_PG_SUPER_PASSWORD=$su_pw
export TEST_NGINX_PG_CONNINFO='host=127.0.0.1 port=$port dbname=$db user=$app_role password=$app_pw'
export TEST_NGINX_PG_SUPER_CONNINFO='host=127.0.0.1 port=$port dbname=$db user=postgres password=$su_pw'
export TEST_NGINX_PG_SOCKET=$sock
EOF
    mv "$dir/env.tmp" "$dir/env"
}

cmd_start() {
    mkdir -p "$dir"
    locate_server
    if [ ! -f "$srv/data/PG_VERSION" ] || [ ! -s "$srv/superuser.pw" ]; then
        init_cluster
    fi

    if running; then
        port=$(running_port)
    else
        start_server
    fi

    ensure_database
    set_app_password
    write_env
    echo "pg.sh: PostgreSQL on 127.0.0.1:$port, database $db; env in $dir/env"
}

cmd_stop() {
    running || return 0
    as_pg "$bindir/pg_ctl" -D "$srv/data" -m fast -w -t 60 stop >/dev/null
}

need_running() {
    running || die "no cluster running in $dir (util/pg.sh start $dir)"
    port=$(running_port)
}

cmd_demo() {
    local f
    need_running
    for f in "$root"/sql/demo/*.sql; do
        [ -e "$f" ] || continue
        su_psql -d "$db" -q -v ON_ERROR_STOP=1 -f "$f" >/dev/null \
            || die "demo $(basename "$f") failed"
    done
    echo "pg.sh: demo data loaded into $db"
}

cmd_destroy() {
    cmd_stop
    [ "$srv" = "$dir" ] || rm -rf "$srv"
    rm -rf "$dir"
}

# The server of the running cluster in DIR $1: sets dir, srv and port.
locate_running() {
    dir=$1
    locate_server
    running || die "no cluster running in $dir"
    port=$(running_port)
}

cmd_standby() {
    local from_srv from_port sockdir i
    locate_running "$from"
    from_srv=$srv
    from_port=$port

    dir=$standby
    mkdir -p "$dir"
    locate_server
    [ -e "$srv/data" ] && die "$srv/data exists already"
    mkdir -p "$srv"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$srv"
        [ "$srv" = "$dir" ] || chmod 700 "$srv"
    fi
    write_secret <"$from_srv/superuser.pw" "$srv/superuser.pw"
    write_secret <"$from/app.pw" "$dir/app.pw"
    cp "$from/migrations.sum" "$dir/migrations.sum"

    PGPASSWORD=$(cat "$srv/superuser.pw") PGCONNECT_TIMEOUT=10 \
        as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$from_port" \
        -U postgres -D "$srv/data" -R -X stream -c fast \
        >"$dir/basebackup.log" 2>&1 \
        || { cat "$dir/basebackup.log" >&2; die "pg_basebackup failed"; }

    # its own socket directory (the copied postgresql.conf names FROM's);
    # the copied postgresql.auto.conf may name FROM's synchronous standbys
    sockdir=$srv/run
    if [ ${#sockdir} -gt 90 ]; then
        sockdir=
    else
        as_pg mkdir -p "$sockdir"
    fi
    as_pg tee -a "$srv/data/postgresql.conf" >/dev/null <<EOF

# util/pg.sh standby: a standby of 127.0.0.1:$from_port
unix_socket_directories = '$sockdir'
EOF
    as_pg tee -a "$srv/data/postgresql.auto.conf" >/dev/null <<EOF
synchronous_standby_names = ''
EOF

    start_server

    # synchronous only once it streams: before, FROM's commits would wait
    port=$from_port
    srv=$from_srv
    for i in $(seq 1 600); do
        [ "$(su_psql -d postgres -Atc "SELECT count(*)
                FROM pg_stat_replication WHERE state = 'streaming'")" -gt 0 ] \
            && break
        [ "$i" = 600 ] && die "the standby does not stream (log: $dir)"
        sleep 0.1
    done
    su_psql -d postgres -q -v ON_ERROR_STOP=1 >/dev/null <<EOF
ALTER SYSTEM SET synchronous_commit = on;
ALTER SYSTEM SET synchronous_standby_names = '*';
SELECT pg_reload_conf();
EOF

    locate_running "$standby"
    write_env
    echo "pg.sh: standby of 127.0.0.1:$from_port on 127.0.0.1:$port;" \
         "env in $dir/env"
}

[ $# -ge 1 ] || usage
cmd=$1
shift

case $cmd in
    start|stop|demo|destroy)
        [ $# -le 1 ] || usage
        dir=$(absdir "${1:-$root/build/pg}")
        ;;
    standby)
        [ $# -eq 2 ] || usage
        standby=$(absdir "$1")
        from=$(absdir "$2")
        cmd_standby
        exit
        ;;
    psql)
        # The first argument is DIR when it names a directory.
        if [ $# -ge 1 ] && [ -d "$1" ]; then
            dir=$(absdir "$1")
            shift
        else
            dir=$root/build/pg
        fi
        locate_server
        need_running
        su_psql -d "$db" "$@"
        exit
        ;;
    *)
        usage
        ;;
esac

[ "$cmd" = start ] || locate_server
"cmd_$cmd"
