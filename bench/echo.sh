#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bench/echo.sh - servers side by side: native threads, the same binary
# under the shim, an edge-triggered epoll loop, Go goroutines; memory per
# idle connection; spawn and ping-pong micro benchmarks; two real programs
# natively and under the shim.  Raw CSV, machine description and (through
# bench/report.py) RESULTS.md with gnuplot PNGs go to
# bench/results/<date>-<host>[-quick]/ (bench/README.md, "echo").
#
#   O=build bench/echo.sh [--quick] [--out DIR] [section...]
#
# Sections: echo idle micro real (default: all, in that order).  --quick:
# fewer cases, shorter windows, results labelled quick.  --out DIR: write
# there instead of bench/results/<date>-<host>[-quick] (DIR is replaced).
# Environment (defaults full / quick): BENCH_REPS (3/3), BENCH_WARMUP
# (1/0.25 s), BENCH_SECS (2/0.5 s), BENCH_CONNS ("100 1000 10000"),
# BENCH_SIZES ("64 4096" / "64"), BENCH_PLACEMENTS ("pinned unpinned" /
# "pinned"), BENCH_IDLE_CONNS (10000), BENCH_REAL_CONNS ("50 500" / "50").
# Every figure is the median of BENCH_REPS runs, each its own process.
# Exit status 1 only when something could not run at all (missing
# binaries); a case that failed is recorded in the CSV with its status.
set -u
O=${O:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
t_start=$(date +%s)

quick=0
out=
sections=()
while [ $# -gt 0 ]; do
	case $1 in
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	--out=*) out=${1#*=} ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	echo|idle|micro|real) sections+=("$1") ;;
	*) echo "bench/echo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done
[ ${#sections[@]} -eq 0 ] && sections=(echo idle micro real)

if [ $quick = 1 ]; then
	reps=${BENCH_REPS:-3} warmup=${BENCH_WARMUP:-0.25} secs=${BENCH_SECS:-0.5}
	conns_list=${BENCH_CONNS:-"100 1000"} sizes=${BENCH_SIZES:-64}
	placements=${BENCH_PLACEMENTS:-pinned}
	idle_conns=${BENCH_IDLE_CONNS:-2000}
	real_conns=${BENCH_REAL_CONNS:-50}
	wrk_warm=0 wrk_secs=1
	n_native=2000 n_shim=200000 n_go=300000
	n_pp_native=30000 n_pp_shim=500000 n_pp_go=300000
else
	reps=${BENCH_REPS:-3} warmup=${BENCH_WARMUP:-1} secs=${BENCH_SECS:-2}
	conns_list=${BENCH_CONNS:-"100 1000 10000"} sizes=${BENCH_SIZES:-"64 4096"}
	placements=${BENCH_PLACEMENTS:-"pinned unpinned"}
	real_conns=${BENCH_REAL_CONNS:-"50 500"}
	wrk_warm=1 wrk_secs=2
	n_native=5000 n_shim=500000 n_go=1000000
	n_pp_native=100000 n_pp_shim=2000000 n_pp_go=1000000
fi
idle_conns=${idle_conns:-${BENCH_IDLE_CONNS:-10000}}
# x86-64 THREAD_SIZE (no KASAN): every OS thread has a 16 KiB kernel stack
# that no /proc/PID/status field shows.
kstack_kb=16

B=$O
for f in apps/echo_threads apps/echo_epoll apps/loadgen apps/pingpong \
	 apps/spawnjoin libdtact_shim.so dtact-run; do
	if [ ! -e "$B/$f" ]; then
		echo "bench/echo.sh: $B/$f is missing: build first" \
		     "(make O=$O all)" >&2
		exit 1
	fi
done

# Go baselines: built here when golang-go is installed (standard library
# only; caches under $O so that nothing lands in $HOME).
have_go=0
if command -v go >/dev/null; then
	mkdir -p "$B/bench/go"
	have_go=1
	for p in echo spawn pingpong; do
		if ! GOCACHE=$B/go/cache GOPATH=$B/go/path GO111MODULE=off \
		     go build -o "$B/bench/go/$p" "$src/bench/go/$p.go"; then
			echo "bench/echo.sh: go build $p failed" >&2
			have_go=0
		fi
	done
else
	echo "bench/echo.sh: no go (apt-get install golang-go): Go rows skipped" >&2
fi

# Both the server and loadgen hold one descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
nofile=$(ulimit -n)
max_conns=$idle_conns
for c in $conns_list; do [ "$c" -gt "$max_conns" ] && max_conns=$c; done
if [ "$nofile" != unlimited ] && [ "$nofile" -lt $((max_conns + 256)) ]; then
	echo "bench/echo.sh: ulimit -n is $nofile (hard limit): cases above" \
	     "$((nofile - 256)) connections are recorded as skipped" >&2
fi
fits() { [ "$nofile" = unlimited ] || [ "$1" -le $((nofile - 256)) ]; }

host=$(hostname -s 2>/dev/null || hostname)
label=$(date +%Y-%m-%d)-$host
[ $quick = 1 ] && label=$label-quick
[ -z "$out" ] && out=$src/bench/results/$label
stage=$(mktemp -d "${TMPDIR:-/tmp}/dtact-bench.XXXXXX")
tmp=$stage/tmp
mkdir -p "$tmp"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
}
trap 'cleanup; rm -rf "$stage"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- machine -----------------------------------------------------------

cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
{
	echo "mode: $([ $quick = 1 ] && echo "quick (short windows, fewer cases; noisy)" || echo full)"
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "host: $host"
	echo "cpu: $cpu_model"
	echo "cpus: $(nproc) online ($(grep -c ^processor /proc/cpuinfo) in /proc/cpuinfo)"
	echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "kernel: $(uname -srm)"
	echo "glibc: $(ldd --version 2>&1 | head -n1)"
	echo "gcc: $(gcc -dumpfullversion 2>/dev/null) ($(gcc --version | head -n1))"
	echo "cflags apps: gcc -O2 -g -Wall -pthread (Makefile rule \$(O)/apps/%: echo_threads, echo_epoll, loadgen, pingpong, spawnjoin)"
	echo "cflags libdtact_shim.so: $(sed -n 's/^OPT *?= *//p' "$src/Makefile" | head -n1) -g -std=gnu11 -fPIC -fvisibility=hidden (Makefile OPT, CFLAGS, BASEFLAGS)"
	echo "go: $( [ $have_go = 1 ] && go version || echo 'not installed')"
	echo "python: $(python3 --version 2>&1)"
	echo "wrk: $(dpkg-query -W -f='${Version}' wrk 2>/dev/null || echo none)"
	echo "microsocks: $(dpkg-query -W -f='${Version}' microsocks 2>/dev/null || echo none)"
	echo "proxychains4: $(dpkg-query -W -f='${Version}' proxychains4 2>/dev/null || echo none)"
	echo "dtact: $(git -C "$src" rev-parse --short HEAD 2>/dev/null)$(git -C "$src" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')"
	echo "ulimit -n: $nofile (hard $(ulimit -Hn); servers and loadgen each)"
	echo "kernel stack per thread: ${kstack_kb} KiB (x86-64 THREAD_SIZE)"
	echo "somaxconn: $(cat /proc/sys/net/core/somaxconn)"
	echo "reps: $reps; echo window: ${warmup} s warm-up + ${secs} s; wrk: ${wrk_warm} s warm-up run + ${wrk_secs} s"
	echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$stage/machine.txt"
echo "bench/echo.sh: $(sed -n 's/^mode: //p' "$stage/machine.txt"); load average" \
     "$(cut -d' ' -f1-3 /proc/loadavg); ulimit -n $nofile; sections: ${sections[*]}"

# ---- helpers -----------------------------------------------------------

# start_server OUT REGEX CMD...: start CMD (stdout+stderr to OUT), wait for
# REGEX (a sed -n 's/REGEX/\1/p' capturing the port).  Sets $spid, $port.
start_server() {
	local outf=$1 re=$2 i
	shift 2
	# A fresh file: never read the port of the previous server.
	rm -f "$outf"
	"$@" >"$outf" 2>&1 &
	spid=$!
	pids+=("$spid")
	port=
	for i in $(seq 200); do
		port=$(sed -n "s/$re/\\1/p" "$outf" 2>/dev/null | head -n1)
		[ -n "$port" ] && return 0
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.025
	done
	return 1
}

# wait_listen PORT: until something listens on 127.0.0.1:PORT (5 s).
wait_listen() {
	local i
	for i in $(seq 200); do
		ss -ltnH "sport = :$1" 2>/dev/null | grep -q . && return 0
		kill -0 "$spid" 2>/dev/null || return 1
		sleep 0.025
	done
	return 1
}

stop_server() {
	local i
	[ -n "${spid:-}" ] || return 0
	kill "$spid" 2>/dev/null
	for i in $(seq 40); do
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	spid=
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# cpu_ticks PID: utime + stime of PID so far (clock ticks).
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
clk_tck=$(getconf CLK_TCK)

# status_of PID: "threads rss_kb pte_kb" now.
status_of() {
	awk '/^Threads:/ { t = $2 } /^VmRSS:/ { r = $2 } /^VmPTE:/ { p = $2 }
	     END { print t + 0, r + 0, p + 0 }' "/proc/$1/status" 2>/dev/null
}

# sample PID FILE: until killed, keep the peaks "threads rss pte" in FILE.
sample() {
	local pid=$1 file=$2 th=0 rss=0 pte=0 k v _
	while kill -0 "$pid" 2>/dev/null; do
		while read -r k v _; do
			case $k in
			Threads:) [ "$v" -gt "$th" ] && th=$v ;;
			VmRSS:) [ "$v" -gt "$rss" ] && rss=$v ;;
			VmPTE:) [ "$v" -gt "$pte" ] && pte=$v ;;
			esac
		done 2>/dev/null <"/proc/$pid/status"
		echo "$th $rss $pte" >"$file.new" && mv "$file.new" "$file"
		sleep 0.25
	done
}

now_s() { date +%s.%N; }

# Server command lines, by name and placement.  Sets $cmd (array), $cfg.
server_cmd() {
	local srv=$1 place=$2 n=2 pin=()
	if [ "$place" = pinned ]; then
		n=1
		pin=(taskset -c 0)
	fi
	case $srv in
	threads) cmd=("${pin[@]}" "$B/apps/echo_threads" 0)
		 cfg="native pthreads" ;;
	shim)	 cmd=(env DTACT_WORKERS=$n "${pin[@]}" "$B/dtact-run"
		      "$B/apps/echo_threads" 0)
		 cfg="DTACT_WORKERS=$n" ;;
	epoll)	 cmd=("${pin[@]}" "$B/apps/echo_epoll" 0 $n)
		 cfg="$n thread$([ $n = 1 ] || echo s)$([ $n = 1 ] || echo ' SO_REUSEPORT')" ;;
	go)	 cmd=(env GOMAXPROCS=$n "${pin[@]}" "$B/bench/go/echo" 0)
		 cfg="GOMAXPROCS=$n" ;;
	# Memory only: the shim with stacks sized for echo_threads (its 64 KiB
	# buffer lives on the stack) instead of RLIMIT_STACK's 8 MiB.
	shim128k) cmd=(env DTACT_WORKERS=$n DTACT_STACK_SIZE=128K "${pin[@]}"
		      "$B/dtact-run" "$B/apps/echo_threads" 0)
		 cfg="DTACT_WORKERS=$n DTACT_STACK_SIZE=128K" ;;
	esac
}

