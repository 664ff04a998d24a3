#!/bin/sh
# run-db.sh -- statements through the broker vs. direct libpq vs. pgbouncer,
# on one throw-away PostgreSQL 15, at concurrency 1, 16 and 64.
#
#   bench/run-db.sh BUILD_DIR [SECONDS]
#
# Needs the Debian packages postgresql-15 and pgbouncer.  Prints a
# Markdown table for bench/RESULTS.md.  Run it on an otherwise idle machine.
set -eu
build=$(cd "${1:?usage: run-db.sh BUILD_DIR [SECONDS]}" && pwd)
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
(cd "$build" && make -s bench/dbbench)

dir=$(mktemp -d /tmp/coffer-bench.XXXXXX)
chmod 755 "$dir"
cleanup() {
	[ -f "$dir/bouncer/pid" ] && kill "$(cat "$dir/bouncer/pid")" 2>/dev/null || true
	"$here/../tests/pgtmp.sh" stop "$dir/pg"
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
dsn=$("$here/../tests/pgtmp.sh" start "$dir/pg")
psql "$dsn" -q -c "CREATE TABLE bench_items AS
	SELECT g AS id, 'item ' || g AS name, g * 3 AS price FROM generate_series(1, 100000) g;
	ALTER TABLE bench_items ADD PRIMARY KEY (id); ANALYZE bench_items;"

# pgbouncer in transaction mode, as the postgres user (it refuses root).
mkdir -p "$dir/bouncer"
echo '"postgres" ""' >"$dir/bouncer/users.txt"
cat >"$dir/bouncer/pgbouncer.ini" <<INI
[databases]
* = host=$dir/pg
[pgbouncer]
listen_addr =
listen_port = 6432
unix_socket_dir = $dir/bouncer
auth_type = trust
auth_file = $dir/bouncer/users.txt
pool_mode = transaction
default_pool_size = 8
max_client_conn = 500
logfile = $dir/bouncer/log
pidfile = $dir/bouncer/pid
INI
[ "$(id -u)" = 0 ] && chown -R postgres: "$dir/bouncer"
if [ "$(id -u)" = 0 ]; then
	runuser -u postgres -- pgbouncer -d "$dir/bouncer/pgbouncer.ini"
else
	pgbouncer -d "$dir/bouncer/pgbouncer.ini"
fi
bouncer="host=$dir/bouncer port=6432 user=postgres dbname=postgres"
until psql "$bouncer" -qAt -c 'SELECT 1' >/dev/null 2>&1; do :; done

echo "| query | clients | path | statements/s | p50 µs | p99 µs | broker CPU µs/stmt |"
echo "|---|---|---|---|---|---|---|"
for q in select1 lookup; do
	for c in 1 16 64; do
		j=2
		[ "$c" = 1 ] && j=1
		for m in "broker" "libpq" "bouncer"; do
			case $m in
			broker) out=$("$build/bench/dbbench" -m broker -p 8 -D "$dsn" -q $q -c $c -j $j -d "$secs") ;;
			libpq) out=$("$build/bench/dbbench" -m libpq -D "$dsn" -q $q -c $c -j $j -d "$secs") ;;
			bouncer) out=$("$build/bench/dbbench" -m libpq -u -D "$bouncer" -q $q -c $c -j $j -d "$secs") ;;
			esac
			ops=$(echo "$out" | sed -n 's/.*ops\/s=\([0-9]*\).*/\1/p')
			p50=$(echo "$out" | sed -n 's/.*p50_us=\([0-9]*\).*/\1/p')
			p99=$(echo "$out" | sed -n 's/.*p99_us=\([0-9]*\).*/\1/p')
			cpu=$(echo "$out" | sed -n 's/.*broker_cpu_us_per_stmt=\([0-9.]*\).*/\1/p')
			case $m in
			broker) path="coffer broker (pool 8, prepared)" ;;
			libpq) path="direct libpq, 1 conn/client (prepared)" ;;
			bouncer) path="pgbouncer 1.18 transaction (pool 8, unnamed)" ;;
			esac
			echo "| $q | $c | $path | $ops | $p50 | $p99 | ${cpu:--} |"
		done
	done
done
