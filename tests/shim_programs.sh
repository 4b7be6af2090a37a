#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Description: real, unmodified Debian programs under the shim: python3's
# http.server serves 300 requests from 50 concurrent curl clients with the
# file's sha256 matching; microsocks relays 200 concurrent curl --socks5
# downloads from a local HTTP server, bytes matching; the parent's stdin
# and stdout file status flags are unchanged afterwards.
set -u
O=${O:-build}
SHIM=$(cd "$O" && pwd)/libdtact_shim.so
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

for t in python3 curl microsocks; do
	command -v $t >/dev/null || { echo "skipped: $t not installed (scripts/deps.sh installs it)"; exit 77; }
done

free_port() {
	python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
}
wait_port() {
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
		sleep 0.1
	done
	return 1
}
flags() { python3 -c 'import fcntl,sys;print(fcntl.fcntl(int(sys.argv[1]),fcntl.F_GETFL))' "$1"; }

mkdir -p "$tmp/www"
head -c 300000 /dev/urandom > "$tmp/www/blob"
want=$(sha256sum < "$tmp/www/blob" | cut -c1-64)

# stdin a pipe this test made; stdout a pipe too: their flags must survive.
exec 3< <(sleep 600)
pids+=($!)
in_before=$(flags 3)

# --- python3 -m http.server under the shim -------------------------------
port=$(free_port)
(cd "$tmp/www" && LD_PRELOAD=$SHIM DTACT_WORKERS=2 exec python3 -m http.server \
	"$port" --bind 127.0.0.1 <&3 >"$tmp/http.log" 2>&1) &
pids+=($!)
wait_port "$port" || fail "http.server did not start: $(tail -3 "$tmp/http.log")"
seq 1 300 | xargs -P 50 -I{} sh -c \
	"curl -s --max-time 30 http://127.0.0.1:$port/blob | sha256sum | cut -c1-64" \
	> "$tmp/sums"
n_ok=$(grep -c "^$want\$" "$tmp/sums")
[ "$n_ok" = 300 ] || fail "http.server: $n_ok of 300 downloads matched"
echo "http.server under the shim: 300/300 downloads matched (50 concurrent)"

# --- microsocks relaying a local static server ---------------------------
wport=$(free_port)
(cd "$tmp/www" && exec python3 -m http.server "$wport" --bind 127.0.0.1 \
	>"$tmp/static.log" 2>&1) &
pids+=($!)
wait_port "$wport" || fail "static server did not start"
sport=$(free_port)
LD_PRELOAD=$SHIM DTACT_WORKERS=2 microsocks -i 127.0.0.1 -p "$sport" \
	>"$tmp/socks.log" 2>&1 &
spid=$!
pids+=($spid)
sleep 0.5
seq 1 200 | xargs -P 200 -I{} sh -c \
	"curl -s --max-time 60 --socks5 127.0.0.1:$sport http://127.0.0.1:$wport/blob | sha256sum | cut -c1-64" \
	> "$tmp/ssums"
n_ok=$(grep -c "^$want\$" "$tmp/ssums")
[ "$n_ok" = 200 ] || fail "microsocks: $n_ok of 200 relayed downloads matched"
threads=$(awk '/^Threads:/{print $2}' /proc/$spid/status)
echo "microsocks under the shim: 200/200 relayed downloads matched (200 concurrent), OS threads now $threads"

in_after=$(flags 3)
[ "$in_before" = "$in_after" ] || fail "the shared pipe's flags changed: $in_before -> $in_after"
echo "parent's pipe flags unchanged ($in_after)"
exit 0
