#!/usr/bin/env python3
"""bench/http_report.py - the HTTP section of docs/BENCHMARKS.md (issue 8).

Usage: http_report.py BUILD_DIR [DOCS_DIR]

Reads what bench/http/run.sh wrote in BUILD_DIR/bench/ (http-meta.txt and
http-{load,idle,client}-rounds.tsv), prints the tables, writes the summary
BUILD_DIR/bench/http.tsv (median, min, max and count of every figure) and,
with DOCS_DIR, draws DOCS_DIR/bench-http.png and puts the section into
DOCS_DIR/BENCHMARKS.md in place of the previous HTTP section (appended when
there was none; the rest of the file is left as it is). bench/report.py
imports http_section() and keep_section() for a full regeneration.
"""
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HEADING = "## HTTP (http/, issue 8)"
SOAK_HEADING = "## Soak (make soak)"
ORDER = ["axon", "axon2", "epoll", "nginx", "h2o", "go", "hyper"]
LABEL = {"axon": "Axon, 1 worker", "axon2": "Axon, 2 workers*", "epoll": "epoll responder (hand-written)",
         "nginx": "nginx", "h2o": "h2o", "go": "Go net/http", "hyper": "hyper"}
SHORT = {"axon": "Axon", "axon2": "Axon w2", "epoll": "epoll", "nginx": "nginx", "h2o": "h2o",
         "go": "Go", "hyper": "hyper"}
REFS = ["epoll", "nginx", "hyper"]
CLIENTS = [("axon", "Axon client"), ("go", "Go net/http client"), ("hyper", "hyper client")]
# Issue 8's bars (one server core each).
PIPE_VS_EPOLL = 0.9
IDLE_BAR_KIB = 1.0


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def read_meta(path):
    meta, versions = {}, []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line.startswith("version "):
                    versions.append(line[len("version "):])
                elif ": " in line:
                    k, v = line.split(": ", 1)
                    meta[k] = v
    return meta, versions


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def stat(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals), min(vals), max(vals), len(vals)


def num(x):
    if x is None:
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def span(s):
    if s is None:
        return "-"
    m, lo, hi, _ = s
    return num(m) if num(lo) == num(hi) else f"{num(m)} ({num(lo)}–{num(hi)})"


def ratio(a, b):
    return f"{a[0] / b[0]:.2f}×" if a and b and b[0] else "-"


class Data:
    def __init__(self, build):
        bench = os.path.join(build, "bench")
        self.meta, self.versions = read_meta(os.path.join(bench, "http-meta.txt"))
        self.load = read_tsv(os.path.join(bench, "http-load-rounds.tsv"))
        self.idle = read_tsv(os.path.join(bench, "http-idle-rounds.tsv"))
        self.client = read_tsv(os.path.join(bench, "http-client-rounds.tsv"))
        self.servers = [s for s in ORDER if s in self.meta.get("servers", " ".join(ORDER)).split()]
        self.active = self.meta.get("active", "").split()
        self.tests = []
        for r in self.load:
            t = (r["test"], r["path"])
            if t not in self.tests:
                self.tests.append(t)

    def load_stat(self, test, path, server, key):
        return stat([fnum(r[key]) for r in self.load
                     if r["test"] == test and r["path"] == path and r["server"] == server])

    def load_note(self, test, path, server):
        """" (N errors)" / " (failed in K rounds)" for a table cell, or ""."""
        errs, failed = 0, 0
        for r in self.load:
            if r["test"] == test and r["path"] == path and r["server"] == server:
                if r["errors"].isdigit():
                    errs += int(r["errors"])
                else:
                    failed += 1
        return (f" ({errs} errors)" if errs else "") + (f" (failed in {failed} rounds)" if failed else "")

    def idle_stat(self, server):
        return stat([fnum(r["kib_per_conn"]) for r in self.idle if r["server"] == server])

    def idle_before(self, server):
        return stat([fnum(r["rss_before_kib"]) for r in self.idle if r["server"] == server])

    def client_stat(self, client, key):
        return stat([fnum(r[key]) for r in self.client if r["client"] == client])

    def label(self, s):
        if s in ("axon", "axon2") and s not in self.active:
            return LABEL[s] + " (not built)"
        return LABEL[s]


