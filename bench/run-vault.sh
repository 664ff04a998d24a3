#!/bin/sh
# run-vault.sh -- the kept vault against what it replaced: vault pages and
# bank syncs over HTTP, on SQLite and on PostgreSQL, at 16 and 256
# connections, each in one run of this script:
#
#   new     cofferd from BUILD_DIR (the kept vault)
#   before  cofferd from BEFORE_BUILD_DIR (the commit before it), on a copy
#           of the same data with the kept vault's tables dropped
#   node    (PostgreSQL) bench/node-vault: Node 20 + Express 5 + pg.Pool
#           issuing the previous aggregate page query, on that copy
#   pgbench (PostgreSQL) the statements of one new vault page, and of one
#           new bank sync, replayed by pgbench on 8 connections (the pool)
#
#   bench/run-vault.sh BUILD_DIR BEFORE_BUILD_DIR [SECONDS] [GROUPS]
#
# BEFORE_BUILD_DIR: build the previous commit somewhere, e.g.
#   git archive <commit> | tar -x -C /tmp/before && cd /tmp/before &&
#   autoreconf -fi && mkdir build && cd build && ../configure && make
# Data: bench/gen_data.py (GROUPS groups of 5 members, one 800-item bank
# each), the kept vault filled by migration 003's backfill and 006.  Needs wrk,
# pgbench and postgresql-15 (apt-get install wrk postgresql-15
# postgresql-contrib-15), node and npm (Node 20); the Node server's
# packages are installed from the npm registry into the scratch directory,
# never into the tree.  Prints Markdown tables for bench/RESULTS.md.
set -eu
build=$(cd "${1:?usage: run-vault.sh BUILD_DIR BEFORE_BUILD_DIR [SECONDS] [GROUPS]}" && pwd)
before=$(cd "${2:?usage: run-vault.sh BUILD_DIR BEFORE_BUILD_DIR [SECONDS] [GROUPS]}" && pwd)
secs=${3:-10}
groups=${4:-1000}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
port=18780
nport=18790

for tool in wrk pgbench psql node npm; do
	command -v $tool >/dev/null || { echo "run-vault.sh: $tool is missing" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/coffer-vaultbench.XXXXXX)
chmod 755 "$dir"
pid=
npid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	[ -n "$npid" ] && kill "$npid" 2>/dev/null && wait "$npid" 2>/dev/null
	"$top/tests/pgtmp.sh" stop "$dir/pg"
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The Node server and its packages, in the scratch directory.
mkdir -p "$dir/node"
cp "$here/node-vault/package.json" "$here/node-vault/server.js" \
	"$here/node-vault/old-page.sql" "$dir/node/"
(cd "$dir/node" && npm install --no-audit --no-fund --silent >&2)

# start BINARY ENGINE SQLITE_PATH DSN: a cofferd on $port, 2 workers,
# pool_max 8; waits until it answers.
start() {
	cat >"$dir/cofferd.conf" <<CONF
[server]
listen = 127.0.0.1:$port
admin_listen = 127.0.0.1:$((port + 1))
workers = 2
runtime_dir = $dir/run
log_level = warn
[database]
engine = $2
sqlite_path = $3
postgres_dsn = $4
pool_min = 8
pool_max = 8
[catalog]
path = $top/data/item-catalog.json
CONF
	"$1" -c "$dir/cofferd.conf" 2>>"$dir/cofferd.log" &
	pid=$!
	until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do sleep 0.1; done
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# cell ENGINE SERVER SCRIPT CONNECTIONS PORT: one wrk run, one table row.
cell() {
	echo "$(date -u +%H:%M:%S) $1 $2 $3 $4" >>"$dir/cells"
	out=$(GROUPS=$groups ITEMS=800 ITEMS_FILE=$dir/items.txt \
		wrk -t2 -c$4 -d${secs}s --timeout 10s -s "$here/$3.lua" \
		"http://127.0.0.1:$5" | grep '^RESULT')
	rps=$(echo "$out" | sed -n 's/.*rps=\([0-9]*\).*/\1/p')
	p50=$(echo "$out" | sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p')
	p99=$(echo "$out" | sed -n 's/.*p99_ms=\([0-9.]*\).*/\1/p')
	bad=$(echo "$out" | sed -n 's/.*non2xx=\([0-9]*\).*/\1/p')
	err=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
	case $3 in
	vault) what="GET …/vault (default page)" ;;
	sync) what="PUT …/containers/bank (800 items, 3 changed)" ;;
	esac
	echo "| $1 | $2 | $what | $4 | $rps | $p50 | $p99 | $bad | $err |"
}

