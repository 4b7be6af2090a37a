#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/report.py - turn one bench/echo.sh run into RESULTS.md and PNGs.

    python3 bench/report.py DIR

DIR holds what bench/echo.sh wrote: machine.txt, echo.csv, idle.csv,
micro.csv, real.csv (any may be missing).  Writes DIR/RESULTS.md, the
gnuplot data and scripts under DIR/plots/ and, when gnuplot is installed,
the PNGs beside them.  Standard library only.

Every figure is the median of the repetitions that completed, with the
min-max beside it; a ratio is the ratio of two medians of the same run.
Nothing here is a constant: a figure that was not measured prints "-".
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys

SERVER_NAMES = {
    "threads": "native threads",
    "shim": "shim",
    "epoll": "epoll",
    "go": "Go",
    "shim128k": "shim, 128 KiB stacks",
}
SERVERS = ["threads", "shim", "epoll", "go"]
IDLE_SERVERS = ["threads", "shim", "shim128k", "epoll", "go"]


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def ok(row):
    return row.get("status", "") == "ok"


class Stat:
    """Median and range of the values that were measured."""

    def __init__(self, values):
        self.v = sorted(x for x in values if x is not None)

    @property
    def n(self):
        return len(self.v)

    @property
    def med(self):
        return statistics.median(self.v) if self.v else None

    @property
    def lo(self):
        return self.v[0] if self.v else None

    @property
    def hi(self):
        return self.v[-1] if self.v else None

    def fmt(self, f, scale=1.0, want=None):
        if not self.v:
            return "-"
        s = "%s (%s–%s)" % (f(self.med / scale), f(self.lo / scale),
                            f(self.hi / scale))
        if want and self.n < want:
            s += " [%d/%d]" % (self.n, want)
        return s


def f_int(x):
    return "{:,.0f}".format(x)


def f_ms(x):
    return "%.2f" % x if x < 100 else "%.0f" % x


def f_1(x):
    return "%.1f" % x


