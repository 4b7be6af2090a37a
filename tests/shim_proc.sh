#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Description: name resolution and child processes under the shim
# (DESIGN 7, 9, 10).  tests/apps/proc_dns (getaddrinfo and friends,
# system, popen/pclose, posix_spawnp, fork+exec, the wait family, EINTR,
# a wait in one thread while another counts, the signal mask the children
# of threads start with) must print exactly what it
# prints natively, with 2 workers and with 1 (where a wait that blocked
# the worker would stop the counting thread), and must leave the file
# status flags of the stdin and stdout it shares with this shell as they
# were.  Then python3 programs using subprocess, os.popen, os.system,
# socket.getaddrinfo and threading (locks, Event.wait with a timeout)
# must print the same under the shim as natively.
#
# Exit 0 pass, 1 fail, 77 skipped.
set -u
O=${O:-build}
app=$O/tests/apps/proc_dns
shim=$(cd "$O" 2>/dev/null && pwd)/libdtact_shim.so

skip() { echo "skipped: $*"; exit 77; }
[ -x "$app" ] || skip "$app is not built (make $app)"
[ -f "$shim" ] || skip "$O/libdtact_shim.so is not built"
[ -r /proc/self/fdinfo/0 ] || skip "no /proc/<pid>/fdinfo"
command -v sort >/dev/null || skip "no sort(1) for posix_spawnp"

tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# File status flags (octal, as /proc shows them) of fd $2 of process $1.
flags() { awk '/^flags:/ { print $2 }' "/proc/$1/fdinfo/$2"; }

# run NAME [VAR=value...]: proc_dns -i with stdin and stdout pipes shared
# with this subshell; NAME.out, NAME.err, NAME.rc, NAME.flags.
run() {
	local name=$1
	shift
	printf 'zeta\nalpha\nmid\n' | {
		me=$BASHPID
		before="$(flags "$me" 0) $(flags "$me" 1)"
		timeout 60 env "$@" "$app" -i 2>"$tmp/$name.err"
		echo $? >"$tmp/$name.rc"
		after="$(flags "$me" 0) $(flags "$me" 1)"
		echo "$before -> $after" >"$tmp/$name.flags"
	} | cat >"$tmp/$name.out"
}

run native
run shim2 LD_PRELOAD="$shim" DTACT_WORKERS=2
run shim1 LD_PRELOAD="$shim" DTACT_WORKERS=1

# The native run is the reference: make sure it is the one we expect.
rc=$(cat "$tmp/native.rc")
[ "$rc" = 0 ] || bad "native run: exit $rc"
for want in 'system(exit 3): exited 3' 'pclose: exited 4' \
	    'waitpid(pid) + handler without SA_RESTART: -1 EINTR' \
	    'released by the counting thread: yes' 'stdin: 3 lines' \
	    'fclose of a popen stream: exited 5' \
	    'fclose of a popen stream in a thread: exited 0; released by the counting thread: yes'; do
	grep -qF "$want" "$tmp/native.out" ||
		bad "native output lacks '$want'"
done

for name in shim2 shim1; do
	rc=$(cat "$tmp/$name.rc")
	if [ "$rc" != 0 ]; then
		bad "$name: exit $rc"
		sed 's/^/  | /' "$tmp/$name.err"
	fi
	if ! diff -u "$tmp/native.out" "$tmp/$name.out" >"$tmp/$name.diff"; then
		bad "$name: output differs from the native run"
		sed 's/^/  | /' "$tmp/$name.diff"
	fi
done

