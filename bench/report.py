#!/usr/bin/env python3
"""bench/report.py - turns bench/run.sh's per-round figures into the table.

Usage: report.py ROUNDS_TSV SUMMARY_TSV [DOCS_DIR]
Reads program/round/metric/value rows (each value is one run's median),
writes SUMMARY_TSV (median, min and max over the rounds for each program and
metric), prints the table, and with DOCS_DIR regenerates BENCHMARKS.md and
bench-core.png there. The bars from the issue live in ROWS below.
"""
import csv
import datetime
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

PEERS = [("tokio", "tokio current_thread"), ("tokio-mt", "tokio multi_thread, 1 worker"), ("go", "Go, GOMAXPROCS=1")]

# key, label, unit, {program: metric}, bar. Bars: "peers" = Axon's median is
# below every peer's; ("<", x) / ("<=", x) = Axon's median against a number.
ROWS = [
    ("spawn_join", "spawn + join an empty task, one at a time", "ns/task",
     {p: "spawn_join_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, "peers"),
    ("spawn_join_batch", "spawn 1000 empty tasks, then join each", "ns/task",
     {p: "spawn_join_batch_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, "peers"),
    ("yield", "yield, one task alone (ax_yield / yield_now / Gosched)", "ns",
     {p: "yield_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, "peers"),
    ("yield_pair", "yield, two tasks taking turns", "ns",
     {p: "yield_pair_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, "peers"),
    ("fiber_switch", "fiber switch (Axon only: no peer exposes one)", "ns",
     {"axon-fiber": "fiber_switch_ns"}, ("<", 20)),
    ("handoff", "task-to-task hand-off, one way (notify ping-pong)", "ns",
     {p: "handoff_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, None),
    ("timer_arm_cancel", "timer arm + cancel", "ns",
     {p: "timer_arm_cancel_ns" for p in ("axon", "tokio", "tokio-mt", "go")}, "peers"),
    ("timer_bytes", "bytes per timer (object the caller holds; Go: heap per timer)", "B",
     {p: "timer_bytes" for p in ("axon", "tokio", "tokio-mt", "go")}, ("<=", 64)),
    ("timer_rss", "RSS growth per armed timer, 1 M armed", "B",
     {p: "timer_rss_bytes" for p in ("axon", "tokio", "tokio-mt", "go")}, ("<=", 64)),
    ("wheel_1k", "timer wheel insert + cancel, 1000 armed (Axon only)", "ns",
     {"axon-wheel": "wheel_insert_cancel_ns[n=1000]"}, None),
    ("wheel_1m", "timer wheel insert + cancel, 1 M armed (Axon only)", "ns",
     {"axon-wheel": "wheel_insert_cancel_ns[n=1000000]"}, None),
    ("wheel_bytes", "timer wheel bytes per timer (Axon only)", "B",
     {"axon-wheel": "bytes_per_timer"}, ("<=", 64)),
    ("wheel_rss", "timer wheel RSS with 1 M timers (Axon only)", "B",
     {"axon-wheel": "timers_1M_rss_bytes"}, None),
]

NOTES = """\
How each figure is measured (sources in `bench/`):

- Every program runs its bodies inside a task on one worker (Axon: `workers = 1`;
  tokio: a spawned task on a `current_thread` runtime, and again on a
  `multi_thread` runtime with `worker_threads(1)`; Go: a goroutine with
  `GOMAXPROCS=1`), pinned to one CPU with `taskset`. Each program does one
  warm-up round and five measured rounds and prints their median; the harness
  runs the programs alternately, round by round, and the table shows the median
  of those per-run medians with their min–max.
- **spawn + join**: Axon `ax_spawn` + `ax_join`; tokio `tokio::spawn(async {})`
  + `.await` on the `JoinHandle` (which also carries the task's output); Go
  `go f()` + `sync.WaitGroup` (`Add`/`Done`/`Wait`, the idiomatic join for a
  goroutine without a result). Two shapes: spawn one and join it, 200,000
  times; and spawn 1000, then join each, 200 times.
- **yield**: one task yielding 500,000 times a round with nothing else ready
  (`ax_yield`, `tokio::task::yield_now`, `runtime.Gosched`); a runtime may
  return at once when no other task is ready, which is why the second row has
  two tasks yielding in turn (250,000 each), so that every yield hands the
  worker to the other task through the scheduler.
- **fiber switch**: `bench/axon_fiber_switch.c`, Axon's raw stack switch.
  tokio has no stacks and Go exposes no switch; the hand-off row is the
  nearest thing the peers can do.
- **hand-off**: two tasks ping-pong 200,000 times; each side wakes the other
  and waits (Axon: a 30-line notify future on the public future API; tokio:
  `tokio::sync::Notify`; Go: two unbuffered channels). Reported per one-way
  hand-off (half a round trip).
- **timer arm + cancel**: create a timer one hour out, register it, cancel it,
  200,000 times. Axon: `ax_sleep_future_init` with `ax_deadline_in_ms`, one
  `ax_future_poll` with a no-op waker (files it in the worker's wheel), then
  `ax_future_drop`. tokio: `tokio::time::sleep`, pinned on the stack, one
  `poll` with a no-op waker (registers it with the driver), then drop; run
  under `tokio::task::unconstrained`, since after 128 polls the coop budget
  would make `poll` return `Pending` without registering. Go:
  `time.AfterFunc(time.Hour, f).Stop()` (the cheapest Go timer; `time.NewTimer`
  + `Stop`, which also allocates a channel, is under Other figures).
- **bytes per timer**: Axon `sizeof(ax_sleep_future)`; tokio
  `size_of::<tokio::time::Sleep>()`; Go the live heap per armed `AfterFunc`
  timer (`runtime.MemStats.HeapAlloc` after a collection: the `Timer` and its
  slot in Go's per-P timer heap). **RSS per timer**: VmRSS growth with
  1,000,000 timers armed at once, measured first in a fresh process. Axon and
  tokio keep them in one pre-sized array (no allocation per timer beyond the
  timer itself); Go keeps a `[]*time.Timer` allocated before the baseline.
- **timer wheel**: `bench/axon_timer_wheel.c`, Axon's wheel on its own.

Fairness notes:

- Every time includes computing the deadline from the clock (`ax_now`,
  `Instant::now`, `nanotime`), as real timeouts do.
- tokio's JoinHandle await includes storing and taking the task output (`()`);
  Axon's join stores a `void *`. Both are what a user of each writes.
- tokio 1.24's `yield_now` defers its wake-up, and the current_thread
  scheduler then polls its driver (the timer wheel, under its lock) with a
  zero timeout before running the task again, which adds to its yield cost.
- tokio's `Sleep` is 640 bytes because its timer state is padded to 128-byte
  cache lines (`CachePadded`), on purpose, for multi-threaded wakes.
- Axon/tokio ratios use the current_thread flavour; the bar ("cheaper than
  both") compares against every peer column.
- The peers' numbers depend on their versions listed above (Debian's packaged
  tokio and Go, not the newest releases).
"""


def load_rounds(path):
    data = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            data.setdefault((row["program"], row["metric"]), []).append(float(row["value"]))
    return data


def summarise(data, path):
    summary = {}
    with open(path, "w") as f:
        f.write("program\tmetric\tmedian\tmin\tmax\trounds\n")
        for (prog, metric), vals in sorted(data.items()):
            s = (statistics.median(vals), min(vals), max(vals), len(vals))
            summary[(prog, metric)] = s
            f.write(f"{prog}\t{metric}\t{s[0]:.1f}\t{s[1]:.1f}\t{s[2]:.1f}\t{s[3]}\n")
    return summary


def load_summary(path):
    with open(path) as f:
        return {(r["program"], r["metric"]): (float(r["median"]), float(r["min"]), float(r["max"]), int(r["rounds"]))
                for r in csv.DictReader(f, delimiter="\t")}


def num(x):
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def cell(s):
    if s is None:
        return "-"
    if num(s[1]) == num(s[2]):
        return num(s[0])
    return f"{num(s[0])} ({num(s[1])}–{num(s[2])})"


def row_values(summary, metrics):
    axon_prog = next(p for p in metrics if p.startswith("axon"))
    axon = summary.get((axon_prog, metrics[axon_prog]))
    peers = {p: summary.get((p, metrics[p])) if p in metrics else None for p, _ in PEERS}
    return axon, peers


def verdict(bar, axon, peers):
    if bar is None:
        return "-"
    if axon is None:
        return "n/a"
    if bar == "peers":
        got = [s[0] for s in peers.values() if s is not None]
        if not got:
            return "n/a"
        return "yes" if axon[0] < min(got) else "NO"
    op, x = bar
    ok = axon[0] < x if op == "<" else axon[0] <= x
    return "yes" if ok else "NO"


def bar_text(bar):
    if bar is None:
        return ""
    if bar == "peers":
        return "< all peers"
    return f"{bar[0]} {bar[1]}"


def ratio(axon, peer):
    if axon is None or peer is None or peer[0] == 0:
        return "-"
    return f"{axon[0] / peer[0]:.2f}×"


def table(summary):
    head = ["metric", "unit", "Axon", *[label for _, label in PEERS], "Axon/tokio", "Axon/Go", "bar", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, label, unit, metrics, bar in ROWS:
        axon, peers = row_values(summary, metrics)
        cells = [label, unit, cell(axon), *[cell(peers[p]) for p, _ in PEERS],
                 ratio(axon, peers["tokio"]), ratio(axon, peers["go"]), bar_text(bar), verdict(bar, axon, peers)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def other_figures(summary):
    used = {(p, m) for *_, metrics, _ in ROWS for p, m in metrics.items()}
    rest = sorted(k for k in summary if k not in used)
    if not rest:
        return ""
    lines = ["| program | metric | median (min–max) |", "|---|---|---|"]
    lines += [f"| {p} | `{m}` | {cell(summary[(p, m)])} |" for p, m in rest]
    return "\n".join(lines)


def missing(summary):
    ran = {p for p, _ in summary}
    gone = [p for p in ("axon", "axon-fiber", "axon-wheel", *(p for p, _ in PEERS)) if p not in ran]
    if not gone:
        return ""
    return f"\n**No figures from: {', '.join(gone)}** (not built, or failed; see the run's output).\n"


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
        model = m.group(1) if m else platform.machine()
    return f"{os.cpu_count()} CPUs ({sh('nproc')} usable), {model}, Linux {platform.release()}"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def tokio_version():
    try:
        with open("bench/peers/tokio/Cargo.lock") as f:
            m = re.search(r'name = "tokio"\nversion = "([^"]+)"', f.read())
            return f"tokio {m.group(1)} (Debian librust-tokio-dev)" if m else "tokio ?"
    except OSError:
        return "tokio not built"


def chart(summary, png):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not found; no chart (apt-get install gnuplot-nox)", file=sys.stderr)
        return False
    progs = [("axon", "Axon")] + PEERS
    colour = {"axon": "#c0392b", "tokio": "#8e44ad", "tokio-mt": "#16a085", "go": "#3498db"}
    groups = [("ns", ["spawn_join", "spawn_join_batch", "yield", "yield_pair", "handoff", "timer_arm_cancel"]),
              ("bytes", ["timer_bytes", "timer_rss"])]
    short = {"spawn_join": "spawn+join", "spawn_join_batch": "spawn+join (batch)",
             "yield": "yield (alone)", "yield_pair": "yield (2 tasks)", "handoff": "hand-off",
             "timer_arm_cancel": "timer arm+cancel", "timer_bytes": "bytes/timer",
             "timer_rss": "RSS/timer (1M)"}
    rows = {r[0]: r for r in ROWS}

    def value(prog, key):
        metrics = rows[key][3]
        s = summary.get((prog, metrics[prog])) if prog in metrics else None
        return s[0] if s else None

    # gnuplot refuses a histogram column with no point at all.
    progs = [(p, n) for p, n in progs if any(value(p, k) is not None for _, ks in groups for k in ks)]
    if not progs:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for unit, keys in groups:
            path = os.path.join(tmp, unit + ".dat")
            with open(path, "w") as f:
                for k in keys:
                    vals = [f"{v:.1f}" if v is not None else "NaN" for v in (value(p, k) for p, _ in progs)]
                    f.write(f'"{short[k]}" ' + " ".join(vals) + "\n")
            files.append(path)
        plots = []
        for (unit, _), path in zip(groups, files):
            cols = ", ".join(f"'{path}' using {i + 2}{':xtic(1)' if i == 0 else ''} "
                             f"title '{name}' lc rgb '{colour[p]}'" for i, (p, name) in enumerate(progs))
            plots.append(f"set ylabel '{unit} (lower is better)'\nplot {cols}\n")
        script = f"""set terminal pngcairo noenhanced size 1400,560 font ',10'
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set yrange [0:*]
set xtics rotate by -20
set multiplot title 'Axon vs tokio vs Go, one worker (median of rounds; lower is better)'
set size 0.66,0.95
set origin 0,0
{plots[0]}unset key
set size 0.34,0.95
set origin 0.66,0
{plots[1]}unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("bench: gnuplot failed:\n" + r.stderr, file=sys.stderr)
            return False
    return True


def write_docs(summary, docs):
    png_ok = chart(summary, os.path.join(docs, "bench-core.png"))
    if png_ok:
        print(f"bench: wrote {docs}/bench-core.png")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env = os.environ.get
    other = other_figures(summary)
    text = f"""# Benchmarks

This file is generated by `bench/run.sh` (which `make bench` runs) through
`bench/report.py`; edit those, not this file.

## Core: spawn, yield, switch, timers (one worker)

- Command: `{env('BENCH_COMMAND', 'make bench')}` (each program pinned with `taskset -c CPU`)
- Date: {now}
- Machine: {machine()}
- Load average (1, 5, 15 min) at start: {env('BENCH_LOAD_START', '?')}; at end: {loadavg()}
  (other processes on the pinned CPU inflate every column)
- Axon: built with {env('BENCH_CC', '?')}, `-O2`
- tokio: {tokio_version()}; {env('BENCH_RUST', '?')}; `cargo build --release --offline`
- Go: {env('BENCH_GO', '?')}

Lower is better; ratios below 1 mean Axon is cheaper. "-" means that program
was not built or does not have that operation.
{missing(summary)}
{table(summary)}

{"![Axon vs tokio vs Go, one worker](bench-core.png)" if png_ok else "(no chart: gnuplot was not available)"}

{NOTES}
{"### Other figures" + chr(10) + chr(10) + other + chr(10) if other else ""}"""
    with open(os.path.join(docs, "BENCHMARKS.md"), "w") as f:
        f.write(text)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    summary = summarise(load_rounds(sys.argv[1]), sys.argv[2])
    summary = load_summary(sys.argv[2])  # the docs come from the written file
    print(table(summary))
    other = other_figures(summary)
    if other:
        print("\n" + other)
    if len(sys.argv) > 3 and sys.argv[3]:
        write_docs(summary, sys.argv[3])
        print(f"\nbench: wrote {sys.argv[2]} and {sys.argv[3]}/BENCHMARKS.md")


if __name__ == "__main__":
    main()