servers=(threads shim epoll)
[ $have_go = 1 ] && servers+=(go)
total_runs=0

# ---- echo: requests/s and latency --------------------------------------

run_echo() {
	local csv=$stage/echo.csv rep place srv c s lg=() st line cpu0 cpu1 t0 t1 scpu
	echo "server,config,placement,conns,size,rep,rps,p50_ns,p99_ns,p999_ns,max_ns,requests,window_s,starved,errors,lg_cpu_pct,lg_threads,srv_cpu_pct,status" >"$csv"
	echo "echo: servers ${servers[*]}; placements $placements;" \
	     "connections $conns_list; sizes $sizes; $reps reps"
	for rep in $(seq "$reps"); do
	for place in $placements; do
	for srv in "${servers[@]}"; do
	for c in $conns_list; do
	for s in $sizes; do
		server_cmd "$srv" "$place"
		if ! fits "$c"; then
			echo "$srv,$cfg,$place,$c,$s,$rep,,,,,,,,,,,,,skipped: ulimit -n $nofile" >>"$csv"
			continue
		fi
		if [ "$place" = pinned ]; then
			lg=(taskset -c 1 "$B/apps/loadgen" -t 1)
		else
			lg=("$B/apps/loadgen" -t 2)
		fi
		st=ok line=
		if start_server "$tmp/srv.out" '^listening on \([0-9]*\)$' "${cmd[@]}"; then
			cpu0=$(cpu_ticks "$spid") t0=$(now_s)
			timeout -k 5 $((60 + c / 200)) "${lg[@]}" -p "$port" \
				-c "$c" -s "$s" -w "$warmup" -d "$secs" --csv \
				>"$tmp/lg.out" 2>"$tmp/lg.err"
			rc=$?
			line=$(tail -n1 "$tmp/lg.out")
			cpu1=$(cpu_ticks "$spid") t1=$(now_s)
			scpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
			       'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
			[ $rc -ne 0 ] && st="loadgen exit $rc: $(head -c 120 "$tmp/lg.err" | tr ',\n' '; ')"
			kill -0 "$spid" 2>/dev/null || st="server died: $(tail -c 120 "$tmp/srv.out" | tr ',\n' '; ')"
		else
			st="server did not start: $(tail -c 120 "$tmp/srv.out" | tr ',\n' '; ')"
			scpu=
		fi
		stop_server
		total_runs=$((total_runs + 1))
		# loadgen: conns,size,threads,seconds,requests,rps,p50,p99,p999,max,starved,errors,cpu
		echo "$line" | awk -F, -v pre="$srv,$cfg,$place,$c,$s,$rep" \
			-v scpu="$scpu" -v st="$st" '
			NF == 13 { printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n",
				pre, $6, $7, $8, $9, $10, $5, $4, $11, $12, $13, $3, scpu, st; next }
			{ printf "%s,,,,,,,,,,,,%s,%s\n", pre, scpu, st }' >>"$csv"
		printf '  rep %s %-8s %-6s %5s conns %4s B: %s\n' "$rep" "$place" \
			"$srv" "$c" "$s" "$(tail -n1 "$csv" | cut -d, -f7,9,14,16,18,19 |
			awk -F, '{ printf "%s req/s, p99 %s ns, starved %s, loadgen %s%%, server %s%%, %s", $1, $2, $3, $4, $5, $6 }')"
	done
	done
	done
	done
	done
}

