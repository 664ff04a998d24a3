#!/bin/sh
# run-compat.sh -- the Group Ironmen Tracker API (docs/API.md "Group Ironmen
# Tracker compatibility") over HTTP, on SQLite and on PostgreSQL:
#
#   update  wrk: update-group-member with a full bank (1,500 items, 3,000
#           numbers, a few quantities changed), 16 connections
#   data    wrk: get-group-data from the epoch for a group of 5 members with
#           full banks (the site's first poll), 16 connections
#   load    bench/compat_load.py: PLUGINS plugins posting once a second and
#           SITES sites polling once a second, open-loop at that fixed rate
#
#   bench/run-compat.sh BUILD_DIR [SECONDS] [GROUPS] [PLUGINS] [SITES]
#
# Defaults: 10 s per wrk cell, 200 groups (1,000 members), 1,000 plugins,
# 100 sites, the load for 30 s after a 5 s warm-up.  cofferd runs with
# WORKERS (default 2) workers, pool_max 8 and the per-address limit off
# (every simulated player shares this machine's address).  ENGINES (default
# "sqlite postgres") picks the engines; CELLS=0 skips the wrk cells and runs
# only the load.  Needs wrk and postgresql-15.  Prints Markdown rows for
# bench/RESULTS.md.
set -eu
build=$(cd "${1:?usage: run-compat.sh BUILD_DIR [SECONDS] [GROUPS] [PLUGINS] [SITES]}" && pwd)
secs=${2:-10}
groups=${3:-200}
plugins=${4:-1000}
sites=${5:-100}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
port=18800

command -v wrk >/dev/null || { echo "run-compat.sh: wrk is missing" >&2; exit 1; }

dir=$(mktemp -d /tmp/coffer-compatbench.XXXXXX)
chmod 755 "$dir"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	"$top/tests/pgtmp.sh" stop "$dir/pg" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# start ENGINE DSN: a cofferd on $port; waits until the catalog is loaded.
start() {
	cat >"$dir/cofferd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
admin_listen = 127.0.0.1:$((port + 1))
workers = ${WORKERS:-2}
runtime_dir = $dir/run
log_level = warn
[database]
engine = $1
sqlite_path = $dir/coffer.db
postgres_dsn = $2
pool_min = 8
pool_max = 8
[limits]
address_rate = 0
[catalog]
path = $top/data/item-catalog.json
CONF
	"$build/cofferd" -c "$dir/cofferd.conf" 2>>"$dir/cofferd.log" &
	pid=$!
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
	until curl -sf "http://127.0.0.1:$port/api/ge-prices" | grep -q '"995"'; do sleep 0.2; done
}

stop() {
	kill "$pid" && wait "$pid" 2>/dev/null || true
	pid=
}

# cell ENGINE SCRIPT WHAT: one wrk run, one table row.
cell() {
	out=$(GROUPS_FILE=$dir/groups.txt wrk -t2 -c16 -d${secs}s --timeout 10s \
		-s "$here/$2.lua" "http://127.0.0.1:$port" | grep '^RESULT')
	rps=$(echo "$out" | sed -n 's/.*rps=\([0-9]*\).*/\1/p')
	p50=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
	p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
	bad=$(echo "$out" | sed -n 's/.*non2xx=\([0-9]*\).*/\1/p')
	echo "| $1 | $3 | 16 | $rps | $p50 | $p99 | $bad |"
}

rows=
loads=
for engine in ${ENGINES:-sqlite postgres}; do
	rm -f "$dir"/coffer.db*
	dsn=
	if [ "$engine" = postgres ]; then
		dsn=$("$top/tests/pgtmp.sh" start "$dir/pg")
		psql "$dsn" -q -c "CREATE DATABASE coffer_bench"
		dsn="$dsn dbname=coffer_bench"
	fi
	start $engine "$dsn"
	python3 "$here/compat_load.py" setup "http://127.0.0.1:$port" "$groups" 1500 \
		"$dir/groups.txt" >&2
	if [ "${CELLS:-1}" != 0 ]; then
		rows="$rows$(cell $engine compat_update 'update-group-member, full bank (1,500 items)')
"
		rows="$rows$(cell $engine compat_data 'get-group-data from the epoch (5 full banks)')
"
	fi
	out=$(python3 "$here/compat_load.py" run "http://127.0.0.1:$port" "$dir/groups.txt" \
		"$plugins" "$sites" 30)
	loads="$loads| $engine | $plugins plugins + $sites sites, 30 s | $(echo "$out" |
		sed 's/^RESULT //; s/ /, /g') |
"
	stop
	[ "$engine" = postgres ] && "$top/tests/pgtmp.sh" stop "$dir/pg"
done
echo "| engine | request | connections | requests/s | p50 ms | p99 ms | non-2xx |"
echo "|---|---|---|---|---|---|---|"
printf "%s" "$rows"
echo
echo "| engine | load | result |"
echo "|---|---|---|"
printf "%s" "$loads"