def pipe_table(d):
    refs = [r for r in REFS if r in d.active]
    head = ["path", "server", "req/s"] + [f"÷ {SHORT[r]}" for r in refs] + ["server CPU ns/req"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for test, path in d.tests:
        if test != "pipe":
            continue
        ref = {r: d.load_stat(test, path, r, "rps") for r in refs}
        for s in d.servers:
            rps = d.load_stat(test, path, s, "rps")
            note = d.load_note(test, path, s)
            out.append(f"| `{path}` | {d.label(s)}{note} | {span(rps)} | "
                       + " | ".join(ratio(rps, ref[r]) for r in refs)
                       + f" | {span(d.load_stat(test, path, s, 'cpu_ns_per_req'))} |")
    return "\n".join(out)


def plain_table(d):
    refs = [r for r in REFS if r in d.active]
    head = (["test", "server", "req/s", "p50 µs", "p99 µs", "server CPU ns/req"]
            + [f"CPU ÷ {SHORT[r]}" for r in refs])
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for test, path in d.tests:
        if test == "pipe":
            continue
        ref = {r: d.load_stat(test, path, r, "cpu_ns_per_req") for r in refs}
        for s in d.servers:
            cpu = d.load_stat(test, path, s, "cpu_ns_per_req")
            note = d.load_note(test, path, s)
            out.append(f"| {test} `{path}` | {d.label(s)}{note} | {span(d.load_stat(test, path, s, 'rps'))} | "
                       f"{span(d.load_stat(test, path, s, 'p50_us'))} | {span(d.load_stat(test, path, s, 'p99_us'))} | "
                       f"{span(cpu)} | " + " | ".join(ratio(cpu, ref[r]) for r in refs) + " |")
    return "\n".join(out)


def idle_table(d):
    out = ["| server | KiB per idle keep-alive connection | RSS before, KiB |", "|---|---|---|"]
    for s in d.servers:
        if s == "axon2":
            continue
        out.append(f"| {d.label(s)} | {span(d.idle_stat(s))} | {span(d.idle_before(s))} |")
    return "\n".join(out)


def client_table(d):
    out = ["| client | req/s | p50 µs | p95 µs | p99 µs | errors |", "|---|---|---|---|---|---|"]
    for c, name in CLIENTS:
        if not any(r["client"] == c for r in d.client):
            why = d.meta.get("axon_client", "not run") if c == "axon" else "not built"
            out.append(f"| {name} | {why} | | | | |")
            continue
        errs = sum(int(r["errors"]) if r["errors"].isdigit() else 1 for r in d.client if r["client"] == c)
        out.append(f"| {name} | {span(d.client_stat(c, 'rps'))} | {span(d.client_stat(c, 'p50_us'))} | "
                   f"{span(d.client_stat(c, 'p95_us'))} | {span(d.client_stat(c, 'p99_us'))} | {errs} |")
    return "\n".join(out)


def bars(d):
    """Issue 8's bars for Axon (1 worker), each with the measured ratio."""
    rows = []

    def add(what, ok, figure):
        rows.append(f"| {what} | {figure} | {'-' if ok is None else ('yes' if ok else 'NO')} |")

    ax = "axon" in d.active
    for path in ("/", "/json"):
        a = d.load_stat("pipe", path, "axon", "rps")
        for ref, k in (("epoll", PIPE_VS_EPOLL), ("hyper", 1.0)):
            b = d.load_stat("pipe", path, ref, "rps")
            what = f"pipelined req/s `{path}` ≥ {k:g}× {SHORT[ref]}"
            add(what, (a[0] >= k * b[0]) if a and b else None, ratio(a, b) if a and b else "not built" if not ax else "-")
        a = d.load_stat("c64", path, "axon", "cpu_ns_per_req")
        for ref in ("nginx", "hyper"):
            b = d.load_stat("c64", path, ref, "cpu_ns_per_req")
            what = f"server CPU/req c64 `{path}` ≤ {SHORT[ref]}"
            add(what, (a[0] <= b[0]) if a and b else None, ratio(a, b) if a and b else "not built" if not ax else "-")
    a = d.idle_stat("axon")
    add(f"RSS per idle keep-alive connection ≤ {IDLE_BAR_KIB:g} KiB", (a[0] <= IDLE_BAR_KIB) if a else None,
        f"{num(a[0])} KiB" if a else "not built" if not ax else "-")
    a = d.client_stat("axon", "rps")
    for ref in ("go", "hyper"):
        b = d.client_stat(ref, "rps")
        add(f"client req/s ≥ {SHORT[ref]}'s client", (a[0] >= b[0]) if a and b else None,
            ratio(a, b) if a and b else "not built")
    return "| bar | Axon ÷ peer | met? |\n|---|---|---|\n" + "\n".join(rows)


def write_summary(d, path):
    rows = [["part", "test", "path", "who", "metric", "median", "min", "max", "n"]]

    def put(part, test, p, who, metric, s):
        if s:
            rows.append([part, test, p, who, metric] + [f"{v:g}" for v in s[:3]] + [str(s[3])])
    for test, p in d.tests:
        for s in d.servers:
            for m in ("rps", "p50_us", "p99_us", "cpu_ns_per_req"):
                put("load", test, p, s, m, d.load_stat(test, p, s, m))
    for s in d.servers:
        put("idle", "", "/", s, "kib_per_conn", d.idle_stat(s))
    for c, _ in CLIENTS:
        for m in ("rps", "p50_us", "p95_us", "p99_us"):
            put("client", "", "/", c, m, d.client_stat(c, m))
    with open(path, "w") as f:
        for r in rows:
            f.write("\t".join(r) + "\n")


def chart(d, png):
    if not shutil.which("gnuplot"):
        print("http-bench: gnuplot not found; no chart", file=sys.stderr)
        return False
    servers = [s for s in d.servers if s in d.active]
    if not servers:
        return False

    def v(s, scale=1.0):
        return f"{s[0] / scale:g}" if s else "NaN"  # NaN: no bar (not measured)
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "http.dat")
        with open(dat, "w") as f:
            for s in servers:
                f.write(f'"{SHORT[s]}" {v(d.load_stat("pipe", "/", s, "rps"), 1e3)} '
                        f'{v(d.load_stat("pipe", "/json", s, "rps"), 1e3)} '
                        f'{v(d.load_stat("c64", "/", s, "cpu_ns_per_req"))} '
                        f'{v(d.load_stat("c64", "/json", s, "cpu_ns_per_req"))} '
                        f'{v(d.idle_stat(s))}\n')
        script = f"""set terminal pngcairo noenhanced size 1500,500 font ',10'
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key below
set grid ytics
set xtics rotate by -30
set yrange [0:*]
set multiplot layout 1,3 title 'HTTP, one server core (median of the rounds; {d.meta.get("date", "")})'
set title '16-deep pipelined, 64 connections: thousand req/s (higher is better)'
plot '{dat}' using 2:xtic(1) title '/', '' using 3 title '/json'
set title 'server CPU per request at c64, ns (lower is better)'
plot '{dat}' using 4:xtic(1) title '/', '' using 5 title '/json'
set title 'RSS per idle keep-alive connection, KiB, log scale ({d.meta.get("idle_n", "?")} connections)'
set logscale y
set yrange [0.01:*]
plot '{dat}' using 6:xtic(1) title 'KiB per connection' lc 3
unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("http-bench: gnuplot failed:\n" + r.stderr, file=sys.stderr)
            return False
    return True


def section(d, png_ok):
    m = d.meta
    axon = next((v[len("axon: "):] for v in d.versions if v.startswith("axon: ")), "?")
    if axon == "ok":
        axon = "an HTTP server (it answered `GET /` with `Hello, World!` before the run)"
    versions = "\n".join(f"  - {v}" for v in d.versions if not v.startswith("axon: "))
    parts = [f"""
{HEADING}