# ---- idle: memory per connection ---------------------------------------

run_idle() {
	local csv=$stage/idle.csv rep srv base held lst st
	echo "server,config,rep,conns,base_threads,base_rss_kb,base_pte_kb,threads,rss_kb,pte_kb,kstack_kb_per_thread,per_conn_bytes,status" >"$csv"
	if ! fits "$idle_conns"; then
		echo "idle: $idle_conns connections do not fit ulimit -n $nofile: skipped"
		return
	fi
	local idle_servers=("${servers[@]}" shim128k)
	echo "idle: $idle_conns idle connections, servers ${idle_servers[*]} (unpinned configuration), $reps reps"
	for rep in $(seq "$reps"); do
	for srv in "${idle_servers[@]}"; do
		server_cmd "$srv" unpinned
		st=ok base= held=
		if start_server "$tmp/srv.out" '^listening on \([0-9]*\)$' "${cmd[@]}"; then
			sleep 0.2
			base=$(status_of "$spid")
			rm -f "$tmp/release"
			timeout -k 5 120 "$B/apps/loadgen" -p "$port" --idle \
				-c "$idle_conns" --hold-secs 60 \
				--hold-file "$tmp/release" >"$tmp/idle.out" 2>&1 &
			lst=$!
			for _ in $(seq 1200); do
				grep -q '^holding:' "$tmp/idle.out" && break
				kill -0 "$lst" 2>/dev/null || break
				sleep 0.05
			done
			if grep -q '^holding:' "$tmp/idle.out"; then
				sleep 0.3	# let the server settle
				held=$(status_of "$spid")
			else
				st="loadgen: $(tail -c 120 "$tmp/idle.out" | tr ',\n' '; ')"
			fi
			touch "$tmp/release"
			wait "$lst" 2>/dev/null
			kill -0 "$spid" 2>/dev/null || st="server died: $(tail -c 120 "$tmp/srv.out" | tr ',\n' '; ')"
		else
			st="server did not start: $(tail -c 120 "$tmp/srv.out" | tr ',\n' '; ')"
		fi
		stop_server
		total_runs=$((total_runs + 1))
		echo "$base $held" | awk -v pre="$srv,$cfg,$rep,$idle_conns" -v k="$kstack_kb" \
			-v n="$idle_conns" -v st="$st" '
			NF == 6 { per = (($4 + $5 + $6 + $4 * k) - ($1 + $2 + $3 + $1 * k)) * 1024 / n
				  printf "%s,%s,%s,%s,%s,%s,%s,%s,%.0f,%s\n", pre, $1, $2, $3,
					$4, $5, $6, k, per, st; next }
			{ printf "%s,,,,,,,%s,,%s\n", pre, k, st }' >>"$csv"
		printf '  rep %s %-7s %s\n' "$rep" "$srv" "$(tail -n1 "$csv" |
			awk -F, '{ printf "threads %s, VmRSS %s kB, VmPTE %s kB: %s B per connection (%s)", $8, $9, $10, $12, $13 }')"
	done
	done
}

