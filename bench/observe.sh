#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/observe.sh - what observing a dtact program costs (DESIGN 11).
#
#   O=build bench/observe.sh [--quick]
#
# 1. Probes compiled in but nobody attached: the runtime is built twice
#    from this tree, `make PROBES=1` and `make PROBES=0`, into
#    $O-observe/probes and $O-observe/noprobes, and compared on
#    bench/switch's yield round trip (same worker, SWITCHER_NOFLOAT) and on
#    the echo server's requests/s under each shim.
# 2. dtactlat attached: one echo server under the PROBES=1 shim, loaded
#    with dtactlat detached, attached (switch_in), and attached with -R
#    (switch_in and switch_out), in turn.  dtactlat's own figure is shown
#    beside it: its calibrated cost per event times the events it counted.
# Each figure is the median of 3 rounds; the rounds alternate between the
# cases being compared, so that drift in the machine's load hits all of
# them alike.  Ratios are against the first row of each group, from the
# medians of this run.  Environment: OBSERVE_SECS (load window, 3 s;
# --quick 1.5 s), OBSERVE_CONNS (100), OBSERVE_ROUNDS (3).
# dtactlat needs root, BPF and uprobes: without them part 2 prints why and
# is left out.  The exit status is 1 only when something could not run.
set -u
O=${O:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
quick=0
for a in "$@"; do
	case $a in
	--quick) quick=1 ;;
	-h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/observe.sh: unknown argument $a" >&2; exit 2 ;;
	esac
