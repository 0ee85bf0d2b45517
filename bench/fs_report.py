#!/usr/bin/env python3
"""bench/fs_report.py - the file-system benchmark's tables (issue 6).

Usage: fs_report.py ROUNDS_TSV SUMMARY_TSV [RUN_DIR [DOCS_DIR]]

Reads bench/fs/run.sh's per-run rows (program, round, conc, metric, value),
writes SUMMARY_TSV (median, min, max over the rounds), prints the tables,
reads what the run recorded about itself from RUN_DIR ($BUILD/bench/fs:
meta.txt with the command, parameters, date and load; versions.txt),
and with DOCS_DIR writes DOCS_DIR/bench-fs.png and replaces the section
between the fs markers of DOCS_DIR/BENCHMARKS.md (appending it when the
markers are missing). bench/report.py imports fs_section() to put the same
section into a full regeneration of BENCHMARKS.md.
"""
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

BEGIN, END = "<!-- fs-bench:begin -->", "<!-- fs-bench:end -->"
LABEL = {"c": "plain C", "c-whole": "plain C whole-file", "uv": "libuv", "tokio": "tokio::fs", "tokio-whole": "tokio::fs whole-file",
         "axon": "Axon handle", "axon-whole": "Axon whole-file"}
COLOUR = {"c": "#7f8c8d", "c-whole": "#bdc3c7", "uv": "#e67e22", "tokio": "#8e44ad", "tokio-whole": "#b39ddb",
          "axon": "#c0392b", "axon-whole": "#f1948a"}
SEQ_BAR = 0.9  # sequential throughput >= 0.9x plain blocking C
SEQ_ROWS = [("seq_write_mbps", "write (page cache; fdatasync not timed)", "MB/s", True),
            ("seq_sync_ms", "fdatasync after the write", "ms", False),
            ("seq_read_mbps", "read, warm (file in the page cache)", "MB/s", True),
            ("seq_read_cold_mbps", "read, cold (evicted first)", "MB/s", True)]
SMALL_ROWS = [("small_create_ops", "create + write"), ("small_read_ops", "read"),
              ("small_delete_ops", "delete"), ("small_all_ops", "all three phases")]


def load(path):
    data = {}
    with open(path) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            data.setdefault((r["program"], int(r["conc"]), r["metric"]), []).append(float(r["value"]))
    return {k: (statistics.median(v), min(v), max(v), len(v)) for k, v in data.items()}


def write_summary(s, path):
    with open(path, "w") as f:
        f.write("program\tconc\tmetric\tmedian\tmin\tmax\truns\n")
        for (p, c, m), (med, lo, hi, n) in sorted(s.items()):
            f.write(f"{p}\t{c}\t{m}\t{med:g}\t{lo:g}\t{hi:g}\t{n}\n")


def load_summary(path):
    with open(path) as f:
        return {(r["program"], int(r["conc"]), r["metric"]):
                (float(r["median"]), float(r["min"]), float(r["max"]), int(r["runs"]))
                for r in csv.DictReader(f, delimiter="\t")}


def num(x):
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.1f}"


def cell(v):
    if v is None:
        return "-"
    return num(v[0]) if num(v[1]) == num(v[2]) else f"{num(v[0])} ({num(v[1])}–{num(v[2])})"


def ratio(a, b):
    return None if a is None or b is None or not b[0] else a[0] / b[0]


def rtxt(x):
    return "-" if x is None else f"{x:.2f}×"