# ---- micro: spawn+join, ping-pong --------------------------------------

# micro_one CSVPREFIX CMD...: run, parse "name,mode,n,ns[,rate]".
micro_one() {
	local pre=$1 line rc st=ok
	shift
	timeout -k 5 60 "$@" >"$tmp/micro.out" 2>"$tmp/micro.err"
	rc=$?
	line=$(tail -n1 "$tmp/micro.out")
	[ $rc -ne 0 ] && st="exit $rc$([ $rc = 124 ] && echo ' (timeout: hung)'): $(head -c 100 "$tmp/micro.err" | tr ',\n' '; ')"
	total_runs=$((total_runs + 1))
	echo "$line" | awk -F, -v pre="$pre" -v st="$st" '
		NF >= 4 && st == "ok" { printf "%s,%s,%s,%.0f,%s\n", pre, $3, $4,
			(NF >= 5 ? $5 : 1e9 / $4), st; next }
		{ printf "%s,,,,%s\n", pre, st }' >>"$stage/micro.csv"
	printf '  %-48s %s\n' "$pre" "$(tail -n1 "$stage/micro.csv" | cut -d, -f8,10 | tr , ' ')"
}

run_micro() {
	local rep place n pin mode
	echo "bench,mode,impl,placement,config,rep,n,ns_per_op,ops_per_s,status" >"$stage/micro.csv"
	echo "micro: spawn+join and ping-pong, pinned (one CPU, 1 worker) and unpinned (2), $reps reps"
	for rep in $(seq "$reps"); do
	for place in pinned unpinned; do
		n=2 pin=()
		[ "$place" = pinned ] && n=1 pin=(taskset -c 0)
		for mode in serial batch; do
			micro_one "spawn,$mode,native,$place,pthread_create+join,$rep" \
				"${pin[@]}" "$B/apps/spawnjoin" $mode $n_native
			micro_one "spawn,$mode,shim,$place,DTACT_WORKERS=$n,$rep" \
				env DTACT_WORKERS=$n "${pin[@]}" "$B/dtact-run" \
				"$B/apps/spawnjoin" $mode $n_shim
			[ $have_go = 1 ] && micro_one "spawn,$mode,go,$place,GOMAXPROCS=$n,$rep" \
				env GOMAXPROCS=$n "${pin[@]}" "$B/bench/go/spawn" $mode $n_go
		done
		micro_one "pingpong,condvar,native,$place,mutex+condvar,$rep" \
			"${pin[@]}" "$B/apps/pingpong" $n_pp_native
		micro_one "pingpong,condvar,shim,$place,DTACT_WORKERS=$n,$rep" \
			env DTACT_WORKERS=$n "${pin[@]}" "$B/dtact-run" \
			"$B/apps/pingpong" $n_pp_shim
		[ $have_go = 1 ] && micro_one "pingpong,chan,go,$place,GOMAXPROCS=$n,$rep" \
			env GOMAXPROCS=$n "${pin[@]}" "$B/bench/go/pingpong" $n_pp_go
	done
	done
}

