#!/bin/sh
# Make sure headless Chromium is installed for the console's browser tests
# (e2e TestConsole*, make screens): Debian's chromium package, installed if
# missing. Set GATEHOUSE_TEST_CHROMIUM to a browser binary to use another.
set -eu

if [ -n "${GATEHOUSE_TEST_CHROMIUM:-}" ]; then
	exit 0
fi
if command -v chromium >/dev/null 2>&1; then
	exit 0
fi

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
		echo "ensure-chromium: need root to $*" >&2
		return 1
	fi
}

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-chromium: chromium is not installed and this is not Debian;" \
		"install it, or set GATEHOUSE_TEST_CHROMIUM" >&2
	exit 1
fi
echo "ensure-chromium: installing chromium from Debian's packages"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation >/dev/null 2>&1 ||
	{ as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-liberation >/dev/null; }
command -v chromium >/dev/null 2>&1
