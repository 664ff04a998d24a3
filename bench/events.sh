#!/bin/sh
# events.sh -- live events fan-out (bench/events.py) on SQLite and on
# PostgreSQL: STREAMS open streams on one group over 2 workers, ROUNDS syncs.
#
#   bench/events.sh BUILD_DIR [STREAMS] [ROUNDS]
#
# Prints a Markdown table for bench/RESULTS.md.  Needs postgresql-15 (the
# throw-away server of tests/pgtmp.sh) and python3-requests.
set -eu
build=$(cd "${1:?usage: events.sh BUILD_DIR [STREAMS] [ROUNDS]}" && pwd)
streams=${2:-1000}
rounds=${3:-20}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
port=18490

dir=$(mktemp -d /tmp/coffer-eventsbench.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$top/tests/pgtmp.sh" stop "$dir/pg" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || true

echo "| engine | streams | syncs | p50 ms (each stream) | p99 ms (each stream) | p50 ms (last stream) | p99 ms (last stream) | RSS MiB per 1,000 streams |"
echo "|---|---|---|---|---|---|---|---|"
for engine in sqlite postgres; do
	pgdsn=
	if [ "$engine" = postgres ]; then
		dsn=$("$top/tests/pgtmp.sh" start "$dir/pg")
		psql "$dsn" -q -c "CREATE DATABASE coffer_events"
		pgdsn="$dsn dbname=coffer_events"
	fi
	rm -f "$dir"/coffer.db*
	cat >"$dir/cofferd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
admin_listen = 127.0.0.1:$((port + 1))
workers = 2
environment = development
runtime_dir = $dir/run
log_level = warn
[limits]
streams_per_user = $((streams + 10))
token_rate = 0
session_rate = 0
address_rate = 0
[database]
engine = $engine
sqlite_path = $dir/coffer.db
postgres_dsn = $pgdsn
pool_min = 4
pool_max = 8
[auth]
mock_provider = on
[catalog]
path = $top/data/item-catalog.json
CONF
	"$build/cofferd" -c "$dir/cofferd.conf" 2>"$dir/cofferd-$engine.log" &
	pid=$!
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
	row=$(python3 "$here/events.py" "http://127.0.0.1:$port" "$pid" "$streams" "$rounds")
	echo "| $engine | ${row#| }"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
done
