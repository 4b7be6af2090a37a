#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: a process forked from a fiber gets a working one-worker
# runtime.  tests/apps/fork_child forks from main while threads block in
# read(), from a thread that is not main (with 2 workers, placed on
# worker 1, whose thread blocks the program's signals), while threads
# wait for a mutex and a condition variable, and after a thread finished
# but before it was joined, and 200 times from two threads at once while
# six others lock and ping-pong (children of 20 threads each).  The
# child runs 200 threads ping-ponging over socketpairs, 50 concurrent
# sleeps, fork + exec, a read() cut short by a signal (EINTR), relocks
# the mutex, times out on the condition variable, joins the finished
# thread and, its last thread returning, exits 0 with its atexit
# handlers run.  With 2 workers and
# with 1 it must pass the same checks ("ok ..." lines) as natively, and
# the child's 200 threads must be fibers: at most 3 OS threads in the
# child while they all live (201 natively).
#
# Exit 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
app=$O/tests/apps/fork_child
shim=$(cd "$O" 2>/dev/null && pwd)/libdtact_shim.so

skip() { echo "skipped: $*"; exit 77; }
[ -x "$app" ] || skip "$app is not built (make $app)"
[ -f "$shim" ] || skip "$O/libdtact_shim.so is not built"
[ -r /proc/self/status ] || skip "no /proc/self/status"
[ -x /bin/true ] || skip "no /bin/true for the child's fork + exec"

tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

scenarios="main thread mutex zombie busy"
modes="native shim2 shim1"
max_busy=3

# run SCENARIO MODE [VAR=value...]: SCENARIO.MODE.{out,err,rc}
run() {
	local name=$1.$2 scenario=$1
	shift 2
	timeout 60 env "$@" "$app" "$scenario" </dev/null \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}

# All at once: the program's watchdogs bound a hung run to about 20 s,
# timeout(1) to 60, and run one after the other they would add up.
for s in $scenarios; do
	run "$s" native &
	run "$s" shim2 LD_PRELOAD="$shim" DTACT_WORKERS=2 &
	run "$s" shim1 LD_PRELOAD="$shim" DTACT_WORKERS=1 &
done
wait

show() { # NAME: its stdout and stderr, indented
	echo "  $1 stdout:"
	sed 's/^/  | /' "$tmp/$1.out"
	if [ -s "$tmp/$1.err" ]; then
		echo "  $1 stderr:"
		sed 's/^/  | /' "$tmp/$1.err" | tail -n 30
	fi
}

for s in $scenarios; do
	grep '^ok ' "$tmp/$s.native.out" | sort -u >"$tmp/$s.native.ok"
	for m in $modes; do
		name=$s.$m
		rc=$(cat "$tmp/$name.rc")
		why=
		if [ "$rc" != 0 ]; then
			why="exit $rc"
			[ "$rc" = 124 ] && why="$why (timed out)"
		elif grep -q '^FAIL' "$tmp/$name.out"; then
			why="a check failed"
		elif ! grep -qx "done $s" "$tmp/$name.out"; then
			why="no 'done $s' line"
		fi
		if [ "$m" != native ]; then
			grep '^ok ' "$tmp/$name.out" | sort -u >"$tmp/$name.ok"
			if ! diff -u "$tmp/$s.native.ok" "$tmp/$name.ok" \
				>"$tmp/$name.diff"; then
				why="${why:+$why; }not the native checks"
				sed 's/^/  ~ /' "$tmp/$name.diff"
			fi
		fi
		if [ -n "$why" ]; then
			bad "$s, $m: $why"
			show "$name"
		fi
	done
done

# The child's threads, while its 200 ping-pong threads all live.
busy() { # MODE: threads-busy of the main scenario's child
	awk '$1 == "threads-busy" { print $2; exit }' "$tmp/main.$1.out"
}
native_busy=$(busy native)
echo "threads-busy in the child: native ${native_busy:-?}," \
	"shim2 $(busy shim2), shim1 $(busy shim1)"
for m in shim2 shim1; do
	n=$(busy $m)
	case $n in
	'' | *[!0-9]*) bad "main, $m: no threads-busy line" ;;
	*) [ "$n" -le $max_busy ] ||
		bad "main, $m: $n threads in the child, expected <= $max_busy" ;;
	esac
done

[ $fail = 0 ] && echo "pass" || echo "FAILED"
exit $fail