def f_ns(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def f_ratio(r):
    return "-" if r is None else "%.2fx" % r


def machine(d):
    m = {}
    path = os.path.join(d, "machine.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if ":" in line:
                    k, v = line.rstrip("\n").split(":", 1)
                    m[k.strip()] = v.strip()
    return m


# ---- echo ------------------------------------------------------------------

def echo_groups(rows):
    """(placement, size, conns, server) -> list of rows."""
    g = {}
    for r in rows:
        key = (r["placement"], int(r["size"]), int(r["conns"]), r["server"])
        g.setdefault(key, []).append(r)
    return g


LATENCY = ("p50_ns", "p99_ns", "p999_ns", "max_ns")


def col(rows, name, only_ok=True):
    """A column over the repetitions that completed; a latency only from
    repetitions that completed a request (with none it is no figure)."""
    return Stat([num(r[name]) for r in rows if (ok(r) or not only_ok) and
                 not (name in LATENCY and r.get("requests") is not None and
                      (num(r["requests"]) or 0) == 0)])


def echo_section(out, rows, reps, plots):
    g = echo_groups(rows)
    places = sorted({k[0] for k in g}, key=lambda p: p != "pinned")
    sizes = sorted({k[1] for k in g})
    conns = sorted({k[2] for k in g})
    servers = [s for s in SERVERS if any(k[3] == s for k in g)]
    out.append("## Echo: requests/s and latency\n")
    out.append(
        "`loadgen` (epoll, C) holds N connections, each doing request/"
        "response ping-pong of the given size; requests/s and latency "
        "over the window after the warm-up. **Pinned**: server on CPU 0 "
        "(shim 1 worker, Go GOMAXPROCS=1, epoll 1 thread), loadgen on "
        "CPU 1 with 1 thread. **Unpinned**: no affinity, shim 2 workers, "
        "GOMAXPROCS=2, epoll 2 threads with SO_REUSEPORT, loadgen 2 "
        "threads. Each cell: median (min–max) of the repetitions; "
        "*loadgen CPU* is loadgen's own CPU use in the window (100% = one "
        "core; near 100% pinned means the load generator, not the server, "
        "set the pace); *server CPU* is the server's over loadgen's whole "
        "run. *starved*: connections that completed no request in the "
        "window (worst repetition). A `[k/n]` mark: only k of n "
        "repetitions completed (see `status` in echo.csv).\n")
    for place in places:
        for size in sizes:
            out.append("### %s, %d B\n" % (place, size))
            out.append("| conns | server | config | requests/s | p99 ms | "
                       "p50 ms | starved | errors | loadgen CPU % | "
                       "server CPU % |")
            out.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|")
            for c in conns:
                for s in servers:
                    rs = g.get((place, size, c, s))
                    if not rs:
                        continue
                    cfg = rs[0]["config"]
                    done = [r for r in rs if num(r["rps"]) is not None]
                    starved = max((int(num(r["starved"]))
                                   for r in done), default=None)
                    errors = max((int(num(r["errors"])) for r in done),
                                 default=None)
                    bad = [r["status"] for r in rs if not ok(r)]
                    out.append("| %s | %s | %s | %s | %s | %s | %s | %s | "
                               "%s | %s |" % (
                                   f_int(c), SERVER_NAMES.get(s, s), cfg,
                                   col(rs, "rps").fmt(f_int, want=reps),
                                   col(rs, "p99_ns").fmt(f_ms, 1e6),
                                   col(rs, "p50_ns").fmt(f_ms, 1e6),
                                   "-" if starved is None else f_int(starved),
                                   "-" if errors is None else f_int(errors),
                                   col(rs, "lg_cpu_pct").fmt(f_1),
                                   col(rs, "srv_cpu_pct").fmt(f_1)))
                    for b in sorted(set(bad)):
                        out.append("| | | | *%s* | | | | | | |" %
                                   b.replace("|", "/"))
            out.append("")
            # Ratios of medians.
            out.append("Ratios (medians of this run; requests/s: higher "
                       "is better for the shim; p99: lower is better):\n")
            out.append("| conns | shim/epoll req/s | shim/Go req/s | "
                       "shim/native req/s | shim/epoll p99 | shim/Go p99 | "
                       "shim/native p99 |")
            out.append("|---:|---:|---:|---:|---:|---:|---:|")
            for c in conns:
                def med(s, name):
                    return col(g.get((place, size, c, s), []), name).med
                cells = [f_ratio(ratio(med("shim", "rps"), med(o, "rps")))
                         for o in ("epoll", "go", "threads")]
                cells += [f_ratio(ratio(med("shim", "p99_ns"),
                                        med(o, "p99_ns")))
                          for o in ("epoll", "go", "threads")]
                out.append("| %s | %s |" % (f_int(c), " | ".join(cells)))
            out.append("")
            for what, name, ylabel, logy in (
                    ("rps", "rps", "requests/s", False),
                    ("p99", "p99_ns", "p99 latency (ms)", True)):
                base = "echo-%s-%s-%d" % (what, place, size)
                data = []
                for s in servers:
                    pts = []
                    for c in conns:
                        st = col(g.get((place, size, c, s), []), name)
                        if st.n:
                            k = 1e6 if what == "p99" else 1
                            pts.append((c, st.med / k, st.lo / k,
                                        st.hi / k))
                    data.append((SERVER_NAMES.get(s, s), pts))
                plots.append(dict(
                    base=base, kind="lines", data=data, ylabel=ylabel,
                    logy=logy, xlabel="connections",
                    title="echo %s vs connections, %s, %d B" % (
                        ylabel, place, size)))
                out.append("![%s](plots/%s.png)\n" % (base, base))


# ---- idle memory -----------------------------------------------------------

def idle_section(out, rows, reps, plots):
    if not rows:
        return {}
    out.append("## Memory per idle connection\n")
    conns = rows[0]["conns"]
    out.append(
        "%s connections held open by `loadgen --idle` after one 16-byte "
        "round trip each; server in the unpinned configuration. Per "
        "connection = (VmRSS + VmPTE + threads × kernel stack) while "
        "holding, minus the same before the first connection, divided by "
        "the connections. The kernel stack is %s KiB per OS thread "
        "(x86-64 THREAD_SIZE; /proc shows it nowhere). Socket buffers are "
        "the kernel's and the same for every server; they are not "
        "counted. *shim, 128 KiB stacks* is the same shim with "
        "DTACT_STACK_SIZE=128K (echo_threads keeps a 64 KiB buffer on its "
        "stack) instead of the default RLIMIT_STACK (8 MiB): a fiber stack "
        "8 MiB from the next needs a page-table page of its own; it is "
        "shown to say where the shim's memory goes, the target is judged "
        "on the default.\n" % (f_int(int(conns)), rows[0]["kstack_kb_per_thread"]))
    out.append("| server | config | OS threads | VmRSS MiB | VmPTE MiB | "
               "kernel stacks MiB | bytes per connection | of which RSS / "
               "page tables / kernel stacks | shim/this |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    by = {}
    for r in rows:
        by.setdefault(r["server"], []).append(r)
    shim = Stat([num(r["per_conn_bytes"]) for r in by.get("shim", [])
                 if ok(r)]).med
    res = {}
    data = []
    for s in [x for x in IDLE_SERVERS if x in by]:
        rs = by[s]
        okr = [r for r in rs if ok(r)]
        per = Stat([num(r["per_conn_bytes"]) for r in okr])
        n = float(rows[0]["conns"])

        def part(f):
            v = Stat([f(r) * 1024 / n for r in okr]).med
            return "-" if v is None else f_int(v)
        split = " / ".join((
            part(lambda r: num(r["rss_kb"]) - num(r["base_rss_kb"])),
            part(lambda r: num(r["pte_kb"]) - num(r["base_pte_kb"])),
            part(lambda r: (num(r["threads"]) - num(r["base_threads"])) *
                 num(r["kstack_kb_per_thread"]))))
        res[s] = per.med
        ks = Stat([num(r["threads"]) * num(r["kstack_kb_per_thread"])
                   for r in okr])
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            SERVER_NAMES.get(s, s), rs[0]["config"],
            Stat([num(r["threads"]) for r in okr]).fmt(f_int),
            Stat([num(r["rss_kb"]) for r in okr]).fmt(f_1, 1024),
            Stat([num(r["pte_kb"]) for r in okr]).fmt(f_1, 1024),
            ks.fmt(f_1, 1024),
            per.fmt(f_int, want=reps), split,
            f_ratio(ratio(shim, per.med)) if s != "shim" else ""))
        for b in sorted({r["status"] for r in rs if not ok(r)}):
            out.append("| | | *%s* | | | | | | |" % b.replace("|", "/"))
        if per.n:
            data.append((SERVER_NAMES.get(s, s), per.med / 1024,
                         per.lo / 1024, per.hi / 1024))
    out.append("")
    plots.append(dict(base="memory-per-conn", kind="bars", data=data,
                      ylabel="KiB per idle connection",
                      title="resident memory per idle connection "
                      "(RSS + page tables + kernel stacks)"))
    out.append("![memory per connection](plots/memory-per-conn.png)\n")
    return res


# ---- micro -----------------------------------------------------------------

def micro_section(out, rows, reps):
    if not rows:
        return {}
    g = {}
    for r in rows:
        g.setdefault((r["bench"], r["mode"], r["placement"], r["impl"]),
                     []).append(r)
    res = {}
    out.append("## Micro benchmarks\n")
    out.append(
        "Each figure: median (min–max) of %d runs, each its own process "
        "(a warm-up of a tenth of the count first). **Pinned**: the "
        "process on CPU 0 (shim 1 worker, GOMAXPROCS=1); **unpinned**: "
        "2 workers / GOMAXPROCS=2. The shim rows run the plain C programs "
        "`apps/spawnjoin` and `apps/pingpong` unmodified under "
        "`dtact-run`.\n" % reps)
    out.append("### Spawn + join\n")
    out.append("serial: create, join, one at a time; batch: 1,000 "
               "created, then all joined. Go: `go f()` + channel receive "
               "(serial), WaitGroup (batch).\n")
    out.append("| mode | placement | native pthread ns | shim ns | "
               "Go ns | shim spawns/s | Go spawns/s | shim/native speed | "
               "shim/Go speed |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode in ("serial", "batch"):
        for place in ("pinned", "unpinned"):
            st = {i: Stat([num(r["ns_per_op"]) for r in
                           g.get(("spawn", mode, place, i), []) if ok(r)])
                  for i in ("native", "shim", "go")}
            if not any(s.n for s in st.values()):
                continue
            rate = {i: Stat([num(r["ops_per_s"]) for r in
                             g.get(("spawn", mode, place, i), []) if ok(r)])
                    for i in ("shim", "go")}
            res[("spawn", mode, place)] = st
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                mode, place, st["native"].fmt(f_ns, want=reps),
                st["shim"].fmt(f_ns, want=reps), st["go"].fmt(f_ns, want=reps),
                rate["shim"].fmt(f_int), rate["go"].fmt(f_int),
                f_ratio(ratio(st["native"].med, st["shim"].med)),
                f_ratio(ratio(st["go"].med, st["shim"].med))))
    out.append("")
    out.append("### Ping-pong: ns per round trip\n")
    out.append("Two threads hand a turn back and forth under one mutex "
               "with a condvar per side (native, shim); two goroutines "
               "over two unbuffered channels (Go).\n")
    out.append("| placement | native mutex+condvar | shim mutex+condvar | "
               "Go channels | native/shim | shim/Go |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for place in ("pinned", "unpinned"):
        st = {i: Stat([num(r["ns_per_op"]) for r in rows
                       if r["bench"] == "pingpong" and r["impl"] == i and
                       r["placement"] == place and ok(r)])
              for i in ("native", "shim", "go")}
        if not any(s.n for s in st.values()):
            continue
        res[("pingpong", place)] = st
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            place, st["native"].fmt(f_ns, want=reps),
            st["shim"].fmt(f_ns, want=reps), st["go"].fmt(f_ns, want=reps),
            f_ratio(ratio(st["native"].med, st["shim"].med)),
            f_ratio(ratio(st["shim"].med, st["go"].med))))
    bad = sorted({"%s %s %s %s: %s" % (r["bench"], r["mode"], r["impl"],
                                        r["placement"], r["status"])
                  for r in rows if not ok(r)})
    if bad:
        out.append("\nRuns that did not complete (not in the medians):\n")
        out += ["* %s" % b for b in bad]
    out.append("")
    return res


