#!/usr/bin/env bash
# bench/echo/run.sh - TCP echo benchmark: Axon's echo example against a
# hand-written epoll echo, libuv, Go and tokio, side by side.
#
# Builds the load client and the peers into $BUILD/bench/echo/, then for each
# message size (SIZES) and connection count (CONNS) runs every server
# ALTERNATELY, round by round (ROUNDS): the server (one worker) pinned to
# SERVER_CPU, the load client (one thread) pinned to CLIENT_CPU, WARM seconds
# of warm-up and DUR measured seconds per run. The load client reads the
# server's utime+stime from /proc/PID/stat at the start and at the end of the
# measured window, which gives the server's CPU time per message. Each run
# starts a fresh server on its own port; a port that already answers is
# refused (a stale server would fake the figures).
#
# Prints a table of medians (min–max) of msgs/s, p99 latency and server CPU
# per message, and the ratio of each server's CPU/msg to Axon's (to
# epoll_echo's when Axon is missing). Writes $BUILD/bench/echo.tsv (the
# summary) and $BUILD/bench/echo-rounds.tsv (every run).
#
# Env: ROUNDS (5), DUR (3), WARM (0.5), SIZES ("64 16384"), CONNS
# ("1 64 1024"), SERVERS ("axon epoll uv go tokio"), PORT (first port, 19400),
# SERVER_CPU (0), CLIENT_CPU (1), BUILD (build), AXON_ECHO
# ($BUILD/examples/echo). A missing server is skipped and shows "-".
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

ROUNDS=${ROUNDS:-5}
DUR=${DUR:-3}
WARM=${WARM:-0.5}
SIZES=${SIZES:-64 16384}
CONNS=${CONNS:-1 64 1024}
SERVERS=${SERVERS:-axon epoll uv go tokio}
PORT=${PORT:-19400}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
# shellcheck source=bench/echo/lib.sh
. bench/echo/lib.sh

trap 'stop_server' EXIT
trap 'stop_server; exit 130' INT TERM

build_all || exit 1
versions | tee "$OUT/versions.txt" >&2

names=() ports=()
i=0
for s in $SERVERS; do
    bin=$(server_bin "$s") || { note "unknown server $s"; continue; }
    if [ -x "$bin" ]; then
        names+=("$s"); ports+=($((PORT + i)))
    else
        note "missing $bin; skipping $s"
    fi
    i=$((i + 1))