done
secs=${OBSERVE_SECS:-3}
[ $quick = 1 ] && secs=${OBSERVE_SECS:-1.5}
conns=${OBSERVE_CONNS:-100}
rounds=${OBSERVE_ROUNDS:-3}
obs=${O%/}-observe
case $obs in /*) ;; *) obs=$src/$obs ;; esac
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

# --- the two builds ---------------------------------------------------------------
targets() {
	echo "$1/libdtact_shim.so $1/bench/switch $1/apps/echo_threads $1/apps/loadgen"
}
echo "building PROBES=1 and PROBES=0 runtimes into $obs/{probes,noprobes}"
# shellcheck disable=SC2046
if ! make -C "$src" --no-print-directory -j2 O="$obs/probes" PROBES=1 \
	$(targets "$obs/probes") >"$tmp/make1.log" 2>&1 ||
   ! make -C "$src" --no-print-directory -j2 O="$obs/noprobes" PROBES=0 \
	$(targets "$obs/noprobes") >"$tmp/make0.log" 2>&1; then
	tail -20 "$tmp"/make*.log
	echo "bench/observe.sh: build failed"
	exit 1
fi
if ! readelf -n "$obs/probes/libdtact_shim.so" | grep -q 'Provider: dtact'; then
	echo "bench/observe.sh: the PROBES=1 shim has no dtact probes (no dtrace(1)?)"
	exit 1
fi
if readelf -n "$obs/noprobes/libdtact_shim.so" | grep -q 'Provider: dtact'; then
	echo "bench/observe.sh: the PROBES=0 shim still has probes"
	exit 1
fi
D=
why_no_dtactlat=
if [ ! -e /sys/kernel/btf/vmlinux ]; then
	why_no_dtactlat="the kernel has no BTF, so dtactlat is not built"
elif ! make -C "$src" --no-print-directory O="$obs/probes" "$obs/probes/dtactlat" \
		>"$tmp/maked.log" 2>&1; then
	why_no_dtactlat="dtactlat did not build: $(tail -1 "$tmp/maked.log")"
elif [ "$(id -u)" != 0 ]; then
	why_no_dtactlat="dtactlat needs root (CAP_BPF and CAP_PERFMON)"
elif [ ! -e /sys/bus/event_source/devices/uprobe ]; then
	why_no_dtactlat="the kernel has no uprobes"
else
	D=$obs/probes/dtactlat
fi
loadgen=$obs/probes/apps/loadgen

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "" }'; }
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) print lo "-" hi }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", a / b; else print "-" }'; }

# server SHIM: start echo_threads under SHIM, set $srv and $port.
server() {
	LD_PRELOAD=$1 "$obs/probes/apps/echo_threads" 0 >"$tmp/echo.out" 2>&1 &
	srv=$!
	pids+=("$srv")
	local i
	for ((i = 0; i < 200; i++)); do
		grep -qs '^listening on' "$tmp/echo.out" && break
		sleep 0.05
	done
	port=$(awk '/^listening on/ { print $3 }' "$tmp/echo.out")
	[ -n "$port" ]
}

# rps: one loadgen window against $port, requests/s on stdout.
rps() {
	"$loadgen" -p "$port" -c "$conns" -s 64 -w 0.5 -d "$secs" --csv 2>/dev/null |
		awk -F, 'NF >= 6 { v = $6 } END { print v + 0 }'
}

# --- 1. probes compiled in, nobody attached ------------------------------------------
echo
echo "1. probes compiled in, no tracer: PROBES=0 vs PROBES=1 ($rounds rounds, alternating)"
yield_rt() {
	# bench/switch: median ns of the same-worker NOFLOAT yield round trip.
	timeout 300 "$1/bench/switch" --quick 2>/dev/null |
		awk '/dtact_yield A->B->A, SWITCHER_NOFLOAT/ && /round trip/ {
			for (i = 1; i <= NF; i++) if ($i == "trip") { print $(i + 1); exit } }'
}
for ((r = 0; r < rounds; r++)); do
	for b in noprobes probes; do
		yield_rt "$obs/$b" >>"$tmp/yield.$b"
		if server "$obs/$b/libdtact_shim.so"; then
			rps >>"$tmp/rps.$b"
		fi
		kill "$srv" 2>/dev/null
		wait "$srv" 2>/dev/null
	done
done
y0=$(median <"$tmp/yield.noprobes") y1=$(median <"$tmp/yield.probes")
e0=$(median <"$tmp/rps.noprobes") e1=$(median <"$tmp/rps.probes")
printf '  %-44s %12s %17s %7s\n' "case" "median" "min-max" "ratio"
row1() { # label value unit file ratio
	printf '  %-44s %9s %-2s %17s %7s\n' "$1" "$2" "$3" "$(range <"$4")" "$5"
}
row1 "yield round trip, PROBES=0" "$y0" ns "$tmp/yield.noprobes" 1.000
row1 "yield round trip, PROBES=1 (probes off)" "$y1" ns "$tmp/yield.probes" \
	"$(ratio "$y1" "$y0")"
row1 "echo requests, PROBES=0 shim" "$e0" /s "$tmp/rps.noprobes" 1.000
row1 "echo requests, PROBES=1 shim (probes off)" "$e1" /s "$tmp/rps.probes" \
	"$(ratio "$e1" "$e0")"
echo "  yield: lower is better; requests/s: higher is better; 1.000 = no cost"

# --- 2. dtactlat attached ---------------------------------------------------------
echo
if [ -z "$D" ]; then
	echo "2. dtactlat attached: left out: $why_no_dtactlat"
	exit 0
fi
echo "2. dtactlat attached vs detached, one server, PROBES=1 ($rounds rounds, alternating)"
if ! server "$obs/probes/libdtact_shim.so"; then
	echo "bench/observe.sh: the echo server did not start"
	exit 1
fi
# traced NAME ARGS...: one load window with dtactlat ARGS attached.  It
# attaches and detaches while the server is idle: those wait for RCU grace
# periods, which a loaded machine stretches.
traced() {
	local name=$1 dl t0=$SECONDS
	shift
	# (Removed first: the shell truncates them in the child, maybe after
	# the loop below has read the last run's banner.)
	rm -f "$tmp/d.out" "$tmp/d.err"
	"$D" -p "$srv" -j "$@" >"$tmp/d.out" 2>"$tmp/d.err" &
	dl=$!
	while [ $((SECONDS - t0)) -lt 180 ]; do
		grep -qs '^Tracing' "$tmp/d.err" && break
		kill -0 "$dl" 2>/dev/null || break
		sleep 0.05
	done
	if ! grep -qs '^Tracing' "$tmp/d.err"; then
		kill "$dl" 2>/dev/null
		wait "$dl"
		echo "  dtactlat $*: not attached after $((SECONDS - t0)) s" \
			"(exit status $?): $(head -3 "$tmp/d.err")"
		return 1
	fi
	rps >>"$tmp/rps.$name"
	kill -INT "$dl"
	wait "$dl"
	# dtactlat's own estimate: events/s x its calibrated cost per event.
	# (Events come only during the load: warm-up 0.5 s + the window.)
	python3 -c 'import json, sys
x = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")][-1]
print(x["events"] / (0.5 + float(sys.argv[2])), x["cost_ns"])' \
		"$tmp/d.out" "$secs" >>"$tmp/est.$name"
}
for ((r = 0; r < rounds; r++)); do
	rps >>"$tmp/rps.detached"
	traced in
	traced inout -R
done
d0=$(median <"$tmp/rps.detached")
printf '  %-34s %10s %15s %6s %9s %8s %8s\n' "case" "requests/s" "min-max" \
	"ratio" "events/s" "ns/event" "est.CPU"
printf '  %-34s %10s %15s %6s\n' "detached" "$d0" "$(range <"$tmp/rps.detached")" "1.000"
for m in in inout; do
	label="dtactlat (switch_in)"
	[ $m = inout ] && label="dtactlat -R (switch_in+switch_out)"
	v=$(median <"$tmp/rps.$m" 2>/dev/null)
	ev=$(awk '{ print $1 }' "$tmp/est.$m" 2>/dev/null | median)
	ns=$(awk '{ print $2 }' "$tmp/est.$m" 2>/dev/null | median)
	printf '  %-34s %10s %15s %6s %9.0f %8s %7.1f%%\n' "$label" "${v:--}" \
		"$(range <"$tmp/rps.$m" 2>/dev/null)" "$(ratio "${v:-0}" "$d0")" \
		"${ev:-0}" "${ns:--}" \
		"$(awk -v e="${ev:-0}" -v n="${ns:-0}" 'BEGIN { print e * n / 1e7 }')"
done
echo "  est. CPU: events/s x dtactlat's calibrated ns/event, in % of one CPU:"
echo "  the share of the target's time that goes to the probes (uprobe trap +"
echo "  BPF program); the requests/s ratio is what the whole server loses."
