#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo.sh - the one-screen demonstration (make demo): the bundled
# thread-per-connection echo server, unmodified, first natively and then
# under the shim (DTACT_WORKERS=2), each driven by loadgen with 1,000
# connections doing 64-byte ping-pong.  The server's /proc/PID/status is
# sampled every 250 ms during the measurement window and the peak kept.
# Prints one table: OS threads, resident memory, requests/s, p99 latency
# for native, shim, and shim/native.
#
#   O=build scripts/demo.sh        (needs $O/apps/echo_threads,
#                                   $O/apps/loadgen, $O/libdtact_shim.so,
#                                   $O/dtact-run: make all)
# Environment: DEMO_CONNS (1000), DEMO_SECS (5), DEMO_WARMUP (1),
# DEMO_SIZE (64), DEMO_WORKERS (2).
# Exit status 0 when both runs completed without errors.
set -u
O=${O:-build}
conns=${DEMO_CONNS:-1000}
secs=${DEMO_SECS:-5}
warmup=${DEMO_WARMUP:-1}
size=${DEMO_SIZE:-64}
workers=${DEMO_WORKERS:-2}

for f in apps/echo_threads apps/loadgen libdtact_shim.so dtact-run; do
	if [ ! -e "$O/$f" ]; then
		echo "demo: $O/$f is missing: build first (make O=$O all)" >&2
		exit 1
	fi
done

# Natively every connection is a thread with its own descriptor; loadgen
# holds the other end.  Raise the soft limit to the hard one, and the hard
# one too when we may (root) and must.
need=$((conns + 256))	# per process: the server and loadgen each
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$need" ]; then
	ulimit -Hn "$need" 2>/dev/null
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
	echo "demo: need $need open files, ulimit -n is $(ulimit -n)" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtact-demo.XXXXXX")
server=
sampler=
cleanup() {
	[ -n "$sampler" ] && kill "$sampler" 2>/dev/null
	if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
		kill "$server" 2>/dev/null
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$server" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$server" 2>/dev/null
	fi
	wait 2>/dev/null
	server='' sampler=''
}
trap 'cleanup; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_server LABEL CMD...: run the echo server on a free port; sets
# $server (its pid: env and dtact-run exec) and $port.
start_server() {
	local label=$1 out=$tmp/$1.server
	shift
	"$@" "$O/apps/echo_threads" 0 >"$out" 2>&1 &
	server=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$out" 2>/dev/null)
		[ -n "$port" ] && return 0
		kill -0 "$server" 2>/dev/null || break
		sleep 0.05
	done
	echo "demo: the $label echo server did not start:" >&2
	sed 's/^/  | /' "$out" >&2
	return 1
}

# sample PID FILE: until killed, keep the peak Threads, VmRSS and VmPTE
# (kB) of PID in FILE as "threads rss pte".
sample() {
	local pid=$1 file=$2 th=0 rss=0 pte=0 k v _
	while kill -0 "$pid" 2>/dev/null; do
		while read -r k v _; do
			case $k in
			Threads:) [ "$v" -gt "$th" ] && th=$v ;;
			VmRSS:) [ "$v" -gt "$rss" ] && rss=$v ;;
			VmPTE:) [ "$v" -gt "$pte" ] && pte=$v ;;
			esac
		done 2>/dev/null <"/proc/$pid/status"
		echo "$th $rss $pte" >"$file.new" && mv "$file.new" "$file"
		sleep 0.25
	done
}

# run LABEL CMD...: one measurement; leaves $tmp/LABEL.csv (loadgen's
# line) and $tmp/LABEL.peak.
status=0
run() {
	local label=$1 rc
	shift
	echo "demo: $label: echo_threads, $conns connections x $size B," \
	     "${warmup}s warm-up + ${secs}s" >&2
	start_server "$label" "$@" || { status=1; cleanup; return 1; }
	echo "0 0 0" >"$tmp/$label.peak"
	# Sample from the end of the warm-up: the peak of the load.
	( sleep "$warmup"; sample "$server" "$tmp/$label.peak" ) &
	sampler=$!
	timeout $((secs + warmup + 60)) "$O/apps/loadgen" -p "$port" \
		-c "$conns" -s "$size" -d "$secs" -w "$warmup" --csv \
		>"$tmp/$label.csv" 2>"$tmp/$label.err"
	rc=$?
	kill "$sampler" 2>/dev/null
	wait "$sampler" 2>/dev/null
	sampler=
	if [ $rc -ne 0 ]; then
		echo "demo: $label: loadgen exit status $rc" >&2
		sed 's/^/  | /' "$tmp/$label.err" >&2
		status=1
	fi
	if ! kill -0 "$server" 2>/dev/null; then
		echo "demo: $label: the echo server died during the run:" >&2
		sed 's/^/  | /' "$tmp/$label.server" >&2
		status=1
	fi
	cleanup
}

