#!/bin/sh
# install-deps.sh -- install the Debian 12 packages coffer needs to build,
# run and test, skipping the network when everything is already there.
#   build-aux/install-deps.sh          build + run
#   build-aux/install-deps.sh --test   also the test and benchmark tools (PostgreSQL,
#                                      pytest, clang and its libFuzzer, chromium,
#                                      sqlite3, wrk, pgbouncer)
set -eu
pkgs="autoconf automake make gcc pkg-config libevent-dev libpq-dev libsqlite3-dev
libjansson-dev libcurl4-openssl-dev libssl-dev"
if [ "${1:-}" = "--test" ]; then
	pkgs="$pkgs postgresql-15 python3-pytest python3-requests groff-base clang
libclang-rt-14-dev util-linux chromium sqlite3 wrk pgbouncer strace"
fi
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$missing -- run as root or: sudo apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
