#!/bin/sh
# dev.sh -- the two commands of the README.
#
#   ./dev.sh run    install what is missing, build, run cofferd on SQLite
#                   with demo data (http://localhost:8080, admin :8081)
#   ./dev.sh test   install what is missing, build, run every test on both
#                   engines (unit tests, then the integration suite)
#
# Builds out of tree in build/ (CONFIGURE_FLAGS adds configure options).
set -eu
cd "$(dirname "$0")"
top=$(pwd)

build() {
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi >/dev/null
	fi
	mkdir -p build
	cd build
	# make re-runs configure by itself when configure.ac changes later.
	[ -f Makefile ] || ../configure --quiet ${CONFIGURE_FLAGS:-}
	make -s -j"$(nproc)"
	cd "$top"
}

case "${1:-}" in
run)
	build-aux/install-deps.sh
	build
	exec build/cofferd -c etc/cofferd.dev.conf
	;;
test)
	build-aux/install-deps.sh --test
	build
	cd build
	make -s -j"$(nproc)" check
	;;
*)
	echo "usage: ./dev.sh run | test" >&2
	exit 2
	;;
esac
