#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: the eBPF tool dtactlat against live programs under the shim
# (DESIGN 11).  The bundled echo server (2 workers) under loadgen: the
# probe semaphores are 0 before dtactlat attaches, non-zero while it is
# attached, 0 again after it exits; `dtactlat -p PID 1 2` prints two
# intervals with switches in each, averages in (0, 1 s); the histogram
# total (plus the untimed switch-ins) equals an independent bpftrace count
# of dtact:switch_in over the same quiet-bounded window; -R shows io parks
# dominating for the echo server and sleep parks for tests/apps/sleeper;
# -L splits the same total by worker; a PID that does not map the library
# (sleep) and a PID that does not exist are refused with one line, exit 1.
#
# Needs root (CAP_BPF + CAP_PERFMON), BPF and uprobes: without them it
# says "skipped: <reason>" and exits 77; it never passes without tracing.
# Exit 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
D=$O/dtactlat
shim=$(cd "$O" 2>/dev/null && pwd)/libdtact_shim.so
echo_app=$O/apps/echo_threads
loadgen=$O/apps/loadgen
sleeper=$O/tests/apps/sleeper

skip() { echo "skipped: $*"; exit 77; }
fail=0
bad() { echo "FAIL: $*"; fail=1; }

for f in "$echo_app" "$loadgen" "$sleeper"; do
	[ -x "$f" ] || skip "$f is not built (make O=$O)"
done
[ -f "$shim" ] || skip "$O/libdtact_shim.so is not built"
if [ ! -x "$D" ]; then
	[ -e /sys/kernel/btf/vmlinux ] ||
		skip "the kernel has no BTF (/sys/kernel/btf/vmlinux), so $D is not built"
	echo "FAIL: $D is not built although the kernel has BTF"
	exit 1
fi
[ "$(id -u)" = 0 ] || skip "needs root (CAP_BPF and CAP_PERFMON) to attach uprobes"
[ -e /sys/bus/event_source/devices/uprobe ] ||
	skip "the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe)"
command -v python3 >/dev/null || skip "python3 is needed to read the JSON lines"
# bpf(BPF_MAP_CREATE, NULL, 0): EINVAL or EFAULT when BPF is there.
bpf_errno=$(python3 -c 'import ctypes; l = ctypes.CDLL(None, use_errno=True)
l.syscall(321, 0, None, 0); print(ctypes.get_errno())' 2>/dev/null)
case $bpf_errno in
38) skip "the kernel has no bpf() system call (ENOSYS)" ;;
1)  skip "bpf() is not permitted here (EPERM: lockdown or seccomp)" ;;
esac
if ! readelf -n "$shim" 2>/dev/null | grep -q 'Provider: dtact'; then
	# Built with PROBES=0: the tool has nothing to attach to.
	skip "$O/libdtact_shim.so has no dtact USDT probes (PROBES=0 build?)"
fi

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

# wait_for GLOB PATTERN [SECONDS]: until a file matching GLOB has a line
# matching PATTERN.
wait_for() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		grep -qs "$2" $1 && return 0
		sleep 0.05
	done
	return 1
}

# sema NAME: the value of semaphore dtact:NAME in the server.
sema() {
	"$D" -p "$srv" --check | awk -v n="$1" '$1 == n { print $2 }'
}

# json EXPR FILE: evaluate a python expression over the JSON lines of FILE
# (list L).
json() {
	python3 -c 'import json, sys
L = [json.loads(x) for x in open(sys.argv[2]) if x.startswith("{")]
print(eval("(" + sys.argv[1] + ")"))' "$1" "$2"
}

# --- the server -------------------------------------------------------------
LD_PRELOAD=$shim DTACT_WORKERS=2 DTACT_STATS=json "$echo_app" 0 \
	>"$tmp/echo.out" 2>"$tmp/echo.err" &
srv=$!
pids+=("$srv")
wait_for "$tmp/echo.out" '^listening on' || {
	cat "$tmp/echo.err"
	echo "FAIL: the echo server did not start"
	exit 1
}
port=$(awk '/^listening on/ { print $3 }' "$tmp/echo.out")
lib=$(awk '$NF ~ /libdtact_shim\.so$/ { print $NF; exit }' "/proc/$srv/maps")

