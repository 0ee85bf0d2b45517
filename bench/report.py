#!/usr/bin/env python3
"""bench/report.py - turns bench/run.sh's per-round figures into the table.

Usage: report.py ROUNDS_TSV SUMMARY_TSV [DOCS_DIR [SCHED_ROUNDS_TSV SCHED_SUMMARY_TSV]]
Reads program/round/metric/value rows (each value is one run's median),
writes SUMMARY_TSV (median, min and max over the rounds for each program and
metric), prints the table, and with DOCS_DIR regenerates BENCHMARKS.md and
bench-core.png there. DOCS_DIR may be "" (no docs). The scheduler suite's
rounds (metrics prefixed w1_ / w2_) make the second table, bench-sched.png
and SCHED_SUMMARY_TSV. The bars from the issues live in ROWS and SCHED_ROWS.
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

from echo_report import echo_section
from http_report import HEADING as HTTP_HEADING, SOAK_HEADING, http_section, keep_section
from fs_report import BEGIN as FS_BEGIN, END as FS_END, fs_section
from tls_report import HEADING as TLS_HEADING, tls_section

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


SCHED_NOTES = """\
How each figure is measured (sources: `bench/axon_sched.c`,
`bench/peers/tokio/src/sched.rs`, `bench/peers/go/sched.go`):

- Each program runs twice per round: with 1 worker (Axon `workers = 1`;
  tokio a `multi_thread` runtime with `worker_threads(1)`; Go
  `GOMAXPROCS(1)`), pinned to one CPU, and with 2 workers (`workers = 2`,
  `worker_threads(2)`, `GOMAXPROCS(2)`), pinned to two CPUs. A round runs
  Axon, tokio and Go with 1 worker, then the three with 2. Each run does a
  warm-up round and five measured rounds and prints their medians; the table
  shows the median of the per-run medians over the harness rounds, with
  their min–max. Every body runs inside a task (goroutine), as in the core
  table, and every runtime has its default options.
- **spawn + join**: as in the core table (`ax_spawn` + `ax_join`;
  `tokio::spawn` + awaiting the `JoinHandle`; `go` + `sync.WaitGroup`),
  100,000 times, one at a time. With 2 workers the idle worker is woken for
  the new task and may steal it. **Children on another thread**: 20,000 more
  spawn + joins, not timed, in which the child returns the identity of the
  OS thread it ran on (see "different threads" below), compared with the
  parent's thread at the spawn; whether the parent itself came back from
  the join on another thread is `spawn_join_parent_moved_pct` under Other
  scheduler figures.
- **ping-pong**: two tasks and two bounded channels of capacity 1 carrying an
  8-byte integer (Axon `ax_mpsc_new(.., 8, 1)` with `ax_mpsc_send` /
  `ax_mpsc_recv`; tokio `tokio::sync::mpsc::channel(1)` with `send().await` /
  `recv().await`; Go `make(chan uint64, 1)`). The benchmark's task sends on
  the first channel and waits on the second; the partner task receives and
  sends the message back: one round trip.
  - **mean**: 100,000 round trips timed as one batch (one clock read before,
    one after), divided by 100,000.
  - **p50, p99**: 50,000 further round trips timed one by one: the clock is
    read after every round trip and each sample is the gap between two
    consecutive reads, so it holds one clock read besides the round trip.
    The table subtracts the cost of one clock read, measured in the same
    program as the median gap between back-to-back reads (`ax_now`, which is
    `clock_gettime(CLOCK_MONOTONIC)`; Rust `Instant::now`; Go `time.Since`,
    which reads the monotonic clock only); the uncorrected percentiles and
    the clock costs are under Other scheduler figures (`*_raw_ns`,
    `clock_ns`).
  - **different threads**: 20,000 more round trips in which the partner
    answers with the identity of the OS thread it is running on, compared
    with the benchmark task's thread when the answer arrives (Axon and tokio:
    the address of a thread-local variable; Go: `gettid`). 0 % means the two
    tasks ran on the same worker thread for every round trip.
  - **process CPU while ping-ponging**: user + system CPU time of the whole
    process (`getrusage(RUSAGE_SELF)`, all threads) over the 100,000-round-trip
    batch, as a percentage of its wall time: 100 % is one core busy; more
    means another thread (an idle worker spinning or searching) burns CPU
    while the pair runs; less means the process was waiting, or was not
    given the CPU (other load on the machine).
