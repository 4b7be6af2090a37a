#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: observability under the shim (docs/OBSERVABILITY.md).
#  - libdtact_shim.so carries the 7 USDT probes of provider dtact, each
#    with a semaphore inside the .probes section (readelf -n / -S); with
#    bpftrace (root) attached to switch_in, the probe fires and reports
#    ready_ns > 0 (the semaphore turned the ready stamps on).
#  - stall: tests/apps/stall_me (a thread blocked in a raw read with
#    another queued behind it on the same worker) finishes with
#    DTACT_STALL_MS=100, the watchdog printing one line that names the
#    worker, the fiber and the time; with DTACT_STALL_MS=0 it hangs.
#  - DTACT_STATS=1 prints the table at exit; DTACT_STATS=json one JSON
#    object per line (python3 json.loads), the stall counted;
#    DTACT_STATS_SIGNAL prints on the signal while the program runs.
#  - the fiber dump of tests/apps/dump_me through dtact-run
#    --dump-signal=QUIT, from a background job (QUIT inherited ignored):
#    every thread by name with its wait and a backtrace;
#  - a program that handles the dump signal itself keeps it (one warning
#    line, its handler runs, no dump);
#  - bad DTACT_STATS / DTACT_STATS_SIGNAL / DTACT_DUMP_SIGNAL /
#    DTACT_STALL_MS / DTACT_STALL_WARN: one line, exit status 2, main
#    never runs.
#
# Exit status: 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
SHIM=$O/libdtact_shim.so
DUMP_ME=$O/tests/apps/dump_me
STALL_ME=$O/tests/apps/stall_me
RUN=$O/dtact-run

for f in "$SHIM" "$DUMP_ME" "$STALL_ME" "$RUN"; do
	if [ ! -e "$f" ]; then
		echo "shim_observe: FAIL: $f is missing (build first: make O=$O)"
		exit 1
	fi
done
command -v python3 >/dev/null ||
	{ echo "skipped: python3 not installed (scripts/deps.sh installs it)"; exit 77; }