# ---- real programs -----------------------------------------------------

# wrk_run CONNS SECS URL OUT: wrk with its CPU (bash time) in OUT.time.
wrk_run() {
	local TIMEFORMAT='%3R %3U %3S'
	{ time timeout -k 5 $(($2 + 30)) wrk -t 2 -c "$1" -d "${2}s" --latency \
		"$3" >"$4" 2>&1; } 2>"$4.time"
}

# parse_wrk OUT: "rps,p99_ns,errors,cpu_pct"
parse_wrk() {
	awk -v tf="$1.time" '
	function ns(v) {
		if (v ~ /us$/) return v * 1e3
		if (v ~ /ms$/) return v * 1e6
		if (v ~ /s$/) return v * 1e9
		return v
	}
	/^Requests\/sec:/ { rps = $2 }
	$1 == "99%" { p99 = ns($2) }
	/Socket errors:/ { gsub(/,/, ""); err += $4 + $6 + $8 + $10 }
	/Non-2xx/ { err += $NF }
	END {
		getline t < tf
		split(t, a, " ")
		cpu = a[1] > 0 ? 100 * (a[2] + a[3]) / a[1] : ""
		printf "%s,%.0f,%d,%s", rps, p99, err, cpu == "" ? "" : sprintf("%.1f", cpu)
	}' "$1"
}

