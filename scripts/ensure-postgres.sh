#!/bin/sh
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 for the tests:
# start the local cluster if it is stopped, install it (Debian) if missing.
# Set GATEHOUSE_TEST_POSTGRES to a postgres:// URL to use another server.
set -eu

if [ -n "${GATEHOUSE_TEST_POSTGRES:-}" ]; then
	exit 0
fi

ready() {
	if command -v pg_isready >/dev/null 2>&1; then
		pg_isready -q -h 127.0.0.1 -p 5432
	else
		(exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null
	fi
}

ready && exit 0

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
		echo "ensure-postgres: need root to $*" >&2
		return 1
	fi
}

installed_now=no
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
	if ! command -v apt-get >/dev/null 2>&1; then
		echo "ensure-postgres: PostgreSQL is not installed and this is not Debian;" \
			"install it, or set GATEHOUSE_TEST_POSTGRES" >&2
		exit 1
	fi
	echo "ensure-postgres: installing PostgreSQL from Debian's packages"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null 2>&1 ||
		{ as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
	installed_now=yes
fi

version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$installed_now" = yes ]; then
	# A fresh cluster asks for passwords on TCP; the tests connect as the
	# postgres role from loopback, as on the development machines.
	hba=/etc/postgresql/$version/main/pg_hba.conf
	as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
fi
echo "ensure-postgres: starting PostgreSQL $version"
as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true

i=0
until ready; do
	i=$((i + 1))
	if [ "$i" -gt 60 ]; then
		echo "ensure-postgres: PostgreSQL did not come up on 127.0.0.1:5432" >&2
		exit 1
	fi
	sleep 0.5
done

if [ "$installed_now" = yes ]; then
	as_root su postgres -c "createdb test" 2>/dev/null || true
fi