- **idle CPU**: after the last round, whose last body is the ping-pong, the
  benchmark task sleeps for one second (`ax_sleep`, `tokio::time::sleep`,
  `time.Sleep`) and nothing else runs; the figure is the process CPU time
  (`getrusage`, user + system, all threads) spent during that second, as a
  percentage of one core. It includes the workers winding down right after
  the ping-pong (spinning before they park). One sample per run.
- **chained spawn**: a task spawns the next one (detached) and ends; 100,000
  links; the last one signals through a oneshot channel (Go: a buffered
  channel) to the benchmark task, which timed from the first spawn.
- **channel throughput**: 1,000,000 8-byte messages through one bounded
  channel of capacity 1024 (Axon `ax_mpsc`, tokio `mpsc::channel(1024)`, Go
  `make(chan uint64, 1024)`), sent by 1 producer task or by 4 (250,000
  each) and all received by the benchmark task; messages per second from
  before the producers are spawned to the last receive.
- **fork-join fib(35)**: for n above the cutoff, fib(n) spawns fib(n-1) and
  fib(n-2) as two tasks and joins both (Axon `ax_spawn` + `ax_join`, the
  result in the task's `void *`; tokio `tokio::spawn` + awaiting both
  `JoinHandle<u64>`s; Go two goroutines writing captured variables + a
  `WaitGroup`); at or below the cutoff it computes fib(n) by plain
  recursion. The cutoff is the one whose task count is nearest 150,000 (the
  programs compute it and print it: `fib_cutoff`, `fib_tasks`). The
  **speed-up** is each program's 1-worker time divided by its 2-worker time
  in the same harness round; the table gives the median of those ratios.
  The **plain recursive call** row is fib(35) without tasks, to separate
  each compiler's code for the leaves from the scheduling cost.
- Axon only, under Other scheduler figures: `fib_stack_cache_ms` is the same
  fork-join on a runtime created with `stack_cache = 65536` instead of the
  default 64 (with `fib_stack_cache_speedup`), and the runtime's counters
  over the ping-pong batch, per round trip (`ax_runtime_metrics_get`:
  steals, unparks, wakes; "local" wakes are wakes from any worker of the
  runtime, so they cannot tell the two workers apart: the thread rows do),
  and likewise over the spawn + join and chained-spawn loops; all Axon
  counters are given per 1000 operations (`*_per_1k`).

Fairness notes:

- The "cross-thread" ping-pong does not cross threads by itself in any of
  the three runtimes (see the "different threads" row): a task woken by the
  running task goes to the waker's worker (Axon's and tokio's LIFO slot, Go's
  `runnext`), so the partner runs on the same worker right after the sender
  suspends, and the other worker has nothing to run. The 2-worker
  ping-pong rows therefore measure a same-thread hand-off plus whatever the
  second worker costs meanwhile (wake-ups, spinning, contention on the
  queues: see the CPU row), not a message crossing cores. None of the three lets a program pin a task to a worker (Go's
  `LockOSThread` pins a goroutine to a thread, not to a P, and makes every
  hand-off a thread switch), so a forced cross-core variant would not
  compare like with like.
- With 2 workers, where a freshly spawned task runs decides what a spawn +
  join (and a chained spawn) costs: run on the parent's worker, which
  suspends in the join at once, it costs a local queue push and pop; stolen
  by the other worker, it becomes a cross-core hand-off and its completion
  wakes the parent from the other core. The "children on another thread"
  row shows which each runtime does (Go puts a new goroutine in its P's
  `runnext`; tokio's worker pops it from its own queue; Axon puts it in the
  spawning worker's LIFO slot, wakes another worker only when more than one
  task waits, and lets a spinning worker take a lone queued task only once
  its owner has made no progress for 20 µs).
