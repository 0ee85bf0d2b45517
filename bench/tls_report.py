#!/usr/bin/env python3
"""bench/tls_report.py - the TLS section of docs/BENCHMARKS.md (issue 7).

Usage: tls_report.py BUILD_DIR [DOCS_DIR]

Reads what bench/tls/run.sh wrote in BUILD_DIR/bench/tls/ (meta.txt,
rounds.tsv, pairs.tsv, instr.tsv, crypto.tsv), prints the tables, writes the summary
BUILD_DIR/bench/tls/summary.tsv (median, min, max and count of every
figure) and, with DOCS_DIR, draws DOCS_DIR/bench-tls.png and puts the
section into DOCS_DIR/BENCHMARKS.md in place of the previous TLS section
(appended when there was none; the rest of the file is left as it is).
bench/report.py imports tls_section() for a full regeneration.
"""
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

from http_report import keep_section, splice

HEADING = "## TLS (tls/, issue 7)"
ORDER = ["axon", "bssl", "axon-static", "bssl-static", "nginx"]
LABEL = {"axon": "Axon", "bssl": "minimal", "axon-static": "Axon static",
         "bssl-static": "minimal static", "nginx": "nginx"}
# (Axon, its minimal server on the same BoringSSL)
PAIRS = [("axon", "bssl"), ("axon-static", "bssl-static")]
TESTS = ["full-x25519", "full-p256", "resume-x25519", "resume-p256"]
CERTS = ["ecdsa", "rsa"]
CERT_LABEL = {"ecdsa": "ECDSA P-256", "rsa": "RSA-2048"}
BAR_RATIO = 1.1  # server CPU per handshake and per MiB, vs the minimal server
LIB_PAIR = {"shared": ("axon", "bssl"), "static": ("axon-static", "bssl-static")}
LIB_LABEL = {"shared": "Debian's shared BoringSSL", "static": "static BoringSSL"}
ALL_TESTS = TESTS + ["bulk"]


def median_ci_rank(n):
    """The largest k with P(Binomial(n, 1/2) < k) <= 2.5%: the k-th smallest
    and k-th largest of n samples bound their median with 95% confidence
    (0 when n is too small for that)."""
    k, acc = 0, 0.0
    while k < n:
        acc += math.comb(n, k) / 2 ** n
        if acc > 0.025:
            break
        k += 1
    return k


def tsv_rows(d, name):
    """The rows of d/name as dicts (none when the file is missing)."""
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


class Data:
    def __init__(self, build_dir):
        d = os.path.join(build_dir, "bench", "tls")
        self.meta, self.versions = {}, []
        path = os.path.join(d, "meta.txt")
        if os.path.exists(path):
            for line in open(path):
                line = line.rstrip("\n")
                if line.startswith("version "):
                    self.versions.append(line[len("version "):])
                elif ": " in line:
                    k, v = line.split(": ", 1)
                    self.meta[k] = v
        self.vals = {}
        for r in tsv_rows(d, "rounds.tsv"):
            try:
                v = float(r["value"])
            except ValueError:
                continue
            self.vals.setdefault((r["server"], r["cert"], r["test"], r["metric"]), []).append(v)
        self.crypto = tsv_rows(d, "crypto.tsv")
        self.servers = [s for s in ORDER if any(k[0] == s for k in self.vals)]
        # Paired runs: (lib, cert, test) -> pair -> server -> CPU ns per unit.
        self.pairs = {}
        for r in tsv_rows(d, "pairs.tsv"):
            try:
                v = float(r["cpu_ns"]) / float(r["units"])
            except (ValueError, ZeroDivisionError):
                continue
            self.pairs.setdefault((r["lib"], r["cert"], r["test"]), {}).setdefault(r["pair"], {})[r["server"]] = v
        # Instructions under callgrind: (server, cert, test) -> per unit.
        self.instr = {}
        for r in tsv_rows(d, "instr.tsv"):
            try:
                self.instr[(r["server"], r["cert"], r["test"])] = float(r["instructions"]) / float(r["units"])
            except (ValueError, ZeroDivisionError):
                continue

    def paired(self, lib, cert, test):
        """(median ratio, low, high, n, median Axon, median minimal) of the
        per-pair ratios Axon / minimal; low-high: a 95% interval for the
        median from the order statistics (no assumption on the spread)."""
        a, b = LIB_PAIR[lib]
        runs = self.pairs.get((lib, cert, test), {})
        rs = sorted(p[a] / p[b] for p in runs.values() if a in p and b in p and p[b] > 0)
        n = len(rs)
        if not n:
            return None
        k = median_ci_rank(n)
        lo, hi = (rs[k - 1], rs[n - k]) if k else (rs[0], rs[-1])
        ma = statistics.median(p[a] for p in runs.values() if a in p)
        mb = statistics.median(p[b] for p in runs.values() if b in p)
        return (statistics.median(rs), lo, hi, n, ma, mb)

    def stat(self, server, cert, test, metric):
        v = self.vals.get((server, cert, test, metric))
        if not v:
            return None
        return (statistics.median(v), min(v), max(v), len(v))


