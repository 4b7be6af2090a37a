#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: the semantics table.  tests/apps/semantics (a plain pthread
# program) runs its scenarios natively, then under the shim with
# DTACT_WORKERS=2 and DTACT_WORKERS=1; every scenario prints one line of
# return value, errno and data, and the three outputs must be identical
# (any difference fails, with the diff shown).  The process-level
# scenarios (main's pthread_exit with threads still running, exit() from
# a thread, a default SIGPIPE on a thread) must give the same output and
# exit status natively and under the shim.  One dtact-only assertion
# (DESIGN 8): a read blocked on a socket that another thread closes ends
# with EBADF under the shim (natively it stays blocked, so it is not in
# the compared table: the table uses shutdown(), which both agree on).
#
# Exit status: 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
APP=$O/tests/apps/semantics
SHIM=$O/libdtact_shim.so
# A run takes about 10 s (its waits are sleeps); the three table runs go
# side by side.  The limit is for a hang, on a machine that may be busy.
RUN_TIMEOUT=${SEMANTICS_TIMEOUT:-150}

for f in "$APP" "$SHIM"; do
	if [ ! -e "$f" ]; then
		echo "shim_semantics: FAIL: $f is missing (build first: make O=$O)"
		exit 1
	fi
done
SHIM=$(cd "$(dirname "$SHIM")" && pwd)/$(basename "$SHIM")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtact-sem.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# run NAME [env...] -- args: stdout to $tmp/NAME.out, rc to $tmp/NAME.rc
run() {
	local name=$1; shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	(cd "$tmp" && env "${envs[@]}" timeout -k 5 "$RUN_TIMEOUT" "$APP" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err")
	echo $? >"$tmp/$name.rc"
}

# --- the table ------------------------------------------------------------
run native -- &
run shim2 LD_PRELOAD="$SHIM" DTACT_WORKERS=2 -- &
run shim1 LD_PRELOAD="$SHIM" DTACT_WORKERS=1 -- &
wait
if [ "$(cat "$tmp/native.rc")" != 0 ]; then
	echo "FAIL: the table does not run natively (rc $(cat "$tmp/native.rc")):"
	tail -n 5 "$tmp/native.out" "$tmp/native.err"
	exit 1
fi
n=$(wc -l <"$tmp/native.out")
for w in 2 1; do
	rc=$(cat "$tmp/shim$w.rc")
	if [ "$rc" != 0 ]; then
		fail "under the shim (DTACT_WORKERS=$w) the table exited $rc" \
		     "$( [ "$rc" = 124 ] && echo '(timeout)')"
		tail -n 3 "$tmp/shim$w.err"
	fi
	if ! diff -u "$tmp/native.out" "$tmp/shim$w.out" >"$tmp/diff$w"; then
		fail "DTACT_WORKERS=$w differs from native (- native, + shim):"
		grep '^[-+][^-+]' "$tmp/diff$w"
	else
		echo "table: $n lines, native == shim with DTACT_WORKERS=$w"
	fi
done

# --- process-level scenarios: output and exit status -------------------------
for mode in mainexit threadexit sigpipe_default; do
	run "n_$mode" -- --mode $mode &
	for w in 2 1; do
		run "s_$mode$w" LD_PRELOAD="$SHIM" DTACT_WORKERS=$w -- --mode $mode &
	done
done
wait
for mode in mainexit threadexit sigpipe_default; do
	for w in 2 1; do
		want="$(cat "$tmp/n_$mode.out") rc=$(cat "$tmp/n_$mode.rc")"
		got="$(cat "$tmp/s_$mode$w.out") rc=$(cat "$tmp/s_$mode$w.rc")"
		if [ "$want" != "$got" ]; then
			fail "$mode (DTACT_WORKERS=$w): native [$want] shim [$got]"
		else
			echo "$mode: same output and exit status (rc=$(cat "$tmp/n_$mode.rc")), DTACT_WORKERS=$w"
		fi
	done
done

# --- fd 0 as inherited: a pipe whose writer comes after a while ------------
(sleep 0.2; echo go; sleep 1) | run n_stdin -- --mode stdin &
for w in 2 1; do
	(sleep 0.2; echo go; sleep 1) | run "s_stdin$w" LD_PRELOAD="$SHIM" DTACT_WORKERS=$w -- --mode stdin &
done
wait
for w in 2 1; do
	want="$(cat "$tmp/n_stdin.out") rc=$(cat "$tmp/n_stdin.rc")"
	got="$(cat "$tmp/s_stdin$w.out") rc=$(cat "$tmp/s_stdin$w.rc")"
	if [ "$want" != "$got" ]; then
		fail "stdin (DTACT_WORKERS=$w): native [$want] shim [$got]"
	else
		echo "stdin pipe: same readiness and data, DTACT_WORKERS=$w"
	fi
done

# --- dtact-only: close() wakes a blocked read with EBADF (DESIGN 8) ----------
for w in 2 1; do
	run "closewait$w" LD_PRELOAD="$SHIM" DTACT_WORKERS=$w -- --mode closewait
	got=$(cat "$tmp/closewait$w.out")
	if [ "$got" != "closewait: ret=-1 errno=EBADF" ] ||
	   [ "$(cat "$tmp/closewait$w.rc")" != 0 ]; then
		fail "close while a read waits (DTACT_WORKERS=$w): [$got] rc=$(cat "$tmp/closewait$w.rc")"
	else
		echo "close while a read waits: EBADF under the shim, DTACT_WORKERS=$w"
	fi
done
exit $status