- The fork-join leaves are each language's compiled code (gcc `-O2`,
  rustc `--release`, Go 1.19), which differ (see the plain-recursion row);
  the speed-up ratio is what compares the schedulers.
- Axon's tasks have stacks, so a fork-join pays for every parent suspended
  in `ax_join` with a stack. A new task takes its spawner's LIFO slot (like
  Go's `runnext`), which keeps the recursion mostly depth-first, and stacks
  move between the per-worker caches (64 each) through a runtime-wide spare
  list; the stacks beyond those are still mapped and unmapped as tasks
  start and end. The `fib_stack_cache_ms` figures show the same program
  with `stack_cache = 65536`. The 2-worker speed-up stays far below the bar:
  the fork-join's work moves between the workers through steals and
  cross-thread joins, which this scheduler does not yet make cheap. tokio's tasks are heap state machines; Go keeps
  dead goroutines, with their stacks, on free lists for reuse.
- tokio's fork-join spawns through a plain function returning the
  `JoinHandle` (no boxed recursive future); tokio's and Go's joins carry the
  result, as Axon's does.
- The peers' numbers depend on their versions (Debian's tokio 1.24 and
  Go 1.19, not the newest releases).
"""


def load_rounds(path):
    data = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            data.setdefault((row["program"], row["metric"]), []).append(float(row["value"]))
    return data


def summarise(data, path, digits=1):
    summary = {}
    with open(path, "w") as f:
        f.write("program\tmetric\tmedian\tmin\tmax\trounds\n")
        for (prog, metric), vals in sorted(data.items()):
            s = (statistics.median(vals), min(vals), max(vals), len(vals))
            summary[(prog, metric)] = s
            f.write(f"{prog}\t{metric}\t{s[0]:.{digits}f}\t{s[1]:.{digits}f}\t{s[2]:.{digits}f}\t{s[3]}\n")
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


# ---- scheduler suite (issue 3): 1 and 2 workers ---------------------------------

SCHED_PEERS = [("tokio", "tokio multi_thread"), ("go", "Go")]

# key, label, unit, metric (without the wN_ prefix), bar. Bars: "peers" =
# Axon's median below every peer's; ("<", x) = below a number; (">=peer", p)
# = Axon's median at least peer p's (throughput: higher is better).
SCHED_ROWS = [
    ("spawn_join", "spawn + join an empty task, one at a time", "ns/task", "spawn_join_ns", "peers"),
    ("sj_cross", "spawn + join: children that ran on another thread than their parent", "%",
     "spawn_join_child_cross_pct", None),
    ("pp_mean", "ping-pong through two channels, round trip, mean", "ns", "pingpong_mean_ns", "peers"),
    ("pp_p50", "ping-pong round trip, p50", "ns", "pingpong_p50_ns", ("<", 1000)),
    ("pp_p99", "ping-pong round trip, p99", "ns", "pingpong_p99_ns", None),
    ("pp_cross", "ping-pong round trips whose two tasks ran on different threads", "%",
     "pingpong_cross_pct", None),
    ("pp_cpu", "process CPU while ping-ponging", "% of a core", "pingpong_cpu_pct", None),
    ("idle", "process CPU while idle (1 s after the ping-pong)", "% of a core", "idle_cpu_pct", None),
    ("chain", "chained spawn: each task spawns the next, per link", "ns", "chain_spawn_ns", None),
    ("chan11", "channel throughput, 1 → 1 (8-byte messages, capacity 1024)", "M msg/s ↑",
     "chan_1to1_mps", (">=peer", "go")),
    ("chan41", "channel throughput, 4 → 1", "M msg/s ↑", "chan_4to1_mps", (">=peer", "go")),
    ("fib", "fork-join fib(35), spawn + join down to the cutoff", "ms", "fib_ms", None),
    ("fib_seq", "fib(35) as a plain recursive call, no tasks (reference)", "ms", "fib_seq_ms", None),
]
SPEEDUP = ("fib_speedup", "fork-join fib(35): 2-worker speed-up (1-worker time / 2-worker time)", "× ↑",
           (">=", 1.8))


def load_rounds_by_round(path):
    rows = {}
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            rows[(row["program"], row["round"], row["metric"])] = float(row["value"])
    return rows


def sched_data(path):
    """Per-round values by (program, metric), plus fib_speedup per round:
    the 1-worker and the 2-worker fib time of the same program in the same
    round."""
    rows = load_rounds_by_round(path)
    data = {}
    for (prog, rnd, metric), v in sorted(rows.items(), key=lambda kv: (kv[0][0], int(kv[0][1]), kv[0][2])):
        data.setdefault((prog, metric), []).append(v)
        # fib_ms -> fib_speedup, fib_stack_cache_ms -> fib_stack_cache_speedup
        if metric.startswith("w1_fib") and metric.endswith("_ms") and metric != "w1_fib_seq_ms":
            w2 = rows.get((prog, rnd, "w2_" + metric[3:]))
            if w2:
                data.setdefault((prog, metric[3:-3] + "_speedup"), []).append(v / w2)
    return data


def num2(x):
    return f"{x:.2f}"


def sched_verdict(bar, axon, peers):
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
    if op == ">=peer":
        if peers.get(x) is None:
            return "n/a"
        return "yes" if axon[0] >= peers[x][0] else "NO"
    ok = {"<": axon[0] < x, "<=": axon[0] <= x, ">=": axon[0] >= x}[op]
    return "yes" if ok else "NO"


def sched_bar_text(bar):
    if bar is None:
        return ""
    if bar == "peers":
        return "< all peers"
    op, x = bar
    if op == ">=peer":
        return f">= {dict(SCHED_PEERS)[x]}"
    return f"{op} {x:,}" if isinstance(x, int) else f"{op} {x}"


def sched_table(summary):
    head = ["metric", "unit", "workers", "Axon", *[label for _, label in SCHED_PEERS],
            "Axon/tokio", "Axon/Go", "bar", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    tasks = summary.get(("axon", "w1_fib_tasks")) or summary.get(("tokio", "w1_fib_tasks"))
    cut = summary.get(("axon", "w1_fib_cutoff")) or summary.get(("tokio", "w1_fib_cutoff"))
    for key, label, unit, metric, bar in SCHED_ROWS:
        if key == "fib" and tasks and cut:
            label = f"fork-join fib(35): {tasks[0]:,.0f} tasks, spawn + join down to fib({cut[0]:.0f})"
        for w in (1, 2):
            m = f"w{w}_{metric}"
            axon = summary.get(("axon", m))
            peers = {p: summary.get((p, m)) for p, _ in SCHED_PEERS}
            pct_row = unit.startswith("%")
            cells = [label, unit, str(w), cell(axon), *[cell(peers[p]) for p, _ in SCHED_PEERS],
                     "-" if pct_row else ratio(axon, peers["tokio"]),
                     "-" if pct_row else ratio(axon, peers["go"]), sched_bar_text(bar),
                     sched_verdict(bar, axon, peers)]
            lines.append("| " + " | ".join(cells) + " |")
    key, label, unit, bar = SPEEDUP

    def sp(s):
        return "-" if s is None else f"{num2(s[0])} ({num2(s[1])}–{num2(s[2])})"
    axon = summary.get(("axon", key))
    peers = {p: summary.get((p, key)) for p, _ in SCHED_PEERS}
    cells = [label, unit, "1 → 2", sp(axon), *[sp(peers[p]) for p, _ in SCHED_PEERS], "-", "-",
             sched_bar_text(bar), sched_verdict(bar, axon, peers)]
    lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sched_other(summary):
    used = {(p, f"w{w}_{r[3]}") for r in SCHED_ROWS for w in (1, 2) for p in ("axon", *dict(SCHED_PEERS))}
    used |= {(p, SPEEDUP[0]) for p in ("axon", *dict(SCHED_PEERS))}
    rest = sorted(k for k in summary if k not in used)
    if not rest:
        return ""
    lines = ["| program | metric | median (min–max) |", "|---|---|---|"]
    lines += [f"| {p} | `{m}` | {cell(summary[(p, m)])} |" for p, m in rest]
    return "\n".join(lines)


def sched_missing(summary):
    ran = {p for p, _ in summary}
    gone = [p for p in ("axon", *dict(SCHED_PEERS)) if p not in ran]
    if not gone:
        return ""
    return f"\n**No figures from: {', '.join(gone)}** (not built, or failed; see the run's output).\n"


def sched_chart(summary, png):
    if not shutil.which("gnuplot"):
        return False
    progs = [("axon", "Axon"), ("tokio", "tokio multi_thread"), ("go", "Go")]
    colour = {"axon": "#c0392b", "tokio": "#16a085", "go": "#3498db"}
    panels = [
        ("ns (lower is better)", [("spawn_join_ns", "spawn+join"), ("pingpong_mean_ns", "ping-pong mean"),
                                  ("pingpong_p50_ns", "ping-pong p50"), ("chain_spawn_ns", "chained spawn")]),
        ("M msg/s (higher is better)", [("chan_1to1_mps", "chan 1→1"), ("chan_4to1_mps", "chan 4→1")]),
    ]

    def val(p, m):
        s = summary.get((p, m))
        return f"{s[0]:.2f}" if s else "NaN"
    progs = [(p, n) for p, n in progs if any(k[0] == p for k in summary)]
    if not progs:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        plots = []
        for i, (ylabel, metrics) in enumerate(panels):
            path = os.path.join(tmp, f"p{i}.dat")
            with open(path, "w") as f:
                for m, short in metrics:
                    for w in (1, 2):
                        f.write(f'"{short}, {w}w" ' + " ".join(val(p, f"w{w}_{m}") for p, _ in progs) + "\n")
            cols = ", ".join(f"'{path}' using {j + 2}{':xtic(1)' if j == 0 else ''} title '{n}' lc rgb '{colour[p]}'"
                             for j, (p, n) in enumerate(progs))
            plots.append(f"set ylabel '{ylabel}'\nplot {cols}\n")
        path = os.path.join(tmp, "sp.dat")
        with open(path, "w") as f:
            f.write('"fib(35), 1→2 w" ' + " ".join(val(p, "fib_speedup") for p, _ in progs) + "\n")
        cols = ", ".join(f"'{path}' using {j + 2}{':xtic(1)' if j == 0 else ''} notitle lc rgb '{colour[p]}'"
                         for j, (p, _) in enumerate(progs))
        plots.append(f"set ylabel '× (higher is better)'\nset yrange [0:2.2]\nset arrow from graph 0, first 1.8 "
                     f"to graph 1, first 1.8 nohead dt 2 lc rgb '#555555'\nplot {cols}\n")
        script = f"""set terminal pngcairo noenhanced size 1500,560 font ',10'
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set yrange [0:*]
set xtics rotate by -30
set multiplot title 'Scheduler: Axon vs tokio vs Go, 1 and 2 workers (median of rounds)'
set size 0.58,0.95
set origin 0,0
{plots[0]}unset key
set size 0.24,0.95
set origin 0.58,0
{plots[1]}set size 0.18,0.95
set origin 0.82,0
{plots[2]}unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("bench: gnuplot failed:\n" + r.stderr, file=sys.stderr)
            return False
    return True