# ---- real programs ---------------------------------------------------------

def real_section(out, rows, reps):
    if not rows:
        return
    g = {}
    for r in rows:
        g.setdefault((r["program"], int(r["conns"]), r["impl"]), []).append(r)
    out.append("## Real programs, natively and under the shim\n")
    out.append(
        "`python3 -m http.server` (ThreadingHTTPServer: a thread per "
        "connection; HTTP/1.0, so a connection per request; listen backlog "
        "5) serving a 1 KiB file, driven by `wrk -t 2` (the full run does a "
        "separate warm-up run first; wrk has no warm-up of its own). `microsocks` (a thread per client) relaying to a "
        "local `echo_epoll`; `loadgen` (64 B ping-pong) speaks SOCKS5 "
        "through `proxychains4`, whose connect() does the handshake, so "
        "the window measures the relay alone. Shim: DTACT_WORKERS=2, "
        "nothing pinned. Peaks of the server's OS threads and VmRSS "
        "sampled every 250 ms during the window; *client CPU*: wrk's "
        "(whole run) or loadgen's (window).\n")
    out.append("| program | conns | run | requests/s | p99 ms | errors | "
               "peak OS threads | peak VmRSS MiB | client CPU % | "
               "server CPU % | shim/native req/s |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (prog, c, impl) in sorted(g, key=lambda k: (k[0], k[1],
                                                     k[2] != "native")):
        rs = g[(prog, c, impl)]
        nat = Stat([num(r["rps"]) for r in g.get((prog, c, "native"), [])
                    if ok(r)]).med
        rps = col(rs, "rps")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                   % (prog, f_int(c), impl, rps.fmt(f_int, want=reps),
                      col(rs, "p99_ns").fmt(f_ms, 1e6),
                      col(rs, "errors").fmt(f_int),
                      col(rs, "peak_threads").fmt(f_int),
                      col(rs, "peak_rss_kb").fmt(f_1, 1024),
                      col(rs, "client_cpu_pct").fmt(f_1),
                      col(rs, "srv_cpu_pct").fmt(f_1),
                      f_ratio(ratio(rps.med, nat)) if impl != "native"
                      else ""))
        for b in sorted({r["status"] for r in rs if not ok(r)}):
            out.append("| | | | *%s* | | | | | | | |" % b.replace("|", "/"))
    out.append("")