- Command: `{m.get('command', 'make bench SUITES=http')}` (see `bench/http/README.md`).
  Date: {m.get('date', '?')}. Machine: {m.get('machine', '?')}.
  Load average at start: {m.get('load_start', '?')}; at end: {m.get('load_end', '?')}.
  The run took {m.get('elapsed_s', '?')} s.
- Axon: `{m.get('axon_bin', 'build/examples/demo')}`: {axon}.
- Peers (each serves `GET /` → `Hello, World!` as text/plain and `GET /json` →
  `{{"message":"Hello, World!"}}`, with Server and Date headers; bench/http/):
{versions}
- One server core: every server has one worker pinned to CPU {m.get('server_cpu', '0')}
  (`taskset`), wrk one thread on CPU {m.get('client_cpu', '1')}. *Axon with 2 workers
  runs on CPUs {m.get('server_cpus2', '0,1')} and so competes with wrk for a core: its rows
  show how it behaves, not how it scales. Servers alternate round by round
  ({m.get('rounds', '?')} rounds, {m.get('dur', '?')} s per wrk run, a fresh server each
  round); every cell is the median (min–max) of the rounds.
- Pipelined: wrk with `bench/http/pipeline.lua`, {m.get('depth', '16')} requests per
  write, 64 connections: the server is the bottleneck. Without pipelining one wrk
  core is the limit here and fast servers land near the same req/s, so those rows
  are ranked by the server's CPU time per request: utime + stime of the server's
  process tree from `/proc/PID/stat` before and after the wrk run, over the
  requests wrk completed. p50/p99 are wrk's (`--latency`), valid only without
  pipelining. Ratios: Axon's or a peer's figure over the named reference's.