def sched_section(sched, docs):
    if sched is None:
        return ""
    env = os.environ.get
    png_ok = sched_chart(sched, os.path.join(docs, "bench-sched.png"))
    if png_ok:
        print(f"bench: wrote {docs}/bench-sched.png")
    other = sched_other(sched)
    return f"""
## Scheduler: 1 and 2 workers

- Command: the same run (`{env('BENCH_COMMAND', 'make bench')}`); 1-worker runs pinned
  with `taskset -c CPU`, 2-worker runs with `taskset -c CPUS2` (two CPUs)
- Load average (1, 5, 15 min) at start: {env('BENCH_SCHED_LOAD_START', '?')}; at end: {env('BENCH_SCHED_LOAD_END') or loadavg()}
  (the machine has two CPUs: any other load slows the 2-worker runs most)
- Same builds and versions as above

Lower is better except where the unit says ↑ (throughput, speed-up: higher is
better). Ratios below 1 mean Axon is cheaper on the lower-is-better rows and
slower on the ↑ rows. Bars from issue 3: Axon cheaper than both peers on
spawn + join and on the ping-pong (mean) at 1 and 2 workers; ping-pong p50
under 1 µs; channel throughput at least Go's; fork-join 2-worker speed-up at
least 1.8×. The issue's own measurements, for orientation (not this run):
tokio spawn + join 344 / 462 ns (1 / 2 workers), ping-pong 434 / 528 ns,
channel 8.5 M msg/s, fork-join speed-up 0.99×; Go 419 / 538 ns, 572 / 607 ns,
15.9 M msg/s, 1.92×.
{sched_missing(sched)}
{sched_table(sched)}

{"![Scheduler benchmarks, Axon vs tokio vs Go, 1 and 2 workers](bench-sched.png)" if png_ok else "(no chart: gnuplot was not available)"}

{SCHED_NOTES}
{"### Other scheduler figures" + chr(10) + chr(10) + other + chr(10) if other else ""}"""


