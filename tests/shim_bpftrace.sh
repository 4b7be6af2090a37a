#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: the bpftrace one-liners of the docs (docs/OBSERVABILITY.md,
# "eBPF tool") against the bundled echo server under the shim and under
# load: each attaches to the dtact USDT probes of the running process with
# -p PID and prints a non-empty map (the stall one, which only prints when
# the watchdog fires, must attach cleanly).  Keep OLS in step with the
# docs.
#
# Needs root and a usable bpftrace (scripts/deps.sh installs it): without
# them it says "skipped: <reason>" and exits 77.
# Exit 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
shim=$(cd "$O" 2>/dev/null && pwd)/libdtact_shim.so
echo_app=$O/apps/echo_threads
loadgen=$O/apps/loadgen

skip() { echo "skipped: $*"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

[ -x "$echo_app" ] && [ -x "$loadgen" ] || skip "$O/apps are not built"
[ -f "$shim" ] || skip "$O/libdtact_shim.so is not built"
readelf -n "$shim" 2>/dev/null | grep -q 'Provider: dtact' ||
	skip "$O/libdtact_shim.so has no dtact USDT probes (PROBES=0 build?)"
command -v bpftrace >/dev/null ||
	skip "bpftrace is not installed (scripts/deps.sh installs it)"
[ "$(id -u)" = 0 ] || skip "bpftrace needs root"
if ! out=$(timeout 60 bpftrace -e 'BEGIN { printf("ok\n"); exit(); }' 2>&1) ||
   ! grep -q '^ok' <<<"$out"; then
	skip "bpftrace cannot run here: $(grep -m1 -v RLIMIT_MEMLOCK <<<"$out")"
fi

# name | expected output (grep -E) | program.  $PID and the library need
# not be named: with -p, usdt:*: searches every file the process maps.
OLS=(
"ready|^\[[0-9]+[KMG]?, [0-9]+[KMG]?\) +[1-9]|usdt:*:dtact:switch_in /arg2/ { @ready_ns = hist(arg2); }"
"reasons|^@switch_out\[io\]: [1-9]|usdt:*:dtact:switch_out { @switch_out[arg3 == 0 ? \"yield\" : arg3 == 1 ? \"io\" : arg3 == 2 ? \"sleep\" : arg3 == 3 ? \"lock\" : arg3 == 4 ? \"join\" : arg3 == 5 ? \"exit\" : \"other\"] = count(); }"
"slice|^@ran_ns\[[0-9]+\]:|usdt:*:dtact:switch_out { @ran_ns[arg1] = hist(arg2); }"
"idle|^@idle_ns\[[0-9]+\]:|usdt:*:dtact:unpark { @idle_ns[arg0] = hist(arg1); }"
"wakes|^@wakes\[[0-9]+, -?[0-9]+\]: [1-9]|usdt:*:dtact:wake { @wakes[arg1, arg2] = count(); }"
"stall|^attached|usdt:*:dtact:stall { printf(\"worker %d ran fiber %x for %d ms\\n\", arg0, arg1, arg2 / 1000000); }"
)

tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT

# stop_bpftrace PID: SIGINT, then again while bpftrace still sits in its
# poll loop.  bpftrace 0.17 acts on a SIGINT only when it interrupts
# epoll_wait (one that lands between two calls sets a flag nothing reads
# again); a second one sent blindly could land after it has put the default
# action back to print its maps, and kill it.  At most 120 s.
stop_bpftrace() {
	local i
	kill -INT "$1" 2>/dev/null
	for ((i = 0; i < 240; i++)); do
		sleep 0.5
		kill -0 "$1" 2>/dev/null || break
		[ "$(cat "/proc/$1/wchan" 2>/dev/null)" = do_epoll_wait ] &&
			kill -INT "$1" 2>/dev/null
	done
	wait "$1"
}

wait_for() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		grep -qs "$2" "$1" && return 0
		sleep 0.05
	done
	return 1
}

LD_PRELOAD=$shim DTACT_WORKERS=2 "$echo_app" 0 >"$tmp/echo.out" 2>"$tmp/echo.err" &
srv=$!
pids+=("$srv")
wait_for "$tmp/echo.out" '^listening on' || {
	cat "$tmp/echo.err"
	echo "FAIL: the echo server did not start"
	exit 1
}
port=$(awk '/^listening on/ { print $3 }' "$tmp/echo.out")

# Each one-liner attaches while the server is idle (attaching and detaching
# wait for RCU grace periods, which a loaded machine stretches), then a
# 1.5 s load runs, then SIGINT makes bpftrace print its maps.
for ol in "${OLS[@]}"; do
	name=${ol%%|*}
	rest=${ol#*|}
	want=${rest%%|*}
	prog=${rest#*|}
	# BEGIN runs once every probe is attached.
	bpftrace -p "$srv" -e "BEGIN { printf(\"attached\\n\"); } $prog" \
		>"$tmp/$name.out" 2>&1 &
	bt=$!
	if ! wait_for "$tmp/$name.out" '^attached' 60; then
		bad "$name: bpftrace did not attach: $(grep -v RLIMIT_MEMLOCK "$tmp/$name.out")"
		kill "$bt"
		wait "$bt"
		continue
	fi
	"$loadgen" -p "$port" -c 50 -s 64 -w 0 -d 1.5 >"$tmp/$name.load" 2>&1 ||
		bad "$name: loadgen: exit $? ($(tail -3 "$tmp/$name.load"))"
	sleep 0.3
	stop_bpftrace "$bt"
	if grep -qE "$want" "$tmp/$name.out" &&
	   ! grep -v RLIMIT_MEMLOCK "$tmp/$name.out" | grep -q 'ERROR'; then
		echo "ok: $name: $(grep -cE "$want" "$tmp/$name.out") line(s) like '$want'"
	else
		bad "$name: no line like '$want' in:"
		sed 's/^/  | /' "$tmp/$name.out" | head -30
	fi
done

[ $fail = 0 ] && echo "bpftrace one-liners: all produced output"
exit $fail