run_real() {
	local csv=$stage/real.csv rep impl c pre cmd2 st sp peak res eport eline
	echo "program,impl,config,conns,rep,client,rps,p99_ns,errors,peak_threads,peak_rss_kb,peak_pte_kb,client_cpu_pct,srv_cpu_pct,status" >"$csv"
	mkdir -p "$tmp/www"
	head -c 1024 /dev/zero | tr '\0' x >"$tmp/www/page.html"
	echo "real: python3 -m http.server (wrk) and microsocks (loadgen through" \
	     "proxychains4, relaying to echo_epoll), native vs shim" \
	     "(DTACT_WORKERS=2), connections $real_conns, $reps reps"
	for rep in $(seq "$reps"); do
	for c in $real_conns; do
	for impl in native shim; do
		pre=()
		cfg="native"
		if [ $impl = shim ]; then
			pre=(env DTACT_WORKERS=2 "$B/dtact-run")
			cfg="DTACT_WORKERS=2"
		fi
		# python3 -m http.server (ThreadingHTTPServer: a thread per
		# connection, HTTP/1.0: a connection per request).
		st=ok res=",,,"
		echo "0 0 0" >"$tmp/peak"
		if command -v wrk >/dev/null &&
		   start_server "$tmp/srv.out" '^Serving HTTP on .* port \([0-9]*\) .*' \
			"${pre[@]}" python3 -u -m http.server --bind 127.0.0.1 \
			--directory "$tmp/www" 0; then
			[ "$wrk_warm" -gt 0 ] &&
				wrk_run "$c" "$wrk_warm" "http://127.0.0.1:$port/page.html" "$tmp/wrk.warm"
			sample "$spid" "$tmp/peak" & sp=$!
			cpu0=$(cpu_ticks "$spid") t0=$(now_s)
			wrk_run "$c" "$wrk_secs" "http://127.0.0.1:$port/page.html" "$tmp/wrk.out"
			cpu1=$(cpu_ticks "$spid") t1=$(now_s)
			kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
			res=$(parse_wrk "$tmp/wrk.out")
			grep -q '^Requests/sec:' "$tmp/wrk.out" || st="wrk: $(tail -c 100 "$tmp/wrk.out" | tr ',\n' '; ')"
			kill -0 "$spid" 2>/dev/null || st="server died"
		else
			st="no wrk or server did not start: $(tail -c 100 "$tmp/srv.out" | tr ',\n' '; ')"
			cpu0=0 cpu1=0 t0=0 t1=1
		fi
		stop_server
		total_runs=$((total_runs + 1))
		scpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
		       'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
		read -r pt pr pp <"$tmp/peak"
		IFS=, read -r r1 r2 r3 r4 <<<"$res"
		echo "http.server,$impl,$cfg,$c,$rep,wrk -t 2,$r1,$r2,$r3,$pt,$pr,$pp,$r4,$scpu,$st" >>"$csv"
		printf '  rep %s http.server %-6s %4s conns: %s req/s, p99 %s ns, errors %s, threads %s, rss %s kB\n' \
			"$rep" "$impl" "$c" "$r1" "$r2" "$r3" "$pt" "$pr"

		# microsocks relaying to a local echo_epoll; loadgen speaks SOCKS5
		# through proxychains4 (its connect() becomes the handshake).
		st=ok line=
		echo "0 0 0" >"$tmp/peak"
		eport= espid=
		if command -v microsocks >/dev/null && command -v proxychains4 >/dev/null &&
		   start_server "$tmp/echo.out" '^listening on \([0-9]*\)$' "$B/apps/echo_epoll" 0 1; then
			espid=$spid eport=$port
			sport=$(free_port)
			printf 'strict_chain\nquiet_mode\ntcp_read_time_out 15000\ntcp_connect_time_out 8000\n[ProxyList]\nsocks5 127.0.0.1 %s\n' \
				"$sport" >"$tmp/pc.conf"
			"${pre[@]}" microsocks -i 127.0.0.1 -p "$sport" >/dev/null 2>&1 &
			spid=$!
			pids+=("$spid")
			if wait_listen "$sport"; then
				sample "$spid" "$tmp/peak" & sp=$!
				cpu0=$(cpu_ticks "$spid") t0=$(now_s)
				timeout -k 5 60 proxychains4 -q -f "$tmp/pc.conf" \
					"$B/apps/loadgen" -p "$eport" -c "$c" -s 64 \
					-w "$warmup" -d "$secs" --csv \
					>"$tmp/lg.out" 2>"$tmp/lg.err"
				rc=$?
				line=$(tail -n1 "$tmp/lg.out")
				cpu1=$(cpu_ticks "$spid") t1=$(now_s)
				kill "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
				[ $rc -ne 0 ] && st="loadgen exit $rc: $(head -c 100 "$tmp/lg.err" | tr ',\n' '; ')"
				kill -0 "$spid" 2>/dev/null || st="microsocks died"
			else
				st="microsocks did not start"
				cpu0=0 cpu1=0 t0=0 t1=1
			fi
			stop_server
			spid=$espid
			stop_server
		else
			st="no microsocks/proxychains4 or echo_epoll did not start"
			cpu0=0 cpu1=0 t0=0 t1=1
		fi
		total_runs=$((total_runs + 1))
		scpu=$(awk -v a="$cpu0" -v b="$cpu1" -v t0="$t0" -v t1="$t1" -v hz="$clk_tck" \
		       'BEGIN { printf "%.1f", 100 * (b - a) / hz / (t1 - t0) }')
		read -r pt pr pp <"$tmp/peak"
		echo "$line" | awk -F, -v pre="microsocks,$impl,$cfg,$c,$rep,loadgen 64 B" \
			-v peak="$pt,$pr,$pp" -v scpu="$scpu" -v st="$st" '
			NF == 13 { printf "%s,%s,%s,%s,%s,%s,%s,%s\n", pre, $6, $8,
				$12, peak, $13, scpu, st; next }
			{ printf "%s,,,,%s,,%s,%s\n", pre, peak, scpu, st }' >>"$csv"
		printf '  rep %s microsocks  %-6s %4s conns: %s\n' "$rep" "$impl" "$c" \
			"$(tail -n1 "$csv" | awk -F, '{ printf "%s req/s, p99 %s ns, errors %s, threads %s, rss %s kB (%s)", $7, $8, $9, $10, $11, $15 }')"
	done
	done
	done
}

for sec in "${sections[@]}"; do
	s0=$(date +%s)
	"run_$sec"
	echo "  ($sec: $(( $(date +%s) - s0 )) s)"
done

elapsed=$(( $(date +%s) - t_start ))
{
	echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "duration: $elapsed s for $total_runs runs (bench/echo.sh, sections: ${sections[*]})"
} >>"$stage/machine.txt"

if ! python3 "$src/bench/report.py" "$stage"; then
	echo "bench/echo.sh: report.py failed; raw data kept" >&2
fi
rm -rf "$tmp"
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$stage" "$out"
echo "bench/echo.sh: $total_runs runs in $elapsed s; results in $out"
echo "  $out/RESULTS.md"