def fmt(s, digits=0):
    if not s:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(s[0])} ({f.format(s[1])}–{f.format(s[2])})"


def ratio(a, b):
    if not a or not b or not b[0]:
        return None
    return a[0] / b[0]


def rfmt(x):
    return "-" if x is None else f"{x:.2f}"


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def cpu_table(d):
    head = ["certificate, handshake"] + [LABEL[s] for s in d.servers]
    pairs = [p for p in PAIRS if p[0] in d.servers and p[1] in d.servers]
    head += [f"{LABEL[a]} / {LABEL[b]}" for a, b in pairs]
    rows = []
    for c in CERTS:
        for t in TESTS:
            row = [f"{CERT_LABEL[c]}, {t}"]
            row += [fmt(d.stat(s, c, t, "cpu_us_per_hs")) for s in d.servers]
            row += [rfmt(ratio(d.stat(a, c, t, "cpu_us_per_hs"), d.stat(b, c, t, "cpu_us_per_hs"))) for a, b in pairs]
            rows.append(row)
    return md_table(head, rows)


def rate_table(d):
    head = ["certificate, handshake"] + [f"{LABEL[s]} hs/s" for s in d.servers] + \
        [f"{LABEL[s]} hs per CPU-s" for s in d.servers]
    rows = []
    for c in CERTS:
        for t in TESTS:
            row = [f"{CERT_LABEL[c]}, {t}"]
            row += [fmt(d.stat(s, c, t, "hs_per_s")) for s in d.servers]
            row += [fmt(d.stat(s, c, t, "hs_per_cpu_s")) for s in d.servers]
            rows.append(row)
    return md_table(head, rows)


def bulk_table(d):
    rows = []
    for s in d.servers:
        rows.append([LABEL[s], fmt(d.stat(s, "ecdsa", "bulk", "mib_per_s")),
                     fmt(d.stat(s, "ecdsa", "bulk", "cpu_ms_per_mib"), 3)])
    return md_table(["server", "MiB/s echoed", "server CPU ms per MiB"], rows)


def case_label(c, t):
    return f"{CERT_LABEL[c]}, {t}" if t != "bulk" else f"{CERT_LABEL[c]}, bulk (per MiB)"


def paired_table(d):
    libs = [l for l in LIB_PAIR if any(k[0] == l for k in d.pairs)]
    if not libs:
        return ""
    head = ["certificate, case"]
    for l in libs:
        a, b = LIB_PAIR[l]
        head += [f"{LABEL[a]} µs", f"{LABEL[b]} µs", f"{LABEL[a]} / {LABEL[b]} (95% interval)"]
    rows = []
    for c in CERTS:
        for t in ALL_TESTS:
            row, any_ = [case_label(c, t)], False
            for l in libs:
                p = d.paired(l, c, t)
                if not p:
                    row += ["-", "-", "-"]
                    continue
                any_ = True
                unit = 1e3 if t != "bulk" else 1e6  # µs per handshake, ms per MiB
                row += [f"{p[4] / unit:.{0 if t != 'bulk' else 3}f}", f"{p[5] / unit:.{0 if t != 'bulk' else 3}f}",
                        f"**{p[0]:.3f}** ({p[1]:.3f}–{p[2]:.3f}, n={p[3]})"]
            if any_:
                rows.append(row)
    return md_table(head, rows)


def instr_table(d):
    servers = [s for s in ORDER if any(k[0] == s for k in d.instr)]
    if not servers:
        return ""
    pairs = [(a, b) for a, b in PAIRS if a in servers and b in servers]
    head = ["certificate, case"] + [LABEL[s] for s in servers] + [f"{LABEL[a]} / {LABEL[b]}" for a, b in pairs]
    rows = []
    for c in CERTS:
        for t in ALL_TESTS:
            vals = [d.instr.get((s, c, t)) for s in servers]
            if not any(vals):
                continue
            row = [case_label(c, t)] + [f"{v / 1e3:,.0f}k" if v else "-" for v in vals]
            for a, b in pairs:
                va, vb = d.instr.get((a, c, t)), d.instr.get((b, c, t))
                row.append(f"{va / vb:.3f}" if va and vb else "-")
            rows.append(row)
    return md_table(head, rows)