# ---- targets ---------------------------------------------------------------

def targets_section(out, echo_rows, idle_res, micro_res):
    out.append("## Targets (reported, not failed on)\n")
    out.append("| target | measured | verdict |")
    out.append("|---|---|---|")
    g = echo_groups(echo_rows)

    def verdict(v):
        return "-" if v is None else ("met" if v else "**MISSED**")

    for c in (100, 1000, 10000):
        m = {s: col(g.get(("pinned", 64, c, s), []), "rps").med
             for s in SERVERS}
        r = ratio(m["shim"], m["epoll"])
        out.append("| echo pinned 64 B, %s conns: shim >= 1.0x epoll "
                   "(1 thread) | %s | %s |" % (
                       f_int(c), f_ratio(r),
                       verdict(None if r is None else r >= 1.0)))
        r = ratio(m["shim"], m["go"])
        out.append("| echo pinned 64 B, %s conns: shim >= 1.2x Go | %s | "
                   "%s |" % (f_int(c), f_ratio(r),
                            verdict(None if r is None else r >= 1.2)))
    rs = [r for r in g.get(("pinned", 64, 10000, "shim"), [])
          if num(r["starved"]) is not None]
    if rs:
        worst = max(int(num(r["starved"])) for r in rs)
        out.append("| no starved connections at 10,000 (shim, pinned, "
                   "64 B) | %d (worst of %d) | %s |" % (worst, len(rs),
                                                       verdict(worst == 0)))
    else:
        out.append("| no starved connections at 10,000 | not measured | - |")
    sm, gm = idle_res.get("shim"), idle_res.get("go")
    out.append("| memory at 10,000 idle: shim <= Go per connection | "
               "%s vs %s B | %s |" % (
                   "-" if sm is None else f_int(sm),
                   "-" if gm is None else f_int(gm),
                   verdict(None if sm is None or gm is None else sm <= gm)))
    for place in ("pinned", "unpinned"):
        for mode in ("serial", "batch"):
            st = micro_res.get(("spawn", mode, place))
            if not st:
                continue
            s, go = st["shim"].med, st["go"].med
            out.append("| spawn+join (%s, %s) >= goroutine spawn rate | "
                       "shim %s ns, Go %s ns | %s |" % (
                           mode, place,
                           "-" if s is None else f_ns(s),
                           "-" if go is None else f_ns(go),
                           verdict(None if s is None or go is None
                                   else s <= go)))
    for place in ("pinned", "unpinned"):
        st = micro_res.get(("pingpong", place))
        if not st:
            continue
        s, go = st["shim"].med, st["go"].med
        out.append("| mutex+condvar ping-pong under the shim <= goroutine "
                   "channel ping-pong (%s) | shim %s ns, Go %s ns | %s |" % (
                       place, "-" if s is None else f_ns(s),
                       "-" if go is None else f_ns(go),
                       verdict(None if s is None or go is None
                               else s <= go)))
    out.append("")


