#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/run.sh - run the benchmark programs under $O/bench and print their
# tables (bench/README.md says what each one measures and how to read it).
#
#   O=build bench/run.sh [--quick] [name...]
#
# BENCHES below is the order they run in; a program found in $O/bench but
# missing from the list still runs, after the listed ones.  A name with a
# script bench/<name>.sh (echo) runs that script instead of a program.
# With names, only those run.  --quick is passed on (each program halves
# its iterations; echo.sh runs fewer, shorter cases).  Each one is wrapped
# in timeout(1).  Benchmarks print budgets, they do not fail on them: the
# exit status is 1 only if a program could not run or reported that a
# case failed.
set -u
O=${O:-build}
# Absolute: benchmarks change directory, and go rejects a relative GOPATH.
O=$(cd "$O" && pwd) || { echo "bench/run.sh: no build directory (make first)"; exit 1; }
export O
per_bench_timeout=${DTACT_BENCH_TIMEOUT:-300}
# bench/echo.sh: a full run is budgeted at 15 minutes.
script_timeout=${DTACT_BENCH_SCRIPT_TIMEOUT:-1200}
src=$(cd "$(dirname "$0")" && pwd)

# name             what it measures (one line, shown in the header)
BENCHES=(
	"switch        fiber switch (yield) and cross-worker wake vs native threads"
	"spawn         fiber spawn+join rate vs pthread_create+join"
	"echo          servers side by side: threads, shim, epoll, Go; memory, micro, real programs"
	"observe       cost of the USDT probes: PROBES=0 vs 1, dtactlat attached vs not"
)

quick=()
only=()
for a in "$@"; do
	case $a in
	--quick) quick=(--quick) ;;
	-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) only+=("$a") ;;
	esac
done

if [ ! -d "$O/bench" ]; then
	echo "bench/run.sh: no $O/bench: build first (make O=$O)" >&2
	exit 1
fi

names=()
for b in "${BENCHES[@]}"; do
	names+=("${b%% *}")
done
for t in "$O"/bench/*; do
	[ -f "$t" ] && [ -x "$t" ] || continue
	n=$(basename "$t")
	case " ${names[*]} " in *" $n "*) ;; *) names+=("$n") ;; esac
done
if [ ${#only[@]} -gt 0 ]; then
	names=("${only[@]}")
elif [ ${#quick[@]} -gt 0 ]; then
	# bench-quick stays under 2 minutes: the probe-cost comparison
	# rebuilds the runtime twice, so it runs in the full set only.
	kept=()
	for n in "${names[@]}"; do
		[ "$n" = observe ] && { echo "quick: observe runs with make bench only"; continue; }
		kept+=("$n")
	done
	names=("${kept[@]}")
fi

describe() {
	local b
	for b in "${BENCHES[@]}"; do
		if [ "${b%% *}" = "$1" ]; then
			echo "${b#* }" | sed 's/^ *//'
			return
		fi
	done
	echo "(not listed in bench/run.sh)"
}

echo "dtact benchmarks: $(uname -srm), $(nproc) CPUs," \
     "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" \
     "(other load on the machine skews every figure)"
failed=()
total_start=$(date +%s)
for n in "${names[@]}"; do
	t=$O/bench/$n
	limit=$per_bench_timeout
	if [ -f "$src/$n.sh" ]; then
		t=$src/$n.sh
		limit=$script_timeout
	fi
	echo
	echo "=== $n: $(describe "$n")"
	if [ ! -x "$t" ]; then
		echo "    missing: $t"
		failed+=("$n")
		continue
	fi
	start=$(date +%s)
	timeout --kill-after=10 "$limit" "$t" "${quick[@]}"
	rc=$?
	end=$(date +%s)
	if [ $rc -ne 0 ]; then
		echo "    $n: exit status $rc"
		failed+=("$n")
	fi
	echo "    ($n: $((end - start)) s)"
done
echo
summary="benchmarks: ${#names[@]} run in $(( $(date +%s) - total_start )) s"
if [ ${#failed[@]} -gt 0 ]; then
	summary+=", failed: ${failed[*]}"
fi
echo "$summary"
[ ${#failed[@]} -eq 0 ]