# pgbench_cell NAME SCRIPT CLIENTS: one pgbench run, one table row.
pgbench_cell() {
	tps=$(pgbench -n -M prepared -T "$secs" -c "$3" -j 2 -D groups="$groups" \
		-f "$here/$2" "$pgdsn" 2>/dev/null | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	echo "| postgres | pgbench: $1 | $3 connections | ${tps%.*} |"
}

drop_kept() {	# what the previous commit's schema lacks
	echo "DROP TABLE vault_holders; DROP TABLE vault_items; DROP TABLE vault_totals;
	      DELETE FROM schema_migrations WHERE version >= 3;"
}

echo "| engine | server | request | connections | requests/s | p50 ms | p99 ms | non-2xx | socket errors |"
echo "|---|---|---|---|---|---|---|---|---|"
pgbench_rows=
for engine in sqlite postgres; do
	rm -f "$dir"/coffer*.db*
	pgdsn=
	if [ "$engine" = postgres ]; then
		dsn=$("$top/tests/pgtmp.sh" start "$dir/pg")
		psql "$dsn" -q -c "CREATE DATABASE coffer_bench"
		pgdsn="$dsn dbname=coffer_bench"
		beforedsn="$dsn dbname=coffer_before"
		# What the server does in the background, for the p99s.
		# And for the sync's tail: every lock wait past 100 ms and
		# every statement past 200 ms, with the time it started.
		psql "$dsn" -q -c "ALTER SYSTEM SET log_checkpoints = on" \
			-c "ALTER SYSTEM SET log_autovacuum_min_duration = 0" \
			-c "ALTER SYSTEM SET log_lock_waits = on" \
			-c "ALTER SYSTEM SET deadlock_timeout = '100ms'" \
			-c "ALTER SYSTEM SET log_min_duration_statement = 200" \
			-c "SELECT pg_reload_conf()" >/dev/null
	fi
	start "$build/cofferd" $engine "$dir/coffer.db" "$pgdsn"
	until [ "$(if [ $engine = sqlite ]; then sqlite3 "$dir/coffer.db" 'SELECT count(*) FROM catalog_snapshots'; else psql "$pgdsn" -qAt -c 'SELECT count(*) FROM catalog_snapshots'; fi 2>/dev/null || echo 0)" -ge 1 ]; do sleep 0.2; done
	OUT_DIR=$dir python3 "$here/gen_data.py" "$engine" \
		"$([ "$engine" = sqlite ] && echo "$dir/coffer.db" || echo "$pgdsn")" "$groups" 800 >&2
	stop
	# The copy for the previous commit, before any sync changes the data.
	if [ "$engine" = sqlite ]; then
		sqlite3 "$dir/coffer.db" "VACUUM INTO '$dir/coffer-before.db'"
		drop_kept | sqlite3 "$dir/coffer-before.db"
	else
		psql "$dsn" -q -c "CREATE DATABASE coffer_before TEMPLATE coffer_bench"
		drop_kept | psql "$beforedsn" -q
		psql "$beforedsn" -q -c "VACUUM ANALYZE"
		psql "$pgdsn" -q -c "VACUUM ANALYZE"
		psql "$dsn" -q -c "CHECKPOINT"
	fi

	start "$build/cofferd" $engine "$dir/coffer.db" "$pgdsn"
	for script in vault sync; do
		for c in 16 256; do
			cell $engine "coffer (kept vault)" $script $c $port
		done
	done
	stop
	start "$before/cofferd" $engine "$dir/coffer-before.db" "${beforedsn:-}"
	for script in vault sync; do
		for c in 16 256; do
			cell $engine "coffer (previous commit)" $script $c $port
		done
	done
	stop
	if [ "$engine" = postgres ]; then
		(cd "$dir/node" && exec node server.js $nport "$beforedsn" 2 4) 2>>"$dir/node.log" &
		npid=$!
		until curl -s -o /dev/null "http://127.0.0.1:$nport/"; do sleep 0.1; done
		for c in 16 256; do
			cell $engine "Node 20 + Express 5 + pg (previous query)" vault $c $nport
		done
		kill "$npid"; wait "$npid" 2>/dev/null || true; npid=
		pgbench_rows="$pgbench_rows
$(pgbench_cell "one new vault page's statements" vault.pgbench 8)
$(pgbench_cell "one new bank sync's statements" sync.pgbench 8)"
	fi
done
echo
echo "| engine | replay | clients | transactions/s |"
echo "|---|---|---|---|"
echo "$pgbench_rows" | sed '/^$/d'
echo
echo "Cells started (UTC):"
sed 's/^/    /' "$dir/cells"
echo "PostgreSQL checkpoints and autovacuum after the data was loaded:"
grep -E "checkpoint starting|automatic (vacuum|analyze)" "$dir/pg/server.log" |
	sed -E 's/^[0-9-]+ ([0-9:]+)\.[0-9]+ UTC \[[0-9]+\] LOG: +/    \1 /' | cut -c1-110 | tail -40
echo "PostgreSQL lock waits past 100 ms (log_lock_waits), by the statement that waited:"
grep -A3 "still waiting for" "$dir/pg/server.log" | grep -E "STATEMENT" |
	sed -E 's/.*STATEMENT: +//' | cut -c1-70 | sort | uniq -c | sort -rn | head -10
echo "PostgreSQL statements past 200 ms, per minute and statement (first 60 characters):"
grep "duration: " "$dir/pg/server.log" |
	sed -E 's/^[0-9-]+ ([0-9]+:[0-9]+):[0-9.]+ UTC.*duration: ([0-9.]+) ms +(statement|execute [^:]*): +(.{0,60}).*/\1 \4/' |
	sort | uniq -c | sort -k2,2 -k1,1rn | head -40
