#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: the unmodified thread-per-connection echo server
# (apps/echo_threads) under the shim with DTACT_WORKERS=2 serves 2,000
# concurrent connections x 100 round trips of 1 B..64 KiB random payloads,
# every echoed byte verified (loadgen --verify), while the process never
# has more than workers + 4 OS threads: /proc/PID/status Threads is sampled
# every 100 ms during the whole load and its maximum asserted.  loadgen
# opens all 2,000 connections before the first round trip and keeps them
# open, and the hold point after every connection has been answered once
# shows 2,000 accepted sockets open in the server at once: 2,000 serve()
# threads (fibers) alive together.  The same scenario with 200 connections
# natively first shows that the harness sees real threads (Threads > 200).
#
# Exit status: 0 pass, 1 fail, 77 skipped (environment cannot run it).
set -u
O=${O:-build}
WORKERS=2
CONNS=${SCALE_CONNS:-2000}
ROUNDS=${SCALE_ROUNDS:-100}
NATIVE_CONNS=200
MAX_THREADS=$((WORKERS + 4))

for f in apps/echo_threads apps/loadgen libdtact_shim.so dtact-run; do
	if [ ! -e "$O/$f" ]; then
		echo "shim_scale: FAIL: $O/$f is missing (build first: make O=$O)"
		exit 1
	fi
done

need=$((CONNS + 256))	# per process: the server and loadgen each
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	echo "skipped: needs $need open files, ulimit -n is $(ulimit -n) and cannot be raised"
	exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtact-scale.XXXXXX")