for name in native shim2 shim1; do
	read -r b0 b1 _ a0 a1 <"$tmp/$name.flags"
	seen=$(cat "$tmp/$name.flags")
	[ "$b0 $b1" = "$a0 $a1" ] ||
		bad "$name: stdin/stdout flags changed: $seen"
	[ $((8#$a0 & 04000)) = 0 ] && [ $((8#$a1 & 04000)) = 0 ] ||
		bad "$name: O_NONBLOCK left on stdin/stdout: $seen"
done

# ---- real programs: python3 ----
if ! command -v python3 >/dev/null; then
	echo "python3 not found: python part skipped"
	[ $fail = 0 ] && echo "pass" || echo "FAILED"
	exit $fail
fi

cat >"$tmp/prog.py" <<'EOF'
import os, socket, subprocess, sys, threading, time

r = subprocess.run(['sort'], input=b'pear\napple\nfig\nbanana\n',
                   capture_output=True)
print('subprocess.run sort:', r.returncode, r.stdout)
print('os.popen:', repr(os.popen('echo x').read()))
p = os.popen('exit 5')
p.read()
print('os.popen close:', p.close())
print('os.system:', os.WEXITSTATUS(os.system('exit 3')))
gai = socket.getaddrinfo('localhost', 80)
print('getaddrinfo:', sorted(set(a[4] for a in gai)))
print('gethostbyname:', socket.gethostbyname('localhost'))
print('gethostbyaddr:', socket.gethostbyaddr('127.0.0.1')[0])

lock = threading.Lock()
total = 0
def add():
    global total
    for _ in range(2000):
        with lock:
            total += 1
ts = [threading.Thread(target=add) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print('threads with a lock:', total)

ev = threading.Event()
print('Event.wait(0.1) unset:', ev.wait(0.1))
threading.Timer(0.05, ev.set).start()
print('Event.wait(5) set by a Timer:', ev.wait(5))

codes = []
def child(n):
    rc = subprocess.run(['sh', '-c', 'sleep 0.05; exit %d' % n]).returncode
    with lock:
        codes.append(rc)
ts = [threading.Thread(target=child, args=(n,)) for n in range(1, 7)]
for t in ts: t.start()
for t in ts: t.join()
print('subprocess from 6 threads:', sorted(codes))

# The child ends only when another thread tells it to, while the main
# thread waits for it (after 10 s without word it gives up: exit 1).  The
# child itself runs natively: only the parent's wait is under test.
native = {k: v for k, v in os.environ.items() if k != 'LD_PRELOAD'}
child = subprocess.Popen([sys.executable, '-c',
                          'import select, sys\n'
                          'r = select.select([sys.stdin], [], [], 10)[0]\n'
                          'sys.exit(0 if r else 1)'],
                         stdin=subprocess.PIPE, env=native)
def release():
    for _ in range(50):
        time.sleep(0.001)
    try:
        child.stdin.write(b'go\n')
        child.stdin.close()
    except BrokenPipeError:
        pass
t = threading.Thread(target=release)
t.start()
rc = child.wait()
t.join()
print('child released by another thread during the wait:', rc == 0)
EOF

py() { # NAME [VAR=value...]
	local name=$1
	shift
	timeout 60 env "$@" python3 "$tmp/prog.py" </dev/null \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	echo $? >"$tmp/$name.rc"
}
py py_native
py py_shim2 LD_PRELOAD="$shim" DTACT_WORKERS=2
py py_shim1 LD_PRELOAD="$shim" DTACT_WORKERS=1
[ "$(cat "$tmp/py_native.rc")" = 0 ] ||
	bad "python3 native: exit $(cat "$tmp/py_native.rc")"
for name in py_shim2 py_shim1; do
	rc=$(cat "$tmp/$name.rc")
	[ "$rc" = 0 ] || {
		bad "$name: exit $rc$([ "$rc" = 124 ] && echo ' (timed out)')"
		sed 's/^/  | /' "$tmp/$name.err" | tail -n 20
	}
	if ! diff -u "$tmp/py_native.out" "$tmp/$name.out" \
		>"$tmp/$name.diff"; then
		bad "$name: output differs from python3 run natively"
		sed 's/^/  | /' "$tmp/$name.diff"
	fi
done

[ $fail = 0 ] && echo "pass" || echo "FAILED"
exit $fail
