#!/bin/sh
# run-fault.sh -- the fault suite's full form: each fault under a longer
# sync load, then a Markdown table of the figures for bench/RESULTS.md.
#
#   bench/run-fault.sh BUILD_DIR [SECONDS] [pytest args...]
#
# The same tests as make check's short form (tests/fault, see its
# faultkit.py for the settings), with SECONDS of load per fault (default
# 60) from 50 plugin clients, the fault 10 s in, PostgreSQL stopped for
# 20 s and the pool held for 20 s (below lease_timeout, 30 s).  Every
# check still applies: a lost acknowledged write, a partial batch or a
# service that does not answer everybody again within 60 s fails the
# run.  Needs postgresql-15 (the suite starts its own server) and
# python3-requests and python3-pytest.  About 13 minutes at 60 s.
set -eu
build=$(cd "${1:?usage: run-fault.sh BUILD_DIR [SECONDS] [pytest args]}" && pwd)
secs=${2:-60}
[ $# -ge 2 ] && shift 2 || shift $#
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)

table=$(mktemp /tmp/coffer-fault-table.XXXXXX)
trap 'rm -f "$table"' EXIT INT TERM

status=0
COFFER_FAULT_CLIENTS=50 COFFER_FAULT_SECONDS=$secs COFFER_FAULT_PRE=10 \
COFFER_FAULT_SETTLE=10 COFFER_FAULT_PG_DOWN=20 COFFER_FAULT_HOLD=20 \
COFFER_FAULT_SLOWLORIS=200 COFFER_FAULT_RECOVERY=60 COFFER_FAULT_TABLE=$table \
	sh "$top/tests/fault/run" "$build/cofferd" "$@" || status=$?
echo
echo "$(date -u +%Y-%m-%d), bench/run-fault.sh BUILD_DIR $secs; $(nproc) CPUs," \
	"$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
cat "$table"
exit $status