def write_docs(summary, docs, sched=None):
    png_ok = chart(summary, os.path.join(docs, "bench-core.png"))
    if png_ok:
        print(f"bench: wrote {docs}/bench-core.png")
    # BENCH_DATE: regenerating the document from an earlier run's rounds keeps its date.
    now = os.environ.get("BENCH_DATE") or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env = os.environ.get
    other = other_figures(summary)
    # Sections of suites that did not run in this build (fs, HTTP, TLS) are kept
    # from the file as it was; the soak section (make soak) is always kept.
    path = os.path.join(docs, "BENCHMARKS.md")
    old = open(path).read() if os.path.exists(path) else ""
    build_dir = os.environ.get("BUILD", "build")
    fs_old = re.search(re.escape(FS_BEGIN) + ".*?" + re.escape(FS_END) + "\n", old, re.S)
    fs_text = fs_section(build_dir, docs) or ("\n" + fs_old.group(0) if fs_old else "")
    text = f"""# Benchmarks

This file is generated by `bench/run.sh` (which `make bench` runs) through
`bench/report.py`; edit those, not this file.

## Core: spawn, yield, switch, timers (one worker)

- Command: `{env('BENCH_COMMAND', 'make bench')}` (each program pinned with `taskset -c CPU`)
- Date: {now}
- Machine: {machine()}
- Load average (1, 5, 15 min) at start: {env('BENCH_LOAD_START', '?')}; at end: {env('BENCH_LOAD_END') or loadavg()}
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
{"### Other figures" + chr(10) + chr(10) + other + chr(10) if other else ""}{sched_section(sched, docs)}{echo_section(os.environ.get("BUILD", "build"))}{fs_text}"""
    text += http_section(build_dir, docs) or keep_section(old, HTTP_HEADING)
    text += keep_section(old, SOAK_HEADING)
    text += tls_section(build_dir, docs) or keep_section(old, TLS_HEADING)
    with open(path, "w") as f:
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
    sched = None
    if len(sys.argv) > 5:
        summarise(sched_data(sys.argv[4]), sys.argv[5], digits=3)
        sched = load_summary(sys.argv[5])
        print("\n" + sched_table(sched))
        other = sched_other(sched)
        if other:
            print("\n" + other)
    if len(sys.argv) > 3 and sys.argv[3]:
        write_docs(summary, sys.argv[3], sched)
        print(f"\nbench: wrote {sys.argv[2]} and {sys.argv[3]}/BENCHMARKS.md")


if __name__ == "__main__":
    main()