SHIM=$(cd "$(dirname "$SHIM")" && pwd)/$(basename "$SHIM")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dtact-obs.XXXXXX")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }
ok() { echo "ok: $*"; }
# stop PID: kill a background program of this script, quietly.
stop() { kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

# wait_for FILE PATTERN SECONDS: until grep -q finds PATTERN in FILE.
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# --- USDT probes ------------------------------------------------------
if readelf -S "$SHIM" | grep -q '\.note\.stapsdt'; then
	read -r plo psz < <(readelf -S -W "$SHIM" |
		awk '$2 == ".probes" { print $4, $6 }')
	notes=$(readelf -n "$SHIM" | awk '
		/Provider:/ { prov = $2 }
		/Name:/ { name = $2 }
		/Semaphore:/ { if (prov == "dtact") print name, $NF }')
	n=0
	for p in spawn wake switch_in switch_out park unpark stall; do
		sem=$(awk -v p="$p" '$1 == p { print $2; exit }' <<<"$notes")
		if [ -z "$sem" ]; then
			fail "probe dtact:$p has no stapsdt note"
			continue
		fi
		if [ -z "${plo:-}" ] ||
		   ! python3 -c 'import sys; s, lo, sz = (int(x, 16) for x in sys.argv[1:]); sys.exit(not (s and lo <= s < lo + sz))' \
			"$sem" "$plo" "$psz"; then
			fail "probe dtact:$p: semaphore $sem not inside .probes ($plo + $psz)"
			continue
		fi
		n=$((n + 1))
	done
	[ $n = 7 ] && ok "7 USDT probes, each with a semaphore in .probes"
	if [ "$(id -u)" = 0 ] && command -v bpftrace >/dev/null &&
	   timeout 20 bpftrace -e 'BEGIN { exit(); }' >/dev/null 2>&1; then
		env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DUMP_ME_CHURN=1 \
			"$DUMP_ME" >"$tmp/churn.out" 2>"$tmp/churn.err" &
		cp=$!
		pids+=($cp)
		if wait_for "$tmp/churn.out" ready 20; then
			timeout 60 bpftrace -p "$cp" -e "
usdt:$SHIM:dtact:switch_in { @in = count(); }
usdt:$SHIM:dtact:switch_in /arg2 > 0/ { @ready = count(); }
interval:ms:1500 { exit(); }" >"$tmp/bt.out" 2>"$tmp/bt.err"
			in=$(awk '/^@in:/ { print $2 }' "$tmp/bt.out")
			ready=$(awk '/^@ready:/ { print $2 }' "$tmp/bt.out")
			if [ "${in:-0}" -gt 0 ] && [ "${ready:-0}" -gt 0 ]; then
				ok "bpftrace: switch_in fired $in times, $ready with ready_ns > 0"
			else
				fail "bpftrace on switch_in: in=${in:-0} ready=${ready:-0}: $(tail -3 "$tmp/bt.err")"
			fi
		else
			fail "dump_me (churn) did not get ready"
		fi
		stop "$cp"
	else
		echo "note: bpftrace not usable here (needs root): probe firing not checked"
	fi
else
	echo "note: $SHIM has no USDT notes (built with PROBES=0): probes not checked"
fi

# --- stall watchdog ---------------------------------------------------
timeout -k 5 30 env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DTACT_STALL_MS=100 \
	DTACT_STALL_WARN=1 DTACT_STATS=json "$STALL_ME" \
	>"$tmp/stall.out" 2>"$tmp/stall.err"
rc=$?
if [ $rc != 0 ]; then
	fail "stall_me: exit status $rc (the queued thread never ran?): $(cat "$tmp/stall.out" "$tmp/stall.err")"
else
	for l in "queued thread ran" "blocker: read 1" "done"; do
		grep -qx "$l" "$tmp/stall.out" || fail "stall_me: no '$l' on stdout"
	done
	nstall=$(grep -c '^dtact: stall: ' "$tmp/stall.err")
	if [ "$nstall" = 1 ] &&
	   grep -Eq '^dtact: stall: worker [0-9]+ has not switched for [0-9]+ ms, running fiber 0x[0-9a-f]+ "blocker", with work waiting; [0-9]+ never-started fiber\(s\) moved to other workers$' "$tmp/stall.err"; then
		ok "stall reported once: $(grep '^dtact: stall: ' "$tmp/stall.err")"
	else
		fail "stall_me: want one stall line naming \"blocker\": $(cat "$tmp/stall.err")"
	fi
	if python3 - "$tmp/stall.err" <<'PY'
import json, sys
workers = procs = 0
stalls = 0
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    if o["dtact"] == "worker":
        workers += 1
        assert set(o["parks"]) == {"yield", "io", "sleep", "lock", "join", "exit", "other"}
    elif o["dtact"] == "process":
        procs += 1
        stalls = o["stalls"]
        assert o["fibers_created"] == 2 and o["fibers_ended"] == 2, o
    assert o["when"] == "exit"
sys.exit(not (workers == 2 and procs == 1 and stalls >= 1))
PY
	then
		ok "DTACT_STATS=json: one object per line, 2 workers + process, the stall counted"
	else
		fail "DTACT_STATS=json output: $(cat "$tmp/stall.err")"
	fi
fi
timeout -k 2 3 env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DTACT_STALL_MS=0 \
	"$STALL_ME" >"$tmp/nowd.out" 2>&1
rc=$?
if [ $rc = 124 ] || [ $rc = 137 ]; then
	ok "with DTACT_STALL_MS=0 stall_me hangs (the watchdog is what runs the queued thread)"
else
	fail "stall_me without the watchdog: status $rc, expected a hang: $(cat "$tmp/nowd.out")"
fi

# --- DTACT_STATS=1 and DTACT_STATS_SIGNAL -------------------------------
timeout -k 5 30 env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DTACT_STATS=1 \
	DUMP_ME_EXIT=1 "$DUMP_ME" >"$tmp/st.out" 2>"$tmp/st.err"
rc=$?
if [ $rc = 0 ] && grep -q '^dtact stats at exit: pid [0-9]*, 2 workers$' "$tmp/st.err" &&
   grep -q '^worker    switches    spawns' "$tmp/st.err" &&
   grep -q '^parks      yield' "$tmp/st.err" &&
   grep -q '^fibers: 4 created, ' "$tmp/st.err" &&
   grep -q '^arena: ' "$tmp/st.err"; then
	ok "DTACT_STATS=1: table at exit"
else
	fail "DTACT_STATS=1 (status $rc): $(cat "$tmp/st.err")"
fi
env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DTACT_STATS_SIGNAL=USR2 "$DUMP_ME" \
	>"$tmp/sig.out" 2>"$tmp/sig.err" &
sp=$!
pids+=($sp)
if wait_for "$tmp/sig.out" ready 20; then
	kill -USR2 "$sp"
	if wait_for "$tmp/sig.err" '^arena: ' 10 &&
	   grep -q '^dtact stats at signal: ' "$tmp/sig.err" && kill -0 "$sp"; then
		ok "DTACT_STATS_SIGNAL=USR2: table on the signal, the program goes on"
	else
		fail "DTACT_STATS_SIGNAL: $(cat "$tmp/sig.err")"
	fi
else
	fail "dump_me did not get ready: $(cat "$tmp/sig.err")"
fi
stop "$sp"

# --- fiber dump through dtact-run, from a background job ----------------
"$RUN" -w 2 --dump-signal=QUIT "$DUMP_ME" >"$tmp/d.out" 2>"$tmp/d.err" &
dp=$!
pids+=($dp)
if wait_for "$tmp/d.out" ready 20; then
	kill -QUIT "$dp"
	if wait_for "$tmp/d.err" '^dtact: end of fiber dump$' 30; then
		rfd=$(awk '{ print $2 }' "$tmp/d.out")
		python3 - "$tmp/d.err" "$rfd" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rfd = sys.argv[2]
blocks = {}
for b in re.split(r"\n(?=fiber 0x)", text):
    m = re.match(r'fiber 0x[0-9a-f]+ "([^"]*)" worker \d+: (.*)', b)
    if m:
        blocks[m.group(1)] = (m.group(2), b)
want = {
    "main": (r"running \(this thread", ["spin_main", "main"]),
    "reader": (r"parked, io fd %s, for \d+ ms" % rfd, ["reader_thread", "read", "dt_park"]),
    "sleeper": (r"parked, sleep, deadline in \d+ ms", ["sleeper_thread", "nanosleep"]),
    "condwaiter": (r"parked, lock on 0x", ["cond_thread"]),
    "joiner": (r"parked, join fiber 0x", ["joiner_thread"]),
}
bad = []
for name, (state, funcs) in want.items():
    if name not in blocks:
        bad.append("no fiber %r" % name)
        continue
    head, block = blocks[name]
    if not re.match(state, head):
        bad.append("%s: state %r, want %r" % (name, head, state))
    for fn in funcs:
        if not re.search(r"#\d+ +0x[0-9a-f]+ %s\+0x" % re.escape(fn), block):
            bad.append("%s: no frame in %s" % (name, fn))
if bad:
    print("\n".join(bad))
    sys.exit(1)
PY
		if [ $? = 0 ]; then
			ok "dtact-run --dump-signal=QUIT: 5 fibers with names, waits and backtraces"
		else
			fail "the dump: $(cat "$tmp/d.err")"
		fi
	else
		fail "no complete dump on SIGQUIT: $(cat "$tmp/d.err")"
	fi
else
	fail "dump_me under dtact-run did not get ready: $(cat "$tmp/d.err")"
fi
stop "$dp"

# --- a program's own handler stays ------------------------------------
env LD_PRELOAD="$SHIM" DTACT_WORKERS=2 DTACT_DUMP_SIGNAL=USR1 \
	DUMP_ME_OWN_HANDLER=$(kill -l USR1) "$DUMP_ME" >"$tmp/own.out" \
	2>"$tmp/own.err" &
op=$!
pids+=($op)
if wait_for "$tmp/own.out" ready 20; then
	kill -USR1 "$op"
	if wait_for "$tmp/own.out" 'own handler ran' 10 &&
	   [ "$(wc -l <"$tmp/own.err")" = 1 ] &&
	   grep -qx 'dtact: DTACT_DUMP_SIGNAL=USR1: the program handles this signal itself; dtact leaves it alone' "$tmp/own.err"; then
		ok "a program's own handler for the dump signal is left alone (one warning)"
	else
		fail "own handler: stdout $(cat "$tmp/own.out"); stderr $(cat "$tmp/own.err")"
	fi
else
	fail "dump_me (own handler) did not get ready: $(cat "$tmp/own.err")"
fi
stop "$op"

# --- bad values -------------------------------------------------------
nbad=0
while IFS='|' read -r var val range; do
	timeout -k 5 20 env LD_PRELOAD="$SHIM" "$var=$val" DUMP_ME_EXIT=1 \
		"$DUMP_ME" >"$tmp/b.out" 2>"$tmp/b.err"
	rc=$?
	want="dtact: $var=$val is invalid: expected $range"
	if [ $rc != 2 ] || [ -s "$tmp/b.out" ] ||
	   [ "$(wc -l <"$tmp/b.err")" != 1 ] ||
	   [ "$(cat "$tmp/b.err")" != "$want" ]; then
		fail "$var=$val: status $rc, stdout '$(cat "$tmp/b.out")', stderr '$(cat "$tmp/b.err")'"
	else
		nbad=$((nbad + 1))
	fi
done <<'EOF'
DTACT_STATS|yes|0, 1 or json
DTACT_STATS|2|0, 1 or json
DTACT_STATS_SIGNAL|NOPE|a signal name or number (QUIT, USR1, SIGUSR2, RTMIN+1, 10...) or 0 for none, not KILL, STOP, SEGV, BUS, FPE or ILL
DTACT_DUMP_SIGNAL|KILL|a signal name or number (QUIT, USR1, SIGUSR2, RTMIN+1, 10...) or 0 for none, not KILL, STOP, SEGV, BUS, FPE or ILL
DTACT_DUMP_SIGNAL|99|a signal name or number (QUIT, USR1, SIGUSR2, RTMIN+1, 10...) or 0 for none, not KILL, STOP, SEGV, BUS, FPE or ILL
DTACT_STALL_MS|abc|an integer from 0 (no watchdog) to 3600000 (milliseconds)
DTACT_STALL_MS|-1|an integer from 0 (no watchdog) to 3600000 (milliseconds)
DTACT_STALL_MS|3600001|an integer from 0 (no watchdog) to 3600000 (milliseconds)
DTACT_STALL_WARN|yes|0 or 1
EOF
[ $nbad = 9 ] && ok "9 bad values: one line each, exit status 2, main never ran"

exit $status