server='' sampler='' lg=''
cleanup() {
	local p
	for p in $lg $sampler; do
		kill "$p" 2>/dev/null
	done
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill "$server" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$server" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$server" 2>/dev/null
	fi
	wait 2>/dev/null
	server='' sampler='' lg=''
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

fail() {
	echo "shim_scale: FAIL: $*"
	exit 1
}

# What the server's threads are doing, for a failure report.
describe_server() {
	local t p
	[ -n "$server" ] && [ -d "/proc/$server" ] || return 0
	echo "  server pid $server threads:"
	for t in /proc/"$server"/task/*; do
		printf '    tid %s %s state %s wchan %s syscall %s\n' \
			"${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
			"$(awk '{ print $3 }' "$t/stat" 2>/dev/null)" \
			"$(cat "$t/wchan" 2>/dev/null)" \
			"$(cut -d' ' -f1-2 "$t/syscall" 2>/dev/null)"
	done | head -n 20
	echo "  server sockets: $(find /proc/"$server"/fd -lname 'socket:*' 2>/dev/null | wc -l)"
	# Both ends of the first stuck connections named by loadgen, with
	# their queues: data waiting in the server's Recv-Q while its fiber
	# sleeps would be a lost wake-up.
	command -v ss >/dev/null || return 0
	for p in $(sed -n 's/.*local port \([0-9]*\).*/\1/p' \
			"$tmp/$label.lg" 2>/dev/null | head -n 3); do
		echo "  connection from port $p (ss -tn):"
		ss -tnH "( sport = :$p or dport = :$p )" 2>/dev/null |
			sed 's/^/    /'
	done
}

# sample PID FILE: every 100 ms until PID is gone or we are killed, keep
# "max_threads samples" in FILE.
sample() {
	local pid=$1 file=$2 max=0 n=0 k v _
	while kill -0 "$pid" 2>/dev/null; do
		while read -r k v _; do
			if [ "$k" = Threads: ]; then
				[ "$v" -gt "$max" ] && max=$v
				n=$((n + 1))
				break
			fi
		done 2>/dev/null <"/proc/$pid/status"
		echo "$max $n" >"$file.new" && mv "$file.new" "$file"
		sleep 0.1
	done
}

# scenario LABEL CONNS CMD...: start the echo server (CMD... is the
# prefix: env, or env DTACT_WORKERS=2 dtact-run), sample its threads,
# run loadgen --verify with a hold after the first round trip, and leave
# in globals: max_threads samples hold_threads hold_sockets elapsed.
scenario() {
	local label=$1 conns=$2 out port rc t0 t1 _
	shift 2
	out=$tmp/$label.server
	"$@" "$O/apps/echo_threads" 0 >"$out" 2>&1 &
	server=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$out" 2>/dev/null)
		[ -n "$port" ] && break
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$port" ] || fail "$label: the echo server did not start: $(cat "$out")"

	echo "0 0" >"$tmp/$label.threads"
	sample "$server" "$tmp/$label.threads" &
	sampler=$!

	t0=$(date +%s.%N)
	timeout 100 "$O/apps/loadgen" -p "$port" --verify -c "$conns" \
		-n "$ROUNDS" --min-size 1 --max-size 65536 --seed 12345 \
		--hold-file "$tmp/$label.release" --hold-secs 20 \
		--stall-secs 15 --fail-hold 3 >"$tmp/$label.lg" 2>&1 &
	lg=$!
	# The hold point: every connection open and answered once.  On a
	# failure loadgen keeps its connections open 3 s: describe the
	# server in that state.
	hold_threads='' hold_sockets=''
	: >"$tmp/$label.desc"
	while kill -0 "$lg" 2>/dev/null; do
		if [ -z "$hold_threads" ] &&
		   grep -q '^holding:' "$tmp/$label.lg" 2>/dev/null; then
			hold_threads=$(awk '/^Threads:/ { print $2 }' \
				"/proc/$server/status" 2>/dev/null)
			hold_sockets=$(find "/proc/$server/fd" \
				-lname 'socket:*' 2>/dev/null | wc -l)
			touch "$tmp/$label.release"
		fi
		if grep -q 'FAIL' "$tmp/$label.lg" 2>/dev/null; then
			describe_server >"$tmp/$label.desc"
			break
		fi
		sleep 0.1
	done
	wait "$lg"
	rc=$?
	lg=
	t1=$(date +%s.%N)
	elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	# One more sample after the load, then stop sampling.
	sleep 0.15
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	sampler=
	read -r max_threads samples <"$tmp/$label.threads"

	if [ $rc -ne 0 ]; then
		echo "shim_scale: FAIL: $label: loadgen --verify exit status $rc" \
		     "$( [ $rc -eq 124 ] && echo '(timed out)')"
		sed 's/^/  | /' "$tmp/$label.lg"
		if [ -s "$tmp/$label.desc" ]; then
			cat "$tmp/$label.desc"
		else
			describe_server
		fi
		sed 's/^/  server| /' "$out" | tail -n 20
		exit 1
	fi
	kill -0 "$server" 2>/dev/null ||
		fail "$label: the echo server died: $(cat "$out")"
	[ -n "$hold_threads" ] ||
		fail "$label: loadgen never reached the hold point: $(cat "$tmp/$label.lg")"
	echo "$label: $(grep -v '^holding' "$tmp/$label.lg")"
	echo "$label: Threads max $max_threads over $samples samples;" \
	     "at the hold point Threads $hold_threads, server sockets" \
	     "$hold_sockets; ${elapsed}s"
	cleanup
}

# 1. The harness, natively: a thread per connection is visible.
scenario native "$NATIVE_CONNS" env
[ "$max_threads" -gt "$NATIVE_CONNS" ] ||
	fail "native: max Threads $max_threads, expected > $NATIVE_CONNS (the sampler does not see the load)"
[ "$hold_sockets" -ge "$NATIVE_CONNS" ] ||
	fail "native: $hold_sockets sockets at the hold point, expected >= $NATIVE_CONNS"

# 2. Under the shim: 2,000 application threads on 2 workers.
scenario shim "$CONNS" env DTACT_WORKERS=$WORKERS "$O/dtact-run"
[ "$max_threads" -le "$MAX_THREADS" ] ||
	fail "shim: max Threads $max_threads > workers + 4 = $MAX_THREADS"
[ "$samples" -ge 3 ] ||
	fail "shim: only $samples Threads samples during the load"
[ "$hold_sockets" -ge "$CONNS" ] ||
	fail "shim: $hold_sockets sockets open in the server at the hold point, expected >= $CONNS (one per live serve() thread)"
echo "shim_scale: ok: $CONNS connections x $ROUNDS round trips verified" \
     "under DTACT_WORKERS=$WORKERS with at most $max_threads OS threads"
exit 0