# ---- gnuplot ---------------------------------------------------------------

def write_plots(d, plots):
    pd = os.path.join(d, "plots")
    os.makedirs(pd, exist_ok=True)
    made = []
    for p in plots:
        dat = os.path.join(pd, p["base"] + ".dat")
        gp = os.path.join(pd, p["base"] + ".gp")
        lines = ["set terminal pngcairo size 900,540 noenhanced",
                 "set output '%s.png'" % p["base"],
                 "set title '%s'" % p["title"],
                 "set ylabel '%s'" % p["ylabel"],
                 "set grid", "set key outside right"]
        if p["kind"] == "lines":
            with open(dat, "w") as f:
                for name, pts in p["data"]:
                    f.write("# %s\n" % name)
                    for c, m, lo, hi in pts:
                        f.write("%d %g %g %g\n" % (c, m, lo, hi))
                    f.write("\n\n")
            lines += ["set xlabel '%s'" % p["xlabel"], "set logscale x",
                      "set xrange [50:20000]", "set yrange [0:*]"
                      if not p["logy"] else "set logscale y"]
            parts = []
            for i, (name, pts) in enumerate(p["data"]):
                if not pts:
                    continue
                parts.append("'%s.dat' index %d using 1:2:3:4 with "
                             "yerrorlines lw 2 title '%s'" % (
                                 p["base"], i, name))
            if not parts:
                continue
            lines.append("plot " + ", \\\n     ".join(parts))
        else:
            if not p["data"]:
                continue
            with open(dat, "w") as f:
                for i, (name, m, lo, hi) in enumerate(p["data"]):
                    f.write("%d \"%s\" %g %g %g\n" % (i, name, m, lo, hi))
            lines += ["set style fill solid 0.6", "set boxwidth 0.6",
                      "set yrange [0:*]", "unset key",
                      "set xrange [-0.6:%g]" % (len(p["data"]) - 0.4),
                      "plot '%s.dat' using 1:3:xtic(2) with boxes, "
                      "'' using 1:3:4:5 with yerrorbars lc rgb 'black' "
                      "pt 0" % p["base"]]
        with open(gp, "w") as f:
            f.write("\n".join(lines) + "\n")
        made.append(p["base"])
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("report.py: no gnuplot (apt-get install gnuplot-nox): "
              "scripts written, no PNGs", file=sys.stderr)
        return
    for b in made:
        r = subprocess.run([gnuplot, b + ".gp"], cwd=pd,
                           capture_output=True, text=True)
        if r.returncode:
            print("report.py: gnuplot %s.gp: %s" % (b, r.stderr.strip()),
                  file=sys.stderr)


