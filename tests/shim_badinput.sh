#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: DTACT_* values under the shim.  Every bad value of
# DTACT_WORKERS, DTACT_STACK_SIZE and DTACT_MAX_FIBERS (garbage, zero,
# negative, overflowing, just out of range) makes a plain pthread program
# exit with status 2 before main() runs (main would print: stdout stays
# empty), with exactly one line on stderr naming the variable, the value
# and the accepted range.  The edge values that are valid (1 and 1024
# workers; 16K and 1G stacks; 1 and 4194304 fibers) run main.  And a
# program that creates more threads than DTACT_MAX_FIBERS gets EAGAIN from
# pthread_create for the excess, as glibc does when out of resources, and
# goes on: it joins what it created and exits 0.
#
# Exit status: 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
APP=$O/tests/apps/semantics
SHIM=$O/libdtact_shim.so

for f in "$APP" "$SHIM"; do
	if [ ! -e "$f" ]; then
		echo "shim_badinput: FAIL: $f is missing (build first: make O=$O)"
		exit 1
	fi
done
SHIM=$(cd "$(dirname "$SHIM")" && pwd)/$(basename "$SHIM")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtact-bad.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# under VAR VALUE args...: run the program with VAR=VALUE under the shim.
under() {
	local var=$1 val=$2; shift 2
	env "$var=$val" LD_PRELOAD="$SHIM" timeout -k 5 20 "$APP" "$@" \
		>"$tmp/out" 2>"$tmp/err"
	echo $? >"$tmp/rc"
}

declare -A RANGE=(
	[DTACT_WORKERS]='an integer from 1 to 1024'
	[DTACT_STACK_SIZE]='a size from 16K to 1G'
	[DTACT_MAX_FIBERS]='an integer from 1 to 4194304'
)
declare -A BAD=(
	[DTACT_WORKERS]='abc|12x|0|-1|99999999999999999999|1025| 2|1.5'
	[DTACT_STACK_SIZE]='abc|12x|0|-1|99999999999999999999|2G|16383|1025M|17179869184G|16Q'
	[DTACT_MAX_FIBERS]='abc|12x|0|-1|99999999999999999999|4194305|0x10'
)
declare -A GOOD=(
	[DTACT_WORKERS]='1|1024'
	[DTACT_STACK_SIZE]='16K|1G|16384|1073741824'
	[DTACT_MAX_FIBERS]='1|4194304'
)

nbad=0 ngood=0
for var in DTACT_WORKERS DTACT_STACK_SIZE DTACT_MAX_FIBERS; do
	IFS='|' read -r -a vals <<<"${BAD[$var]}"
	for val in "${vals[@]}"; do
		under "$var" "$val" --mode hello
		rc=$(cat "$tmp/rc")
		lines=$(wc -l <"$tmp/err")
		what="$var='$val'"
		if [ "$rc" != 2 ]; then
			fail "$what: exit status $rc, want 2"
		elif [ -s "$tmp/out" ]; then
			fail "$what: main ran: $(head -1 "$tmp/out")"
		elif [ "$lines" != 1 ]; then
			fail "$what: $lines lines on stderr, want 1:"
			sed 's/^/    /' "$tmp/err"
		elif ! grep -qF -- "$var=$val " "$tmp/err" ||
		     ! grep -qF -- "${RANGE[$var]}" "$tmp/err"; then
			fail "$what: the message does not name variable, value and range: $(cat "$tmp/err")"
		else
			nbad=$((nbad + 1))
		fi
	done
	IFS='|' read -r -a vals <<<"${GOOD[$var]}"
	for val in "${vals[@]}"; do
		under "$var" "$val" --mode hello
		if [ "$(cat "$tmp/rc")" != 0 ] || [ "$(cat "$tmp/out")" != "main ran" ] ||
		   [ -s "$tmp/err" ]; then
			fail "$var='$val' (valid) did not run main: rc=$(cat "$tmp/rc") $(cat "$tmp/out" "$tmp/err")"
		else
			ngood=$((ngood + 1))
		fi
	done
done
echo "bad values rejected before main with one line: $nbad; valid edge values ran main: $ngood"

# A valid edge value still runs threads (1024 workers; 16K stacks).
for kv in DTACT_WORKERS=1024 DTACT_STACK_SIZE=16K; do
	under "${kv%%=*}" "${kv#*=}" --mode threads 100
	if [ "$(cat "$tmp/rc")" != 0 ] ||
	   [ "$(cat "$tmp/out")" != "threads: created=100 eagain=0 other=0" ]; then
		fail "$kv: 100 threads: rc=$(cat "$tmp/rc") $(cat "$tmp/out" "$tmp/err")"
	else
		echo "$kv: 100 threads created, joined"
	fi
done

# More threads than DTACT_MAX_FIBERS: EAGAIN for the excess, then on.
for w in 2 1; do
	env DTACT_MAX_FIBERS=64 DTACT_WORKERS=$w LD_PRELOAD="$SHIM" \
		timeout -k 5 20 "$APP" --mode threads 200 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	made=$(sed -n 's/^threads: created=\([0-9]*\) .*/\1/p' "$tmp/out")
	again=$(sed -n 's/.* eagain=\([0-9]*\) .*/\1/p' "$tmp/out")
	other=$(sed -n 's/.* other=\([0-9]*\)$/\1/p' "$tmp/out")
	# 64 fibers: main holds one.
	if [ "$rc" != 0 ] || [ "${made:-x}" != 63 ] || [ "${again:-x}" != 137 ] ||
	   [ "${other:-x}" != 0 ]; then
		fail "DTACT_MAX_FIBERS=64 DTACT_WORKERS=$w, 200 threads: rc=$rc [$out] $(cat "$tmp/err")"
	else
		echo "DTACT_MAX_FIBERS=64 DTACT_WORKERS=$w: $made created, $again EAGAIN, all joined, exit 0"
	fi
done
exit $status
