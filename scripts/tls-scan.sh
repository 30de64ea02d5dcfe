#!/bin/sh
# make tls-scan: start a development gateway on spare ports and scan its
# partner (mutual TLS) and admin listeners with sslscan, an independent TLS
# scanner. Fails if anything weaker than TLS 1.2 with ECDHE and AEAD is
# accepted. Installs sslscan from Debian's packages if it is missing.
set -eu
cd "$(dirname "$0")/.."

if ! command -v sslscan >/dev/null 2>&1; then
	echo "tls-scan: installing sslscan"
	if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
	$SUDO apt-get install -y -q sslscan >/dev/null 2>&1 ||
		{ $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q sslscan >/dev/null; }
fi

dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
bin/gatehouse dev --dir "$dir" --minio bin/minio --listen 127.0.0.1:18443 --admin-listen 127.0.0.1:18444 \
	--minio-addr 127.0.0.1:19000 >"$dir/dev.out" 2>"$dir/dev.err" &
pid=$!
i=0
until grep -q "Press Ctrl-C" "$dir/dev.out" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 120 ]; then
		echo "tls-scan: the gateway did not start" >&2
		cat "$dir/dev.err" >&2
		exit 1
	fi
	sleep 0.5
done

status=0
scan() {
	name=$1
	shift
	echo "== $name"
	sslscan --no-colour --no-heartbleed "$@" >"$dir/scan.txt" 2>&1 || true
	sed -n '/SSL\/TLS Protocols/,/Server Key Exchange Group/p' "$dir/scan.txt" | grep -v '^ *$'
	if grep -E 'Accepted|Preferred' "$dir/scan.txt" | grep -E 'SSLv|TLSv1\.0|TLSv1\.1|CBC|RC4|NULL|EXP|DES|MD5' >/dev/null ||
		grep -E '^(SSLv2|SSLv3|TLSv1\.0|TLSv1\.1) +enabled' "$dir/scan.txt" >/dev/null; then
		echo "tls-scan: $name accepts something weaker than TLS 1.2 with ECDHE and AEAD" >&2
		status=1
	fi
	if ! grep -E 'TLSv1\.3 +enabled' "$dir/scan.txt" >/dev/null; then
		echo "tls-scan: $name does not offer TLS 1.3" >&2
		status=1
	fi
}
scan "partner listener (mutual TLS, with a party certificate)" \
	--certs="$dir/pki/council.revenues.crt" --pk="$dir/pki/council.revenues.key" 127.0.0.1:18443
scan "admin listener" 127.0.0.1:18444
exit $status
