"""bench/echo_report.py - the TCP echo section of docs/BENCHMARKS.md, from
the summaries bench/echo/run.sh and bench/echo/idle_mem.sh write
($BUILD/bench/echo.tsv and echo-idle.tsv). Imported by bench/report.py."""
import csv
import datetime
import os
import sys

LABEL = {"axon": "Axon", "epoll": "epoll (hand-written)", "uv": "libuv", "go": "Go", "tokio": "tokio"}
# Issue 4: server CPU per message <= tokio's and Go's and <= 1.1x the
# hand-written echo at every size; resident memory per idle connection <= 8 KiB.
EPOLL_BAR = 1.10
IDLE_BAR_KIB = 8.0


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _f(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _num(x):
    return "-" if x is None else (f"{x:,.0f}" if abs(x) >= 100 else f"{x:.2f}")


def _span(r, key):
    m, lo, hi = (_f(r.get(f"{key}_median")), _f(r.get(f"{key}_min")), _f(r.get(f"{key}_max")))
    if m is None:
        return "-"
    return _num(m) if lo is None or _num(lo) == _num(hi) else f"{_num(m)} ({_num(lo)}–{_num(hi)})"


def _throughput_table(rows):
    head = ["size", "conns", "server", "msgs/s", "p99 µs", "server CPU ns/msg", "CPU vs Axon", "fairness"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    by_case = {}
    for r in rows:
        by_case.setdefault((int(r["size"]), int(r["conns"])), {})[r["server"]] = r
    for (size, conns), servers in sorted(by_case.items()):
        for name in ("axon", "epoll", "uv", "go", "tokio"):
            r = servers.get(name)
            if r is None:
                continue
            out.append(f"| {size} | {conns} | {LABEL[name]} | {_span(r, 'msgs_per_s')} | "
                       f"{_span(r, 'p99_us')} | {_span(r, 'server_ns_per_msg')} | "
                       f"{r.get('cpu_per_msg_vs_axon') or '-'} | {r.get('fairness_min_over_max_median') or '-'} |")
        axon = _f(servers.get("axon", {}).get("server_ns_per_msg_median"))
        if axon is None:
            continue
        peer = {n: _f(servers.get(n, {}).get("server_ns_per_msg_median")) for n in ("epoll", "tokio", "go")}
        checks = []
        if peer["epoll"]:
            checks.append(("≤ 1.1× epoll", axon <= EPOLL_BAR * peer["epoll"], axon / peer["epoll"]))
        for n in ("tokio", "go"):
            if peer[n]:
                checks.append((f"≤ {LABEL[n]}", axon <= peer[n], axon / peer[n]))
        verdicts.append((size, conns, checks))
    return "\n".join(out), verdicts


def _verdict_table(verdicts):
    out = ["| size | conns | Axon CPU/msg ÷ epoll | ÷ tokio | ÷ Go | all bars met? |", "|---|---|---|---|---|---|"]
    for size, conns, checks in verdicts:
        d = {name: (ok, ratio) for name, ok, ratio in checks}

        def c(k):
            return f"{d[k][1]:.2f}×" if k in d else "-"
        ok = all(v[0] for v in d.values()) if d else False
        out.append(f"| {size} | {conns} | {c('≤ 1.1× epoll')} | {c('≤ tokio')} | {c('≤ Go')} | {'yes' if ok else 'NO'} |")
    return "\n".join(out)


def _idle_table(rows):
    out = ["| server | KiB per idle connection | after one 64 B echo each | bar (≤ 8 KiB) |", "|---|---|---|---|"]
    for r in rows:
        name = r["server"]
        idle = _f(r.get("idle_kib_per_conn_median"))
        bar = ("yes" if idle is not None and idle <= IDLE_BAR_KIB else "NO") if name == "axon" else ""
        out.append(f"| {LABEL.get(name, name)} | {_span(r, 'idle_kib_per_conn')} | "
                   f"{_span(r, 'ping_kib_per_conn')} | {bar} |")
    return "\n".join(out)


def echo_section(build_dir):
    """Markdown for the echo benchmark, or "" when it did not run."""
    tsv = os.path.join(build_dir, "bench", "echo.tsv")
    idle = os.path.join(build_dir, "bench", "echo-idle.tsv")
    versions = os.path.join(build_dir, "bench", "echo", "versions.txt")
    if not os.path.exists(tsv) and not os.path.exists(idle):
        return ""
    # The figures come from whenever the echo suite last ran, which need not
    # be the run that regenerates this file (SUITES="core sched").
    when = datetime.datetime.fromtimestamp(os.path.getmtime(tsv if os.path.exists(tsv) else idle),
                                           datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"""
## TCP echo (net/, issue 4)

- Data from the echo suite's last run, written {when}.
- Command: `make bench` (the echo suite), which runs `bench/echo/run.sh` and
  `bench/echo/idle_mem.sh` (see `bench/echo/README.md`). One server worker
  pinned to CPU 0, the load client (`bench/echo/load.c`, plain epoll, one
  thread) pinned to CPU 1, servers alternating round by round; medians
  (min–max) of the rounds.
- Server CPU per message is the server's utime + stime from `/proc/PID/stat`
  over the measured window divided by the messages echoed: the figure to
  trust on this shared 2-core VM, where msgs/s and p99 swing with other load.
- Fairness: the fewest messages any connection completed over the most (1 =
  every connection served alike).
- Bars (issue 4): server CPU per message ≤ tokio's and Go's and ≤ 1.1× the
  hand-written epoll echo at every size; resident memory per idle echo
  connection ≤ 8 KiB (issue's figures: Go ≈ 15.6 KiB, hyper ≈ 9 KiB)."""]
    if os.path.exists(versions):
        with open(versions) as f:
            parts.append("- Versions: " + "; ".join(line.strip() for line in f if line.strip()))
    if os.path.exists(tsv):
        table, verdicts = _throughput_table(_rows(tsv))
        parts += ["", table, "", "Bars, per case:", "", _verdict_table(verdicts)]
    if os.path.exists(idle):
        parts += ["", "Resident memory per connection, 10,000 connections held by a separate client process:",
                  "", _idle_table(_rows(idle))]
    return "\n".join(parts) + "\n"


def replace_section(build_dir, md_path):
    """Replaces the echo section of md_path (up to the file-system section)
    with a fresh one: for runs that do not regenerate the whole file."""
    with open(md_path) as f:
        text = f.read()
    start = text.index("## TCP echo (net/, issue 4)")
    end = text.index("<!-- fs-bench:begin -->", start)
    text = text[:start] + echo_section(build_dir).strip("\n") + "\n\n" + text[end:]
    with open(md_path, "w") as f:
        f.write(text)


if __name__ == "__main__":
    # bench/echo_report.py BUILD_DIR DOCS/BENCHMARKS.md
    replace_section(sys.argv[1], sys.argv[2])