def main():
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    d = sys.argv[1]
    m = machine(d)
    echo_rows = read_csv(os.path.join(d, "echo.csv"))
    idle_rows = read_csv(os.path.join(d, "idle.csv"))
    micro_rows = read_csv(os.path.join(d, "micro.csv"))
    real_rows = read_csv(os.path.join(d, "real.csv"))
    reps = 0
    try:
        reps = int(m.get("reps", "0").split(";")[0])
    except ValueError:
        pass
    out = []
    quick = m.get("mode", "").startswith("quick")
    out.append("# dtact benchmarks: %s, %s%s\n" % (
        m.get("host", "?"), m.get("date", "?"),
        " (QUICK RUN)" if quick else ""))
    if quick:
        out.append("> **Quick run** (`make bench-quick`): short windows "
                   "and fewer cases, on a machine that was not quiet "
                   "(load averages below). Good for spotting a "
                   "regression, not for quoting; the full run "
                   "(`make bench`) is the reference.\n")
    out.append("Generated by `bench/report.py` from the CSV files beside "
               "this one (`bench/echo.sh`; method in `bench/README.md`).\n")
    out.append("## Machine\n")
    out.append("| | |")
    out.append("|---|---|")
    for k in ("mode", "date", "cpu", "cpus", "memory", "kernel", "glibc",
              "gcc", "cflags apps", "cflags libdtact_shim.so", "go",
              "python", "wrk", "microsocks", "proxychains4", "dtact",
              "ulimit -n", "somaxconn", "reps", "load average before",
              "load average after", "duration"):
        if k in m:
            out.append("| %s | %s |" % (k, m[k].replace("|", "/")))
    out.append("")
    plots = []
    idle_res, micro_res = {}, {}
    body = []
    if echo_rows:
        echo_section(body, echo_rows, reps, plots)
    if idle_rows:
        idle_res = idle_section(body, idle_rows, reps, plots)
    if micro_rows:
        micro_res = micro_section(body, micro_rows, reps)
    if real_rows:
        real_section(body, real_rows, reps)
    targets_section(out, echo_rows, idle_res, micro_res)
    out += body
    with open(os.path.join(d, "RESULTS.md"), "w") as f:
        f.write("\n".join(out).rstrip("\n") + "\n")
    write_plots(d, plots)
    print("report.py: wrote %s" % os.path.join(d, "RESULTS.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
