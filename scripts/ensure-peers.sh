#!/bin/sh
# Make sure the peers make bench compares the gateway with are installed:
# OpenSSH's server and client (sftp), GnuPG and nginx, from Debian's packages
# if any is missing. The benchmark starts and stops its own sshd and nginx on
# 127.0.0.1; installing the packages starts no service the benchmark needs.
set -eu

missing=""
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have sshd || missing="$missing openssh-server"
have sftp || missing="$missing openssh-client"
have gpg || missing="$missing gnupg"
have nginx || missing="$missing nginx-light"
[ -z "$missing" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-peers: missing$missing and this is not Debian; install them, or run make bench PEERS=no" >&2
	exit 1
fi
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
		echo "ensure-peers: need root to $*" >&2
		return 1
	fi
}
echo "ensure-peers: installing$missing from Debian's packages"
# shellcheck disable=SC2086
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
	{ as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null; }
