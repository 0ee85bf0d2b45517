#!/usr/bin/env bash
# bench/http/soak.sh - `make soak` (issue 8; not part of CI): drives the
# demo server with mixed traffic for SOAK_SECS seconds and checks that its
# resident memory stays flat and that it does not leak descriptors.
#
# The server (SOAK_SERVER: "axon", i.e. $AXON_DEMO --port P --workers
# SOAK_WORKERS, or one of bench/http's peers such as "epoll" or "nginx" to
# check the harness) runs pinned to SERVER_CPU; wrk (one thread, SOAK_CONNS
# keep-alive connections, bench/http/soak.lua: GET /, GET /json, POST /echo,
# GET /users/:id in turn) runs on CLIENT_CPU for SOAK_SECS. Every
# SOAK_SAMPLE seconds the server's RSS (/proc/PID/smaps_rollup) and open
# descriptors (/proc/PID/fd) are sampled. After the warm-up (SOAK_WARM
# seconds, a tenth of the run by default):
#   RSS flat  every later sample lies within 5 % of the first one after
#             the warm-up;
#   fds flat  no later sample has more descriptors than the first one after
#             the warm-up.
# Both must hold, and the server must still be alive, for the soak to pass
# (exit 0). The samples go to $BUILD/bench/soak-samples.tsv; the result
# replaces the "Soak" section of docs/BENCHMARKS.md (DOCS=0 leaves it alone).
#
# Env: SOAK_SECS (600), SOAK_SAMPLE (5), SOAK_WARM (SOAK_SECS/10), SOAK_CONNS
# (64), SOAK_SERVER (axon), SOAK_WORKERS (1), SOAK_PORT (19690), SERVER_CPU
# (0), CLIENT_CPU (1), AXON_DEMO ($BUILD/examples/demo), BUILD, DOCS (1),
# DOCS_DIR (docs).
set -euo pipefail
cd "$(dirname "$0")/../.."

SOAK_SECS=${SOAK_SECS:-600}
SOAK_SAMPLE=${SOAK_SAMPLE:-5}
SOAK_WARM=${SOAK_WARM:-$((SOAK_SECS / 10))}
SOAK_CONNS=${SOAK_CONNS:-64}
SOAK_SERVER=${SOAK_SERVER:-axon}
SOAK_WORKERS=${SOAK_WORKERS:-1}
SOAK_PORT=${SOAK_PORT:-19690}
DOCS=${DOCS:-1}
DOCS_DIR=${DOCS_DIR:-docs}
RSS_TOLERANCE=0.05
# shellcheck source=bench/http/lib.sh
. bench/http/lib.sh