def seq_table(s):
    progs = [p for p in LABEL if any(k[0] == p and k[2].startswith("seq_") for k in s)]
    # Whole-file calls are held to C's whole-file form when it ran (the
    # same fresh buffer to fill or to write from), else to C's blocks.
    wc = "c-whole" if "c-whole" in progs else "c"
    head = ["", "unit"] + [LABEL[p] for p in progs] + ["Axon handle ÷ C", f"Axon whole ÷ {LABEL[wc]}",
                                                       f"bar ≥ {SEQ_BAR}× C met?"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    verdicts = []
    for m, label, unit, barred in SEQ_ROWS:
        v = {p: s.get((p, 1, m)) for p in progs}
        rh, rw = ratio(v.get("axon"), v.get("c")), ratio(v.get("axon-whole"), v.get(wc))
        met = "-"
        if barred and rh is not None:
            met = "yes" if rh >= SEQ_BAR else "NO"
            if rw is not None:
                met += " / " + ("yes" if rw >= SEQ_BAR else "NO")
            verdicts.append((label, rh, rw))
        out.append("| " + " | ".join([label, unit] + [cell(v[p]) for p in progs] + [rtxt(rh), rtxt(rw), met]) + " |")
    return "\n".join(out), verdicts


def small_table(s):
    concs = sorted({k[1] for k in s if k[2].startswith("small_")})
    progs = [p for p in ("c", "uv", "tokio", "axon-whole", "axon") if any(k[0] == p and k[2].startswith("small_") for k in s)]
    head = ["phase", "tasks"] + [LABEL[p] for p in progs] + ["whole ÷ tokio", "whole ÷ libuv", "handle ÷ tokio",
                                                             "handle ÷ libuv", "bars met? (whole / handle)"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in concs:
        for m, label in SMALL_ROWS:
            v = {p: s.get((p, c, m)) for p in progs}
            r = [ratio(v.get(a), v.get(b)) for a, b in (("axon-whole", "tokio"), ("axon-whole", "uv"),
                                                          ("axon", "tokio"), ("axon", "uv"))]

            def ok(xs):
                xs = [x for x in xs if x is not None]
                return "-" if not xs else ("yes" if min(xs) >= 1 else "NO")
            out.append("| " + " | ".join([label, str(c)] + [cell(v[p]) for p in progs] + [rtxt(x) for x in r]
                                         + [f"{ok(r[:2])} / {ok(r[2:])}"]) + " |")
    return "\n".join(out)


def cpu_table(s):
    concs = sorted({k[1] for k in s if k[2].endswith("_cpu_us")})
    progs = [p for p in ("c", "uv", "tokio", "axon-whole", "axon") if any(k[0] == p and k[2].endswith("_cpu_us") for k in s)]
    head = ["phase", "tasks"] + [LABEL[p] for p in progs] + ["whole ÷ tokio", "handle ÷ libuv"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in concs:
        for m, label in SMALL_ROWS[:3]:
            m = m.replace("_ops", "_cpu_us")
            v = {p: s.get((p, c, m)) for p in progs}
            out.append("| " + " | ".join([label, str(c)] + [cell(v[p]) for p in progs]
                                         + [rtxt(ratio(v.get("axon-whole"), v.get("tokio"))),
                                            rtxt(ratio(v.get("axon"), v.get("uv")))]) + " |")
    return "\n".join(out)


def chart(s, png):
    if not shutil.which("gnuplot"):
        print("fs-bench: gnuplot not found; no chart", file=sys.stderr)
        return False
    seqp = [p for p in LABEL if any(k[0] == p and k[2].startswith("seq_") for k in s)]
    smallp = [p for p in ("c", "uv", "tokio", "axon-whole", "axon") if any(k[0] == p and k[2].startswith("small_") for k in s)]
    if not seqp and not smallp:
        return False
    concs = sorted({k[1] for k in s if k[2].startswith("small_")})

    def val(p, c, m):
        v = s.get((p, c, m))
        return f"{v[0]:.1f}" if v else "NaN"
    with tempfile.TemporaryDirectory() as tmp:
        seqf, smallf = os.path.join(tmp, "seq.dat"), os.path.join(tmp, "small.dat")
        with open(seqf, "w") as f:
            for m, short in (("seq_write_mbps", "write"), ("seq_read_mbps", "read, warm"),
                             ("seq_read_cold_mbps", "read, cold")):
                f.write(f'"{short}" ' + " ".join(val(p, 1, m) for p in seqp) + "\n")
        with open(smallf, "w") as f:
            for c in concs:
                for m, short in (("small_create_ops", "create"), ("small_read_ops", "read"),
                                 ("small_delete_ops", "delete")):
                    f.write(f'"{short}, {c} task{"s" if c > 1 else ""}" ' + " ".join(val(p, c, m) for p in smallp) + "\n")

        def plot(path, progs):
            return "plot " + ", ".join(f"'{path}' using {i + 2}{':xtic(1)' if i == 0 else ''} title '{LABEL[p]}' "
                                       f"lc rgb '{COLOUR[p]}'" for i, p in enumerate(progs)) + "\n"
        script = f"""set terminal pngcairo noenhanced size 1500,560 font ',10'
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key outside top center horizontal
set multiplot title 'Files: Axon vs tokio::fs vs libuv vs plain C (median of rounds; higher is better)'
set size 0.4,0.95
set origin 0,0
set yrange [0:*]
set ylabel 'MB/s, 1 GiB file'
{plot(seqf, seqp) if seqp else ''}set size 0.6,0.95
set origin 0.4,0
set logscale y
set yrange [1000:*]
set ylabel 'small-file ops/s (log scale)'
set xtics rotate by -25
{plot(smallf, smallp) if smallp else ''}unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("fs-bench: gnuplot failed:\n" + r.stderr, file=sys.stderr)
            return False
    return True


def meta(run_dir):
    m = {}
    try:
        with open(os.path.join(run_dir, "meta.txt")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                m[k] = v
    except OSError:
        pass
    return m


def section(s, run_dir, png_ok):
    m = meta(run_dir)
    g = lambda k: m.get(k, "?")
    seq, verdicts = seq_table(s)
    vers = ""
    versions = os.path.join(run_dir, "versions.txt")
    if os.path.exists(versions):
        with open(versions) as f:
            vers = "".join(f"- {line.strip()}\n" for line in f if line.strip())
    size = int(g("size")) if g("size").isdigit() else None
    mib = int(g("mib")) if g("mib").isdigit() else None
    bk = int(g("block_kib")) if g("block_kib").isdigit() else None
    fsize = f"{mib} MiB" if mib and mib != 1024 else "1 GiB"
    block = f"{bk} KiB" if bk and bk != 1024 else "1 MiB"
    return f"""{BEGIN}
## Files (fs/, issue 6)

- Command: `{g('command')}` with `{g('params')}` (also run by `make bench`;
  alone: `make bench SUITES=fs` or `bench/fs/run.sh`; see `bench/fs/README.md`)
- Date: {g('date')}; suite time {g('seconds')} s; failed runs: {g('failed')}
- Load average (1, 5, 15 min) at start: {g('load_start')}; at end: {g('load_end')}
  (the machine has 2 CPUs; any other load makes every figure slower and noisier)
{vers}- Programs: `bench/fs/fs_c.c` (plain blocking C: read(2)/write(2) loops),
  `bench/fs/fs_uv.c` (uv_fs_* on one loop, libuv's default pool), `bench/fs/tokio/`
  (tokio::fs on a default multi_thread runtime), `bench/fs/axon_fs.c` (Axon, a
  default runtime); every program runs alternately, round by round; medians
  (min–max) of the rounds.

Sequential: one {fsize} file, {block} application blocks (handles: `write`/`read`
of {block}; whole-file: one {fsize} `ax_fs_write_file` / `ax_fs_read_file`,
`tokio::fs::write` / `tokio::fs::read`), fdatasync after the write (timed
apart), then read warm (just written, in the page cache), then evicted
({g('cold')}) and read cold. Higher is better except fdatasync.
Bar (issue 6): sequential throughput ≥ {SEQ_BAR}× plain blocking C: Axon's
handles against C's {block} read(2)/write(2) loop, Axon's whole-file calls
against C's whole-file form ("plain C whole-file", all timed: open, a
write(2) loop over the whole buffer in {block} pieces, close; open, fstat,
malloc of the file's size, a read(2) loop into it, free), since a
whole-file read hands back {fsize} of fresh memory that has to be faulted
in, which a reused {block} buffer never is, and a whole-file write closes
the file, which on ext4, for a file truncated and written again, starts
its writeback (auto_da_alloc: C's whole-file write ran at half its speed
once its close was timed).
Every timed write overwrites (O_TRUNC) a file that plain C wrote and synced
just before, so the page-cache pages it fills are ones the guest has just
used: pages idle for a few seconds are reclaimed here (kdamond) and handed
back to the host, and a write into those ran 3-10× slower at random (C
alone: 157-1,821 MB/s against 2,000-5,200 on reused pages), which measured
the VM rather than the program.

{seq}

Small files: {g('n')} files of {size if size is not None else '?'} bytes in a fresh directory;
phases create + write (tokio `fs::write`, Axon whole-file `ax_fs_write_file`,
Axon handle `ax_file_open` + `ax_file_write` + `ax_file_close`, libuv
open/write/close requests, C open/write/close), read (`fs::read`,
`ax_fs_read_file`, handle open + reads to end of file + close), delete
(`remove_file`, `ax_fs_remove`, `uv_fs_unlink`, `unlink`); ops/s per phase, with
1 and 64 concurrent tasks (libuv: request chains in flight; plain C: one
thread, 1 only). Bars (issue 6): Axon's small-file ops/s ≥ tokio::fs and ≥
libuv.

{small_table(s)}

CPU time per operation (µs, user + system of the whole process, all
threads, kernel work included; lower is better): less sensitive to other
load on the machine than ops/s.

{cpu_table(s)}

{"![Files: Axon vs tokio::fs vs libuv vs plain C](bench-fs.png)" if png_ok else "(no chart: gnuplot was not available)"}
{END}
"""


def fs_section(build_dir, docs=None):
    """The markdown section from $BUILD/bench/fs.tsv ("" when the suite never
    ran); with docs, also regenerates docs/bench-fs.png."""
    summ = os.path.join(build_dir, "bench", "fs.tsv")
    if not os.path.exists(summ):
        return ""
    s = load_summary(summ)
    png_ok = chart(s, os.path.join(docs, "bench-fs.png")) if docs else os.path.exists("docs/bench-fs.png")
    return "\n" + section(s, os.path.join(build_dir, "bench", "fs"), png_ok)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    s = load(sys.argv[1])
    write_summary(s, sys.argv[2])
    s = load_summary(sys.argv[2])
    run_dir = sys.argv[3] if len(sys.argv) > 3 else "."
    seq, _ = seq_table(s)
    print("\nSequential:\n\n" + seq + "\n\nSmall files, ops/s:\n\n" + small_table(s)
          + "\n\nSmall files, CPU µs per op:\n\n" + cpu_table(s) + "\n")
    print(f"fs-bench: wrote {sys.argv[2]}")
    if len(sys.argv) > 4 and sys.argv[4]:
        docs = sys.argv[4]
        png_ok = chart(s, os.path.join(docs, "bench-fs.png"))
        text = section(s, run_dir, png_ok)
        path = os.path.join(docs, "BENCHMARKS.md")
        old = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
        pat = re.compile(re.escape(BEGIN) + ".*?" + re.escape(END) + "\n?", re.S)
        new = pat.sub(lambda _: text, old, count=1) if pat.search(old) else old.rstrip("\n") + "\n\n" + text
        with open(path, "w") as f:
            f.write(new)
        print(f"fs-bench: wrote {path} (file-system section){' and ' + docs + '/bench-fs.png' if png_ok else ''}")


if __name__ == "__main__":
    main()
