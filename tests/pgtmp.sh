#!/bin/sh
# pgtmp.sh -- a throw-away PostgreSQL server for the tests.
#
#   tests/pgtmp.sh start DIR   initdb + start a server in DIR (Unix socket only,
#                              in DIR itself); prints the libpq conninfo
#   tests/pgtmp.sh stop DIR    stop it (the directory is left for the caller)
#   tests/pgtmp.sh restart DIR stop it (fast, if running) and start it again
#
# PostgreSQL refuses to run as root, so as root the server runs as the
# `postgres` user (Debian's postgresql package creates it); every parent of
# DIR must then be searchable by that user (mode o+x).  Binaries come from
# PG_BINDIR, by default Debian's postgresql-15.
set -eu
cmd=${1:?usage: pgtmp.sh start|stop|restart DIR}
dir=${2:?usage: pgtmp.sh start|stop|restart DIR}
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

run_server() {
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-k $dir -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
}

case $cmd in
start)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	[ "$(id -u)" = 0 ] && chown postgres: "$dir"
	chmod 0755 "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -A trust -U postgres \
		--no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	run_server
	echo "host=$dir user=postgres dbname=postgres"
	;;
restart)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	run_server
	;;
stop)
	as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	;;
*)
	echo "usage: pgtmp.sh start|stop|restart DIR" >&2
	exit 2
	;;
esac