"""]
    parts += ["### Pipelined, server-bound (req/s: higher is better)", "", pipe_table(d), "",
              "### Without pipelining: server CPU per request and latency (CPU: lower is better)", "",
              plain_table(d), ""]
    if d.idle:
        parts += [f"### Resident memory per idle keep-alive connection ({m.get('idle_n', '?')} connections)", "",
                  "`bench/http/idle_client.c`, in its own process (the fd hard limit is 20,000), opens the",
                  "connections, sends one request on each, reads the response and then idles; the",
                  "figure is the server's RSS (`/proc/PID/smaps_rollup`) after all are held (and",
                  "1 s to settle) minus before, over the count. Kernel socket memory is not in RSS.",
                  f"Median (min–max) of {m.get('idle_rounds', '?')} round(s).", "", idle_table(d), ""]
    parts += [f"### Client: {m.get('client_reqs', '1000')} requests over {m.get('client_conns', '64')} "
              f"keep-alive connections", "",
              f"Against the {SHORT.get(m.get('client_server', 'epoll'), '?')} server (one core); each client "
              f"on CPU {m.get('client_cpu', '1')} with one thread (Go GOMAXPROCS=1, hyper on tokio's",
              "current_thread runtime), a fresh client per measured batch after one warm-up batch,",
              f"so connecting is part of it. Median (min–max) of {m.get('client_rounds', '?')} rounds.", "",
              client_table(d), "",
              "### Issue 8's bars (Axon, one server core)", "",
              f"From the medians above ({m.get('rounds', '?')} rounds; the issue asks for at least 5 for "
              "the CPU bar). p99 has no bar: it is too noisy here, compare it with nginx's above.", "",
              bars(d), ""]
    parts.append("![HTTP: pipelined req/s, CPU per request, memory per idle connection](bench-http.png)"
                 if png_ok else "(no chart: gnuplot was not available or nothing ran)")
    return "\n".join(parts) + "\n"


def http_section(build_dir, docs_dir=None):
    """Markdown for the HTTP benchmark, or "" when it never ran here."""
    d = Data(build_dir)
    if not d.meta:
        return ""
    png_ok = chart(d, os.path.join(docs_dir, "bench-http.png")) if docs_dir else False
    return section(d, png_ok)


def keep_section(text, heading):
    """The section under HEADING in an existing BENCHMARKS.md text, or ""."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if ln.rstrip("\n") == heading), None)
    if start is None:
        return ""
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n" + "".join(lines[start:end]).rstrip("\n") + "\n"


def splice(path, heading, new):
    """Replaces the section under HEADING in PATH with NEW (appends it when absent)."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    old = keep_section(text, heading)
    if old:
        lines = text.splitlines(keepends=True)
        start = next(i for i, ln in enumerate(lines) if ln.rstrip("\n") == heading)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before = "".join(lines[:start]).rstrip("\n") + "\n"
        after = "".join(lines[end:])
        text = before + new.rstrip("\n") + "\n" + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n" + new.rstrip("\n") + "\n"
    with open(path, "w") as f:
        f.write(text)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    docs = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    d = Data(build)
    if not d.meta:
        sys.exit(f"http-bench: no {build}/bench/http-meta.txt (run bench/http/run.sh)")
    write_summary(d, os.path.join(build, "bench", "http.tsv"))
    print("\nPipelined:\n" + pipe_table(d) + "\n\nWithout pipelining:\n" + plain_table(d))
    if d.idle:
        print("\nIdle keep-alive memory:\n" + idle_table(d))
    print("\nClient:\n" + client_table(d) + "\n\nBars:\n" + bars(d))
    print(f"\nhttp-bench: wrote {build}/bench/http.tsv")
    if docs:
        text = http_section(build, docs)
        splice(os.path.join(docs, "BENCHMARKS.md"), HEADING, text)
        print(f"http-bench: wrote {docs}/BENCHMARKS.md (HTTP section) and {docs}/bench-http.png")


if __name__ == "__main__":
    main()