done
[ ${#names[@]} -gt 0 ] || { note "no server to run"; exit 1; }

RAW=$BUILD/bench/echo-rounds.tsv
printf 'size\tconns\tserver\tround\tmsgs_per_s\tp50_us\tp99_us\tserver_ns_per_msg\terrors\tclient_cpu_util\tconn_msgs_min\tconn_msgs_max\n' >"$RAW"
load_limit=$(awk -v w="$WARM" -v d="$DUR" 'BEGIN { printf "%d", w + d + 30 }')
server_life=$((load_limit + 30))
note "$(date -u '+%F %T') UTC; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
t_start=$(date +%s)

for size in $SIZES; do
    for conns in $CONNS; do
        for ((r = 1; r <= ROUNDS; r++)); do
            for k in "${!names[@]}"; do
                s=${names[$k]} port=${ports[$k]}
                if ! start_server "$s" "$port" "$SERVER_CPU" "$server_life"; then
                    printf '%s\t%s\t%s\t%s\tNA\tNA\tNA\tNA\tstart-failed\tNA\tNA\tNA\n' "$size" "$conns" "$s" "$r" >>"$RAW"
                    continue
                fi
                line=$(timeout "$load_limit" taskset -c "$CLIENT_CPU" "$OUT/load" -H 127.0.0.1 -p "$port" \
                    -c "$conns" -s "$size" -d "$DUR" -w "$WARM" --pid "$SRV_PID" 2>>"$OUT/logs/load.log")
                rc=$?
                alive=1
                kill -0 "$SRV_PID" 2>/dev/null || alive=0
                stop_server
                [ $alive = 1 ] || note "$s died during the run (size $size, $conns conns)"
                errs=$(kv errors "$line")
                [ $rc -eq 0 ] || note "load exit $rc against $s (size $size, $conns conns, errors $errs); see $OUT/logs/load.log"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$size" "$conns" "$s" "$r" \
                    "$(kv msgs_per_s "$line")" "$(kv p50_us "$line")" "$(kv p99_us "$line")" \
                    "$(kv server_ns_per_msg "$line")" "$errs" "$(kv client_cpu_util "$line")" \
                    "$(kv conn_msgs_min "$line")" "$(kv conn_msgs_max "$line")" >>"$RAW"
                note "size $size, $conns conns, round $r/$ROUNDS, $s: $(kv msgs_per_s "$line") msgs/s, p99 $(kv p99_us "$line") us, $(kv server_ns_per_msg "$line") ns/msg"
            done
        done
    done
done
note "done in $(($(date +%s) - t_start)) s; load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- summary -------------------------------------------------------------------
python3 - "$RAW" "$BUILD/bench/echo.tsv" "$SERVERS" "${names[*]}" "$SERVER_CPU" "$CLIENT_CPU" "$DUR" "$ROUNDS" <<'EOF'
import csv, statistics, sys
raw, out, names, active, scpu, ccpu, dur, rounds = sys.argv[1:9]
names, active = names.split(), active.split()
label = {"axon": "Axon", "epoll": "epoll_echo", "uv": "libuv", "go": "Go", "tokio": "tokio"}
rows = list(csv.DictReader(open(raw), delimiter="\t"))
cells = {}
for r in rows:
    cells.setdefault((int(r["size"]), int(r["conns"]), r["server"]), []).append(r)

def vals(rs, k):
    out = []
    for r in rs:
        try:
            out.append(float(r[k]))
        except ValueError:
            pass
    return out

def fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}" if v < 10 else f"{v:.1f}"

def stat(vs):
    return (statistics.median(vs), min(vs), max(vs)) if vs else (None, None, None)

def cell(vs):
    m, lo, hi = stat(vs)
    return "-" if m is None else f"{fmt(m)} ({fmt(lo)}–{fmt(hi)})"

base = "axon" if "axon" in active else "epoll"
sizes = sorted({k[0] for k in cells}); conns = sorted({k[1] for k in cells})
tsv = [["size", "conns", "server", "runs", "msgs_per_s_median", "msgs_per_s_min", "msgs_per_s_max",
        "p50_us_median", "p99_us_median", "p99_us_min", "p99_us_max",
        "server_ns_per_msg_median", "server_ns_per_msg_min", "server_ns_per_msg_max",
        f"cpu_per_msg_vs_{base}", "errors", "client_cpu_util_median", "fairness_min_over_max_median"]]
print(f"\nTCP echo, one server worker on CPU {scpu}, load client (1 thread) on CPU {ccpu}, "
      f"{dur} s per run, median (min–max) of {rounds} alternating rounds.")
print(f"CPU/msg ratio: server CPU per message / {label[base]}'s (lower is cheaper).\n")
print("'client CPU' is the load client's CPU time over the window, as a share of one core.")
print("'fair' is the fewest / the most messages one connection completed in the window (1.00: all alike).\n")
print("| size | conns | server | msgs/s | p99 µs | server CPU ns/msg | CPU/msg vs " + label[base] + " | client CPU | fair |")
print("|---|---|---|---|---|---|---|---|---|")
for s in sizes:
    for c in conns:
        bm = stat(vals(cells.get((s, c, base), []), "server_ns_per_msg"))[0]
        for n in names:
            rs = cells.get((s, c, n), [])
            ns = vals(rs, "server_ns_per_msg")
            m = stat(ns)[0]
            ratio = f"{m / bm:.2f}×" if (m is not None and bm) else "-"
            errs = sum(int(r["errors"]) for r in rs if r["errors"].isdigit())
            bad = sum(1 for r in rs if not r["errors"].isdigit())
            cu = stat(vals(rs, "client_cpu_util"))[0]
            fr = [float(r["conn_msgs_min"]) / float(r["conn_msgs_max"]) for r in rs
                  if r["conn_msgs_min"] not in ("NA", "") and r["conn_msgs_max"] not in ("NA", "", "0")]
            fm = stat(fr)[0]
            note = (f" ({errs} errors)" if errs else "") + (f" ({bad} failed runs)" if bad else "")
            if n not in active:
                note = " (not built)"
            print(f"| {s} | {c} | {label[n]}{note} | {cell(vals(rs, 'msgs_per_s'))} | {cell(vals(rs, 'p99_us'))} "
                  f"| {cell(ns)} | {ratio} | {'-' if cu is None else f'{cu:.2f}'} | {'-' if fm is None else f'{fm:.2f}'} |")
            mm, ml, mh = stat(vals(rs, "msgs_per_s")); pm, pl, ph = stat(vals(rs, "p99_us"))
            nm, nl, nh = stat(ns); p50 = stat(vals(rs, "p50_us"))[0]
            g = lambda v: "-" if v is None else f"{v:g}"
            tsv.append([s, c, n, len(vals(rs, "msgs_per_s")), g(mm), g(ml), g(mh), g(p50), g(pm), g(pl), g(ph),
                        g(nm), g(nl), g(nh), ratio.rstrip("×"), errs + bad, g(cu), g(fm)])
with open(out, "w") as f:
    for t in tsv:
        f.write("\t".join(map(str, t)) + "\n")
print(f"\nwrote {out}")
EOF