WRK_PID=
cleanup() {
    if [ -n "$WRK_PID" ]; then
        kill -TERM "$WRK_PID" 2>/dev/null || true
        wait "$WRK_PID" 2>/dev/null || true
        WRK_PID=
    fi
    stop_server
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

command -v wrk >/dev/null || bash .ci/deps.sh wrk curl >&2
if [ "$SOAK_SERVER" = axon ]; then
    [ -x "$AXON_DEMO" ] || { note "soak: $AXON_DEMO is missing (make examples)"; exit 1; }
    # The demo with SOAK_WORKERS workers, on one CPU per worker from SERVER_CPU.
    server_argv() { printf '%s\n' "$AXON_DEMO" --port "$2" --workers "$SOAK_WORKERS"; }
    [ "$SOAK_WORKERS" = 1 ] || SERVER_CPU=$SERVER_CPUS2
else
    # A peer: build what it needs (the nginx/h2o configs come from lib.sh).
    build_all >&2
fi

life=$((SOAK_SECS + 120))
if ! start_server "$SOAK_SERVER" "$SOAK_PORT" "$life"; then
    note "soak: $SOAK_SERVER did not start on port $SOAK_PORT$([ "$SOAK_SERVER" = axon ] && echo " ($AXON_DEMO --port $SOAK_PORT is not an HTTP server yet?); SOAK_SERVER=epoll or nginx checks the harness")"
    exit 1
fi
body=$(curl -s -m 3 "http://127.0.0.1:$SOAK_PORT/" 2>/dev/null) || true
if [ "$body" != "Hello, World!" ]; then
    note "soak: $SOAK_SERVER on port $SOAK_PORT does not answer GET / with Hello, World! (not an HTTP server yet?)"
    exit 1
fi
SERVER_DESC="$SOAK_SERVER ($(readlink "/proc/$SRV_PID/exe"))"
if [ "$SOAK_SERVER" = axon ]; then SERVER_DESC="Axon demo ($AXON_DEMO --workers $SOAK_WORKERS)"; fi

SAMPLES=$BUILD/bench/soak-samples.tsv
WRK_OUT=$OUT/logs/soak-wrk.out
printf 't_s\trss_kib\tfds\n' >"$SAMPLES"
date_start=$(date -u '+%Y-%m-%d %H:%M UTC')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
note "soak: $SERVER_DESC, $SOAK_CONNS connections, $SOAK_SECS s, a sample every $SOAK_SAMPLE s, warm-up $SOAK_WARM s"
taskset -c "$CLIENT_CPU" wrk -t1 -c"$SOAK_CONNS" -d"${SOAK_SECS}s" --latency -s bench/http/soak.lua \
    "http://127.0.0.1:$SOAK_PORT/" >"$WRK_OUT" 2>&1 &
WRK_PID=$!
t0=$(date +%s%N)
alive=1
while kill -0 "$WRK_PID" 2>/dev/null; do
    if ! kill -0 "$SRV_PID" 2>/dev/null; then
        alive=0
        note "soak: the server died"
        break
    fi
    t=$((($(date +%s%N) - t0) / 1000000000))
    printf '%s\t%s\t%s\n' "$t" "$(rss_kib "$SRV_PID")" "$(nfds "$SRV_PID")" >>"$SAMPLES"
    if [ $((t % 60)) -lt "$SOAK_SAMPLE" ]; then
        note "soak: ${t} s: RSS $(rss_kib "$SRV_PID") KiB, $(nfds "$SRV_PID") fds"
    fi
    sleep "$SOAK_SAMPLE"
done
wait "$WRK_PID" 2>/dev/null || true
WRK_PID=
kill -0 "$SRV_PID" 2>/dev/null || alive=0
t=$((($(date +%s%N) - t0) / 1000000000))
if [ $alive = 1 ]; then
    printf '%s\t%s\t%s\n' "$t" "$(rss_kib "$SRV_PID")" "$(nfds "$SRV_PID")" >>"$SAMPLES"
fi
stop_server

read -r req secs rps p50 p99 errs < <(wrk_parse "$WRK_OUT")
status=$(awk '/^soak_status/ { $1 = ""; print substr($0, 2) }' "$WRK_OUT")
summary=$(python3 - "$SAMPLES" "$SOAK_WARM" "$RSS_TOLERANCE" "$alive" <<'EOF'
import csv, sys
path, warm, tol, alive = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
rows = [(float(r["t_s"]), float(r["rss_kib"]), int(r["fds"])) for r in csv.DictReader(open(path), delimiter="\t")
        if r["rss_kib"] not in ("NA", "")]
after = [r for r in rows if r[0] >= warm]
if len(after) < 2:
    print("verdict=FAIL reason=too_few_samples_after_warm-up samples=%d" % len(rows))
    sys.exit()
base_t, base_rss, base_fd = after[0]
lo, hi = min(r[1] for r in after), max(r[1] for r in after)
dev = max(hi - base_rss, base_rss - lo) / base_rss
fd_max, fd_end = max(r[2] for r in after), after[-1][2]
rss_ok = dev <= tol
fd_ok = fd_max <= base_fd
ok = rss_ok and fd_ok and alive
print(f"verdict={'PASS' if ok else 'FAIL'} rss_ok={'yes' if rss_ok else 'NO'} fd_ok={'yes' if fd_ok else 'NO'} "
      f"alive={'yes' if alive else 'NO'} samples={len(rows)} warm_t={base_t:g} rss_first={rows[0][1]:g} "
      f"rss_base={base_rss:g} rss_min={lo:g} rss_max={hi:g} rss_end={after[-1][1]:g} rss_dev_pct={dev * 100:.2f} "
      f"fd_first={rows[0][2]} fd_base={base_fd} fd_max={fd_max} fd_end={fd_end}")
EOF
)
kvs() { local k=$1 w; for w in $summary; do [[ $w == "$k="* ]] && { echo "${w#*=}"; return; }; done; echo NA; }
verdict=$(kvs verdict)
note "soak: $summary"
note "soak: wrk: $req requests in $secs s ($rps req/s), p50 $p50 us, p99 $p99 us, socket errors/non-2xx $errs; $status"

section=$(cat <<EOF

## Soak (make soak)

- Command: \`SOAK_SECS=$SOAK_SECS make soak\` (\`bench/http/soak.sh\`), server: $SERVER_DESC.
  Date: $date_start. Load average at start: $load_start.
- Traffic: wrk, one thread on CPU $CLIENT_CPU, $SOAK_CONNS keep-alive connections, for
  $SOAK_SECS s, \`bench/http/soak.lua\`: GET /, GET /json, POST /echo (small body),
  GET /users/:id in turn. The server on CPU $SERVER_CPU.
- Every $SOAK_SAMPLE s: the server's RSS (\`/proc/PID/smaps_rollup\`) and open
  descriptors (\`/proc/PID/fd\`). Warm-up: the first $SOAK_WARM s. Flat means every
  sample after the warm-up within 5 % of the first one after it (RSS), and
  never more descriptors than that first one (fds).

| figure | value |
|---|---|
| result | **$verdict** (RSS flat: $(kvs rss_ok); fds flat: $(kvs fd_ok); server alive at the end: $(kvs alive)) |
| requests | $req in $secs s ($rps req/s); $status |
| socket errors + non-2xx/3xx (wrk) | $errs |
| latency p50 / p99 (wrk) | $p50 µs / $p99 µs |
| RSS, KiB: first sample / after warm-up / min / max / end | $(kvs rss_first) / $(kvs rss_base) / $(kvs rss_min) / $(kvs rss_max) / $(kvs rss_end) |
| RSS largest deviation after warm-up | $(kvs rss_dev_pct) % |
| descriptors: first / after warm-up / max / end | $(kvs fd_first) / $(kvs fd_base) / $(kvs fd_max) / $(kvs fd_end) |
| samples | $(kvs samples) (\`$SAMPLES\`) |
EOF
)
if [ "$DOCS" = 1 ]; then
    printf '%s\n' "$section" >"$OUT/soak-section.md"
    python3 -c 'import sys; sys.path.insert(0, "bench"); import http_report as h; h.splice(sys.argv[1], h.SOAK_HEADING, open(sys.argv[2]).read())' \
        "$DOCS_DIR/BENCHMARKS.md" "$OUT/soak-section.md"
    note "soak: wrote the Soak section of $DOCS_DIR/BENCHMARKS.md"
else
    printf '%s\n' "$section"
fi
[ "$verdict" = PASS ]