def crypto_table(d):
    if not d.crypto:
        return ""
    impls = []
    for r in d.crypto:
        if r["impl"] not in impls:
            impls.append(r["impl"])
    ops = []
    for r in d.crypto:
        if (r["op"], r["unit"]) not in ops:
            ops.append((r["op"], r["unit"]))
    val = {(r["impl"], r["op"]): float(r["value"]) for r in d.crypto}
    rows = []
    for op, unit in ops:
        rows.append([f"{op} ({unit})"] + [f"{val[(i, op)]:.0f}" if (i, op) in val else "-" for i in impls])
    return md_table(["operation"] + impls, rows)


def bars(d):
    out = []
    for l, (a, b) in LIB_PAIR.items():
        ps = [(f"{c}/{t}", d.paired(l, c, t)) for c in CERTS for t in ALL_TESTS]
        ps = [(k, p) for k, p in ps if p]
        if ps:
            hs = [(k, p) for k, p in ps if not k.endswith("/bulk")]
            bulk = [(k, p) for k, p in ps if k.endswith("/bulk")]
            for what, group in (("per handshake", hs), ("per MiB", bulk)):
                if not group:
                    continue
                worst = max(group, key=lambda x: x[1][0])
                ok = all(p[0] <= BAR_RATIO for _, p in group)
                out.append(f"- Server CPU {what}, {LABEL[a]} / {LABEL[b]} (paired runs, median ratio): worst "
                           f"{worst[1][0]:.3f} ({worst[0]}; 95% interval {worst[1][1]:.3f}–{worst[1][2]:.3f}), "
                           f"bar ≤ {BAR_RATIO}: {'met' if ok else 'NOT met'} "
                           f"({sum(p[0] <= BAR_RATIO for _, p in group)} of {len(group)} cases within)")
            continue
        # No paired runs: the rounds' medians.
        if a not in d.servers or b not in d.servers:
            continue
        rs = [(f"{c}/{t}", ratio(d.stat(a, c, t, "cpu_us_per_hs"), d.stat(b, c, t, "cpu_us_per_hs")))
              for c in CERTS for t in TESTS]
        rs = [(k, r) for k, r in rs if r is not None]
        if rs:
            worst = max(rs, key=lambda x: x[1])
            ok = all(r <= BAR_RATIO for _, r in rs)
            out.append(f"- Server CPU per handshake, {LABEL[a]} / {LABEL[b]}: worst {worst[1]:.2f} ({worst[0]}), "
                       f"bar ≤ {BAR_RATIO}: {'met' if ok else 'NOT met'} "
                       f"({sum(r <= BAR_RATIO for _, r in rs)} of {len(rs)} cases within)")
        rb = ratio(d.stat(a, "ecdsa", "bulk", "cpu_ms_per_mib"), d.stat(b, "ecdsa", "bulk", "cpu_ms_per_mib"))
        if rb is not None:
            out.append(f"- Server CPU per MiB, {LABEL[a]} / {LABEL[b]}: {rb:.2f}, bar ≤ {BAR_RATIO}: "
                       f"{'met' if rb <= BAR_RATIO else 'NOT met'}")
    for a, b in PAIRS:
        rs = [d.instr[(a, c, t)] / d.instr[(b, c, t)] for c in CERTS for t in ALL_TESTS
              if (a, c, t) in d.instr and (b, c, t) in d.instr]
        if rs:
            out.append(f"- User-space instructions, {LABEL[a]} / {LABEL[b]} (callgrind): {min(rs):.3f}–{max(rs):.3f} "
                       f"over {len(rs)} cases (no bar; the kernel's share is not counted)")
    for s in ("axon-static", "axon"):
        if s not in d.servers or "nginx" not in d.servers:
            continue
        rs = [(f"{c}/{t}", ratio(d.stat(s, c, t, "hs_per_cpu_s"), d.stat("nginx", c, t, "hs_per_cpu_s")))
              for c in CERTS for t in TESTS]
        rs = [(k, r) for k, r in rs if r is not None]
        if rs:
            lows = [f"{k} {r:.2f}" for k, r in rs if r < 1]
            what = "bar (static build) ≥ 1" if s == "axon-static" else "for comparison (no bar)"
            out.append(f"- Handshakes per server CPU-second, {LABEL[s]} / nginx: "
                       f"{sum(r >= 1 for _, r in rs)} of {len(rs)} cases ≥ 1, {what}"
                       + (f"; below: {', '.join(lows)}" if lows else ""))
    return "\n".join(out)


