#!/bin/sh
# run-http.sh -- vault reads and bank syncs over HTTP with wrk, on SQLite and
# on PostgreSQL, at 16 and 256 connections.
#
#   bench/run-http.sh BUILD_DIR [SECONDS] [GROUPS]
#
# Data: GROUPS (default 1000) groups of 5 members, each member one character
# with an 800-item bank (bench/gen_data.py).  cofferd runs with 2 workers and
# pool_max = 8.  Needs the Debian packages wrk and postgresql-15.  Prints a
# Markdown table for bench/RESULTS.md, plus the most PostgreSQL connections
# seen from cofferd during the PostgreSQL runs.
set -eu
build=$(cd "${1:?usage: run-http.sh BUILD_DIR [SECONDS] [GROUPS]}" && pwd)
secs=${2:-10}
groups=${3:-1000}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
port=18480

dir=$(mktemp -d /tmp/coffer-httpbench.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$top/tests/pgtmp.sh" stop "$dir/pg"
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

scalar() {	# ENGINE SQL
	if [ "$1" = sqlite ]; then
		sqlite3 "$dir/coffer.db" "$2"
	else
		psql "$pgdsn" -qAt -c "$2"
	fi
}

echo "| engine | request | connections | requests/s | p50 ms | p99 ms | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|---|---|"
for engine in sqlite postgres; do
	rm -f "$dir"/coffer.db*
	if [ "$engine" = postgres ]; then
		dsn=$("$top/tests/pgtmp.sh" start "$dir/pg")
		psql "$dsn" -q -c "CREATE DATABASE coffer_bench"
		pgdsn="$dsn dbname=coffer_bench"
	fi
	cat >"$dir/cofferd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
admin_listen = 127.0.0.1:$((port + 1))
workers = 2
runtime_dir = $dir/run
log_level = warn
[database]
engine = $engine
sqlite_path = $dir/coffer.db
postgres_dsn = ${pgdsn:-}
pool_min = 8
pool_max = 8
[catalog]
path = $top/data/item-catalog.json
CONF
	"$build/cofferd" -c "$dir/cofferd.conf" 2>"$dir/cofferd-$engine.log" &
	pid=$!
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do :; done
	until [ "$(scalar $engine 'SELECT count(*) FROM catalog_snapshots' 2>/dev/null || echo 0)" -ge 1 ]; do :; done
	OUT_DIR=$dir python3 "$here/gen_data.py" "$engine" \
		"$([ "$engine" = sqlite ] && echo "$dir/coffer.db" || echo "$pgdsn")" "$groups" 800 >&2

	if [ "$engine" = postgres ]; then
		: >"$dir/conns"
		( while kill -0 "$pid" 2>/dev/null; do
			psql "$dsn" -qAt -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'cofferd'" >>"$dir/conns" 2>/dev/null
			sleep 0.5	# a sample every half second: light on a 2-core machine
		  done ) &
		sampler=$!
	fi
	for script in vault sync; do
		for c in 16 256; do
			out=$(GROUPS=$groups ITEMS=800 ITEMS_FILE=$dir/items.txt \
				wrk -t2 -c$c -d${secs}s --timeout 10s -s "$here/$script.lua" \
				"http://127.0.0.1:$port" | grep '^RESULT')
			rps=$(echo "$out" | sed -n 's/.*rps=\([0-9]*\).*/\1/p')
			p50=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
			p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
			bad=$(echo "$out" | sed -n 's/.*non2xx=\([0-9]*\).*/\1/p')
			err=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
			case $script in
			vault) what="GET …/vault (default page)" ;;
			sync) what="PUT …/containers/bank (800 items, 3 changed)" ;;
			esac
			echo "| $engine | $what | $c | $rps | $p50 | $p99 | $bad | $err |"
		done
	done
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
	if [ "$engine" = postgres ]; then
		wait "$sampler" 2>/dev/null || true
		echo
		echo "Most PostgreSQL connections from cofferd during the runs: $(sort -n "$dir/conns" | tail -1) (pool_max 8)"
	fi
done