run native env
run shim env DTACT_WORKERS="$workers" "$O/dtact-run"

# csv: conns,size,threads,seconds,requests,rps,p50_ns,p99_ns,p999_ns,
#      max_ns,starved,errors,cpu_pct
field() { cut -d, -f"$2" "$tmp/$1.csv" 2>/dev/null | head -n1; }
peak() { awk -v i="$2" '{ print $i }' "$tmp/$1.peak" 2>/dev/null; }

awk -v conns="$conns" -v size="$size" -v workers="$workers" \
    -v nt="$(peak native 1)" -v nr="$(peak native 2)" -v np="$(peak native 3)" \
    -v st="$(peak shim 1)" -v sr="$(peak shim 2)" -v sp="$(peak shim 3)" \
    -v nq="$(field native 6)" -v n99="$(field native 8)" \
    -v sq="$(field shim 6)" -v s99="$(field shim 8)" \
    -v nerr="$(field native 12)" -v serr="$(field shim 12)" \
    -v nst="$(field native 11)" -v sst="$(field shim 11)" \
    -v ncpu="$(field native 13)" -v scpu="$(field shim 13)" '
function ratio(a, b) {
	if (a == "" || b == "" || b + 0 == 0)
		return "-"
	return sprintf(a / b < 0.1 ? "%.3fx" : "%.2fx", a / b)
}
function num(v, f) { return v == "" ? "-" : sprintf(f, v) }
BEGIN {
	printf "\nthread-per-connection echo server (apps/echo_threads, unmodified),\n"
	printf "%d connections x %d B ping-pong, loopback; shim: DTACT_WORKERS=%d\n\n",
		conns, size, workers
	printf "%-24s %12s %12s %12s\n", "", "native", "shim", "shim/native"
	printf "%-24s %12s %12s %12s\n", "OS threads", num(nt, "%d"),
		num(st, "%d"), ratio(st, nt)
	nm = nr == "" ? "" : (nr + np) / 1024
	sm = sr == "" ? "" : (sr + sp) / 1024
	printf "%-24s %12s %12s %12s\n", "resident memory (MiB)",
		num(nm, "%.1f"), num(sm, "%.1f"), ratio(sm, nm)
	printf "%-24s %12s %12s %12s\n", "requests/s", num(nq, "%d"),
		num(sq, "%d"), ratio(sq, nq)
	nl = n99 == "" ? "" : n99 / 1e6
	sl = s99 == "" ? "" : s99 / 1e6
	printf "%-24s %12s %12s %12s\n", "p99 latency (ms)",
		num(nl, "%.2f"), num(sl, "%.2f"), ratio(sl, nl)
	printf "\nPeaks sampled from /proc/PID/status every 250 ms under load;\n"
	printf "resident memory = VmRSS + VmPTE (page tables): native %s + %s MiB,\n",
		num(nr == "" ? "" : nr / 1024, "%.1f"),
		num(np == "" ? "" : np / 1024, "%.1f")
	printf "shim %s + %s MiB.  Starved connections: native %s, shim %s;\n",
		num(sr == "" ? "" : sr / 1024, "%.1f"),
		num(sp == "" ? "" : sp / 1024, "%.1f"), num(nst, "%d"), num(sst, "%d")
	printf "errors: native %s, shim %s; loadgen CPU: native %s, shim %s\n",
		num(nerr, "%d"), num(serr, "%d"), num(ncpu, "%.0f%%"),
		num(scpu, "%.0f%%")
	printf "of one core (loadgen shares the machine with the server).\n"
}'
exit $status