def notes(d):
    """What the figures say about the libraries, derived from this run."""
    out = []
    # RSA-2048 signing's share of a full handshake: the RSA run minus the
    # ECDSA run (ECDSA P-256 signing is cheap next to it).
    inf = []
    for s in d.servers:
        r = d.stat(s, "rsa", "full-x25519", "cpu_us_per_hs")
        e = d.stat(s, "ecdsa", "full-x25519", "cpu_us_per_hs")
        if r and e:
            inf.append(f"{LABEL[s]} {r[0] - e[0]:.0f}")
    if inf:
        out.append("- RSA-2048 signing inside a handshake (RSA minus ECDSA full-x25519 CPU, µs): "
                   + ", ".join(inf) + ". BoringSSL's RSA is the slower one here"
                   + ("; OpenSSL 3.0 has an AVX-512 IFMA path for RSA-2048 and this CPU has avx512ifma"
                      if d.meta.get("avx512ifma") == "yes" else "")
                   + ", so the full RSA handshakes against nginx turn on the library's RSA, "
                   "not on the server code (the minimal server pays the same).")
    sh = [d.stat(s, "ecdsa", "full-p256", "cpu_us_per_hs") for s in ("axon", "axon-static")]
    if all(sh):
        out.append(f"- Debian's shared BoringSSL is built with OPENSSL_SMALL (debian/rules), which drops "
                   f"the large P-256 tables: a full ECDSA/P-256 handshake costs Axon {sh[0][0]:.0f} µs "
                   f"there and {sh[1][0]:.0f} µs on the static build from the same source.")
    sign = {r["impl"]: float(r["value"]) for r in d.crypto if r["op"].startswith("RSA 2048 signing")}
    if sign:
        out.append("- RSA-2048 signing alone (crypto table below): "
                   + ", ".join(f"{k} {v:.0f}/s ({1e6 / v:.0f} µs)" for k, v in sign.items() if v) + ".")
    return "\n".join(out)


def chart(d, png):
    if not shutil.which("gnuplot") or not d.servers:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        dat = os.path.join(tmp, "tls.dat")
        with open(dat, "w") as f:
            for c in CERTS:
                for t in TESTS:
                    vals = [d.stat(s, c, t, "cpu_us_per_hs") for s in d.servers]
                    f.write(f'"{c} {t}" ' + " ".join(f"{v[0]:g}" if v else "NaN" for v in vals) + "\n")
        plots = ", ".join(f"'{dat}' using {i + 2}{':xtic(1)' if i == 0 else ''} title '{LABEL[s]}'"
                          for i, s in enumerate(d.servers))
        script = f"""set terminal pngcairo noenhanced size 1200,450 font ',10'
set output '{png}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key below
set grid ytics
set xtics rotate by -25
set yrange [0:*]
set title 'TLS 1.3: server CPU per handshake, µs, one core (median of the rounds; lower is better; {d.meta.get("date", "")})'
plot {plots}
"""
        r = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
        if r.returncode != 0:
            print("tls-bench: gnuplot failed: " + r.stderr, file=sys.stderr)
            return False
    return True