# --- refusals ---------------------------------------------------------------
sh -c 'exit 0' &
gone=$!
wait "$gone"
out=$("$D" -p "$gone" 1 1 2>&1)
rc=$?
[ $rc = 1 ] || bad "non-existent PID $gone: exit $rc (want 1)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && grep -q "no process with PID $gone" <<<"$out" ||
	bad "non-existent PID: message '$out'"

sleep 60 &
nodt=$!
pids+=("$nodt")
out=$("$D" -p "$nodt" 1 1 2>&1)
rc=$?
[ $rc = 1 ] || bad "sleep (no dtact): exit $rc (want 1)"
[ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
	grep -q "does not map libdtact_shim.so or libdtact.so" <<<"$out" ||
	bad "sleep (no dtact): message '$out'"
kill "$nodt"

# --- semaphores while detached ------------------------------------------------
"$D" -p "$srv" --check >"$tmp/check0" 2>&1 || bad "--check failed: $(cat "$tmp/check0")"
for p in switch_in switch_out; do
	v=$(awk -v n=$p '$1 == n { print $2 }' "$tmp/check0")
	[ "$v" = 0 ] || bad "semaphore $p before attaching: '$v' (want 0)"
done

# --- intervals under load, semaphores while attached ----------------------------
# Each dtactlat run attaches while the server is idle, a load covering its
# intervals starts once it prints its banner and ends with them, so that it
# detaches from an idle server: the kernel waits for RCU grace periods on
# every attach and detach, and on a busy machine one has taken seconds.
# traced RUN SECONDS DTACTLAT-ARGS...: RUN.out (stdout), RUN.err (stderr).
traced() {
	local run=$1 secs=$2 dl lg rc
	shift 2
	"$D" -p "$srv" "$@" >"$tmp/$run.out" 2>"$tmp/$run.err" &
	dl=$!
	# The banner: on stderr with -j, on stdout without.
	if ! wait_for "$tmp/$run.*" '^Tracing' 60; then
		bad "dtactlat $*: did not start: $(cat "$tmp/$run.err")"
		kill "$dl"
		return 1
	fi
	"$loadgen" -p "$port" -c 100 -s 64 -w 0 -d "$secs" >"$tmp/$run.load" 2>&1 &
	lg=$!
	if [ "$run" = j2 ]; then
		sleep 0.5
		v=$(sema switch_in)
		[ -n "$v" ] && [ "$v" -gt 0 ] ||
			bad "semaphore switch_in while attached: '$v' (want > 0)"
	fi
	wait "$lg" || bad "loadgen during dtactlat $*: exit $? ($(tail -3 "$tmp/$run.load"))"
	wait "$dl"
	rc=$?
	[ $rc = 0 ] || bad "dtactlat $*: exit $rc ($(cat "$tmp/$run.err"))"
	return $rc
}

traced j2 2.3 -j 1 2
v=$(sema switch_in)
[ "$v" = 0 ] || bad "semaphore switch_in after dtactlat exited: '$v' (want 0)"
n=$(json 'len(L)' "$tmp/j2.out")
[ "$n" = 2 ] || bad "dtactlat -j 1 2 printed $n intervals (want 2)"
ok=$(json 'all(x["count"] > 0 and 0 < x["avg"] < 1e9 and
	x["count"] == sum(s[2] for s in x["slots"]) for x in L)' "$tmp/j2.out")
[ "$ok" = True ] || bad "intervals: counts not > 0, avg outside (0, 1 s) or slots not adding up: $(cat "$tmp/j2.out")"
grep -q 'each traced event costs about [0-9]* ns' "$tmp/j2.err" ||
	bad "no measured per-event cost: $(cat "$tmp/j2.err")"

# The same in text, as a person reads it.
traced t2 2.3 1 2
n=$(grep -cE '^ready->running: count [1-9][0-9]*, avg [1-9]' "$tmp/t2.out")
[ "$n" = 2 ] || bad "text: $n intervals with switches (want 2): $(cat "$tmp/t2.out")"
grep -q ' -> .* : [0-9]* *|\*' "$tmp/t2.out" || bad "text: no histogram rows"

# -R: switch-outs by reason; io dominates an echo server.
traced r 1.3 -R -j 1 1
top=$(json 'max(L[0]["reasons"].items(), key=lambda kv: kv[1]["count"])[0]' "$tmp/r.out")
[ "$top" = io ] || bad "echo server: top switch-out reason '$top' (want io): $(cat "$tmp/r.out")"

# -L: per-worker histograms add up to the total.
traced l 1.3 -L -j 1 1
ok=$(json 'len(L[0]["workers"]) >= 1 and
	sum(w["count"] for w in L[0]["workers"]) == L[0]["count"] and
	all(0 <= w["worker"] < 2 for w in L[0]["workers"])' "$tmp/l.out")
[ "$ok" = True ] || bad "-L: workers do not add up: $(cat "$tmp/l.out")"

# --- the total against an independent count ---------------------------------------
# Both tracers attach while the server is idle, the load runs, the server
# goes quiet again, then both stop: the two windows hold the same events.
if command -v bpftrace >/dev/null; then
	sleep 0.5
	# BEGIN runs once every probe is attached.
	bpftrace -p "$srv" -e "BEGIN { printf(\"attached\\n\"); }
		usdt:$lib:dtact:switch_in { @n = count(); }" >"$tmp/bt.out" 2>&1 &
	bt=$!
	pids+=("$bt")
	if wait_for "$tmp/bt.out" '^attached' 60; then
		"$D" -p "$srv" -j 0.5 >"$tmp/all.out" 2>"$tmp/all.err" &
		dl=$!
		pids+=("$dl")
		wait_for "$tmp/all.err" '^Tracing' 60 || bad "dtactlat did not start"
		"$loadgen" -p "$port" -c 50 -s 64 -d 2 >"$tmp/load2.out" 2>&1 ||
			bad "loadgen (count window): exit $?"
		sleep 1
		kill -INT "$dl"
		wait "$dl"
		stop_bpftrace "$bt"
		want=$(awk '/^@n:/ { print $2 }' "$tmp/bt.out")
		got=$(json 'sum(x["count"] + x["untimed"] for x in L)' "$tmp/all.out")
		if [ -z "$want" ] || [ "$want" = 0 ]; then
			bad "bpftrace counted nothing: $(cat "$tmp/bt.out")"
		elif [ "$got" != "$want" ]; then
			bad "dtactlat saw $got switch-ins, bpftrace $want"
		else
			echo "switch-ins: dtactlat $got = bpftrace $want"
		fi
	else
		bad "bpftrace did not attach: $(cat "$tmp/bt.out")"
	fi
else
	bad "bpftrace is not installed (scripts/deps.sh installs it): total not cross-checked"
fi

# --- a program that sleeps ----------------------------------------------------
LD_PRELOAD=$shim DTACT_WORKERS=2 "$sleeper" 4 20 >"$tmp/sl.out" 2>&1 &
sl=$!
pids+=("$sl")
wait_for "$tmp/sl.out" '^sleeping' || bad "sleeper did not start"
"$D" -p "$sl" -R -j 1 1 >"$tmp/rs.out" 2>"$tmp/rs.err" || bad "dtactlat -R (sleeper): exit $?"
top=$(json 'max(L[0]["reasons"].items(), key=lambda kv: kv[1]["count"])[0]' "$tmp/rs.out")
[ "$top" = sleep ] || bad "sleeper: top switch-out reason '$top' (want sleep): $(cat "$tmp/rs.out")"
kill "$sl"

# The target's exit ends dtactlat.
"$D" -p "$srv" 0.2 >"$tmp/exit.out" 2>&1 &
dl=$!
wait_for "$tmp/exit.out" '^Tracing' 60
kill "$srv"
for ((i = 0; i < 100; i++)); do
	kill -0 "$dl" 2>/dev/null || break
	sleep 0.05
done
if kill -0 "$dl" 2>/dev/null; then
	bad "dtactlat did not exit with its target"
	kill "$dl"
fi
wait "$dl" 2>/dev/null
grep -q "PID $srv exited" "$tmp/exit.out" || bad "no 'exited' note: $(tail -3 "$tmp/exit.out")"

[ $fail = 0 ] && echo "dtactlat: all checks passed"
exit $fail
