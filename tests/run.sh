#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/run.sh - run every test program under $O/tests, each wrapped in
# timeout(1), and print one closing line "N passed, N failed, N skipped".
# A test program is a Criterion binary (one per tests/<area>_<module>.c)
# or an executable script tests/<name>.sh (exit 0 pass, 77 skip, else
# fail), liburing style.
set -u
O=${O:-build}
# Absolute: test scripts may change directory.
O=$(cd "$O" && pwd) || { echo "run.sh: no build directory $O (make first)"; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
pass=0 fail=0 skip=0
failed=()
per_test_timeout=${DTACT_TEST_TIMEOUT:-600}
if [ "${SAN:-0}" = 1 ]; then
	export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
fi

run_one() {
	local name=$1; shift
	local log rc start end
	log=$(mktemp)
	start=$(date +%s)
	timeout --kill-after=10 "$per_test_timeout" "$@" >"$log" 2>&1
	rc=$?
	end=$(date +%s)
	case $rc in
	0)  pass=$((pass + 1)); printf 'PASS  %-28s %3ss\n' "$name" $((end - start))
	    grep -E '^\[====\] Synthesis' "$log" | sed 's/^/      /'
	    # A Criterion test that skipped itself is a skip, not a pass.
	    n=$(grep -c '^\[SKIP\]' "$log")
	    if [ "$n" -gt 0 ]; then
		skip=$((skip + n))
		grep '^\[SKIP\]' "$log" | sed 's/^/      /'
	    fi ;;
	77) skip=$((skip + 1)); printf 'SKIP  %-28s %s\n' "$name" "$(grep -m1 -i 'skipped' "$log")" ;;
	*)  fail=$((fail + 1)); failed+=("$name")
	    printf 'FAIL  %-28s rc=%s\n' "$name" "$rc"
	    # The failed assertions first (a long log's tail can hide them),
	    # then the end of the log.
	    grep -E -A3 'Assertion Failed|^\[FAIL\]|CRASH|^FAIL:' "$log" |
		head -n 40 | sed 's/^/      ! /'
	    sed 's/^/      | /' "$log" | tail -n 60 ;;
	esac
	rm -f "$log"
}

for t in "$O"/tests/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	case $t in *.o|*.d) continue ;; esac
	run_one "$(basename "$t")" "$t" --jobs 2 --verbose
done
for t in "$here"/*.sh; do
	[ -x "$t" ] || continue
	[ "$(basename "$t")" = run.sh ] && continue
	if [ "${SAN:-0}" = 1 ]; then
		# An ASan-instrumented preload library cannot be loaded into
		# uninstrumented programs: SAN=1 is the unit suite.
		skip=$((skip + 1))
		printf 'SKIP  %-28s %s\n' "$(basename "$t" .sh)" \
			"skipped: integration tests run without sanitizers (make test)"
		continue
	fi
	run_one "$(basename "$t" .sh)" env O="$O" "$t"
done
echo
if [ $fail -ne 0 ]; then
	echo "failed: ${failed[*]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