def section(d, png_ok):
    m = d.meta
    vers = "\n".join(f"- {v}" for v in d.versions)
    crypto = crypto_table(d)
    return f"""
{HEADING}

- Command: `{m.get('command', '?')}` (bench/tls/run.sh; bench/tls/README.md says what runs)
- Date: {m.get('date', '?')}; {m.get('rounds', '?')} rounds, servers alternating round by round;
  {m.get('hs_n', '?')} handshakes per figure from {m.get('threads', '?')} client threads; bulk {m.get('bulk_mib', '?')} MiB
- CPU: {m.get('cpu', '?')}; CPUs: {m.get('cpus', '?')}; load average: {m.get('load', '?')}
  (a load average above 1 at the start means other work shared the 2 CPUs; even on a quiet machine cells move by ±15% from run to run: see min–max, and the paired runs below)
- Client: {m.get('client', '?')}; TLS 1.3, AES-128-GCM, one key share (X25519 or P-256)
{vers}

Servers: **Axon** = `examples/echo --workers 1 --tls-cert --tls-key`; **minimal** =
`bench/tls/bssl_server.c` (one thread, epoll, handshake and echo, nothing else), each
on Debian's shared BoringSSL or (**static**) on `make STATIC_BORINGSSL=1`'s libssl.a
built from Debian's source; **nginx** = Debian's nginx on OpenSSL 3, one process,
`return 200 "x"` / the echo module. Every connection does the handshake and one
short exchange (1 byte echoed; nginx: GET with a 1-byte body), then the client resets it.
Server CPU is the run time of all the server's threads over the run, from
/proc/PID/task/*/schedstat (ns).

### Server CPU per handshake (µs, median (min–max); lower is better)

{cpu_table(d)}

### Axon ÷ minimal server, paired (the 1.1× bars)

The round medians above move by ±15% when the machine's other tenants do,
which is as much as the bar allows. So Axon and the minimal server on the
same BoringSSL also run side by side (both up, both pinned to the server
CPU) and the client alternates between them, {m.get('pairs', '?')} pairs per case of
{m.get('pair_n', '?')} handshakes ({m.get('pair_mib', '?')} MiB for bulk), who goes first alternating: every
pair gives a ratio measured within a second or two. Below: the median CPU
per handshake (µs; bulk: ms per MiB) of each server, and the median of the
per-pair ratios with a 95% interval for it (order statistics, no
assumption on the spread). Load average at the end of the paired runs:
{m.get('load_pairs', '?')}.

{paired_table(d) or "(no paired runs in this run: PAIRS=0)"}

### User-space instructions (callgrind)

The same servers under `valgrind --tool=callgrind` ({m.get('valgrind', '?')}),
{m.get('instr_n', '?')} handshakes per case from 2 client threads ({m.get('instr_mib', '?')} MiB for bulk),
start-up counted apart: thousands of instructions per handshake (bulk: per
MiB), all threads. Repeatable to a fraction of a percent whatever else the
machine does; it leaves out the kernel (system calls) and cache misses,
which the CPU figures above include.

{instr_table(d) or "(not measured in this run: INSTR=0 or no valgrind)"}

### Handshakes/s as measured, and per second of server CPU

The client (one CPU, verifying every CertificateVerify signature) is the
bottleneck for most cells, so the measured rate says more about the client
than the server; handshakes per server CPU-second (1 / CPU per handshake)
is what one server core can do, and is what the nginx bar is judged on.

{rate_table(d)}

### Bulk: {m.get('bulk_mib', '?')} MiB echoed on one connection (ECDSA, X25519)

nginx gets 1 MiB POSTs on one keep-alive connection and echoes each body
(request/response, not streamed), so its MiB/s is not comparable; its CPU per
MiB includes HTTP framing.

{bulk_table(d)}

### Bars (issue 7)

{bars(d)}

### Notes

{notes(d)}

{"![TLS server CPU per handshake](bench-tls.png)" if png_ok else "(no chart: gnuplot was not available)"}

### Crypto speed (one core, `bssl speed -timeout 1`, `openssl speed -seconds 1`)

{crypto if crypto else "(not measured in this run)"}
"""


def tls_section(build_dir, docs_dir=None):
    """Markdown for the TLS benchmark, or "" when it never ran here."""
    d = Data(build_dir)
    if not d.meta:
        return ""
    png_ok = chart(d, os.path.join(docs_dir, "bench-tls.png")) if docs_dir else False
    return section(d, png_ok)


def write_summary(d, path):
    with open(path, "w") as f:
        f.write("server\tcert\ttest\tmetric\tmedian\tmin\tmax\tn\n")
        for (s, c, t, m) in sorted(d.vals):
            st = d.stat(s, c, t, m)
            f.write(f"{s}\t{c}\t{t}\t{m}\t{st[0]:g}\t{st[1]:g}\t{st[2]:g}\t{st[3]}\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    build = sys.argv[1]
    docs = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None
    d = Data(build)
    if not d.meta:
        sys.exit(f"tls-bench: no {build}/bench/tls/meta.txt (run bench/tls/run.sh)")
    write_summary(d, os.path.join(build, "bench", "tls", "summary.tsv"))
    print("\nServer CPU per handshake (us):\n" + cpu_table(d))
    print("\nHandshakes/s:\n" + rate_table(d))
    print("\nBulk:\n" + bulk_table(d))
    print("\nPaired (Axon / minimal):\n" + paired_table(d))
    print("\nInstructions (callgrind):\n" + instr_table(d))
    print("\nBars:\n" + bars(d))
    c = crypto_table(d)
    if c:
        print("\nCrypto:\n" + c)
    print(f"\ntls-bench: wrote {build}/bench/tls/summary.tsv")
    if docs:
        text = tls_section(build, docs)
        splice(os.path.join(docs, "BENCHMARKS.md"), HEADING, text)
        print(f"tls-bench: wrote {docs}/BENCHMARKS.md (TLS section) and {docs}/bench-tls.png")


if __name__ == "__main__":
    main()
