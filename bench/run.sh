#!/usr/bin/env bash
# bench/run.sh - Axon's benchmarks side by side with tokio and Go.
#
# `make bench` builds build/bench/axon_* and then runs this. It builds the
# peers offline (bench/peers/), runs every program ALTERNATELY round by round,
# and hands the per-round medians to bench/report.py, which prints the
# tables, writes build/bench/core.tsv and sched.tsv and regenerates
# docs/BENCHMARKS.md, docs/bench-core.png and docs/bench-sched.png.
#
# Four suites:
#   core   one worker, each program pinned to CPU (taskset -c CPU);
#   echo   the TCP echo benchmark of issue 4 (bench/echo/: Axon's echo
#          example against a hand-written epoll echo, libuv, Go and tokio,
#          and resident memory per idle connection), about 15 minutes;
#   fs     the file benchmark of issue 6 (bench/fs/run.sh: Axon's fs API
#          against tokio::fs, libuv and plain C; sequential 1 GiB and
#          small files), about 3 minutes; run alone (SUITES=fs) it
#          rewrites only its own section of docs/BENCHMARKS.md;
#   sched  the scheduler benchmarks of issue 3, each program run with 1
#          worker (pinned to CPU) and with 2 workers (pinned to CPUS2, which
#          must hold two CPUs: a 2-worker run squeezed onto one CPU would
#          measure nothing).
#   http   the HTTP benchmark of issue 8 (bench/http/run.sh: Axon's demo
#          server against a hand-written epoll responder, nginx, h2o, Go and
#          hyper; pipelined req/s, CPU per request, latency, memory per idle
#          keep-alive connection, and the client benchmark), about 4 minutes.
#   tls    the TLS benchmark of issue 7 (bench/tls/run.sh: Axon's TLS echo
#          against a minimal BoringSSL server and nginx, on Debian's shared
#          BoringSSL and on the static build of STATIC_BORINGSSL=1; full and
#          resumed handshakes, bulk, server CPU, crypto speeds), about 15
#          minutes (plus building BoringSSL the first time); alone
#          (SUITES=tls) it rewrites only its own section of docs/BENCHMARKS.md.
#
# A missing toolchain or binary skips that program (the table shows "-");
# only a harness error fails the run.
# Env: ROUNDS (5), CPU to pin 1-worker runs to (0), CPUS2 for 2-worker runs
# (0,1), BUILD (build), DOCS=0 leaves docs/ alone, SUITES ("core sched echo fs
# http tls"). docs/BENCHMARKS.md is regenerated whole only by a run with both
# core and sched; a run without them but with fs or http replaces only that
# suite's section (`make bench SUITES=http`). The fs suite's variables (MIB,
# N, FSBENCH_DIR, ...) are in bench/fs/run.sh.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

ROUNDS=${ROUNDS:-5}
CPU=${CPU:-0}
CPUS2=${CPUS2:-0,1}
SUITES=${SUITES:-core sched echo fs http tls}
BUILD=${BUILD:-build}
DOCS=${DOCS:-1}
RUN_TIMEOUT=180 # seconds; a hung runtime must not hang `make bench`
mkdir -p "$BUILD/bench/peers"
OUT=$(cd "$BUILD/bench" && pwd) # absolute: the peers build from their own folders

note() { printf 'bench: %s\n' "$*" >&2; }

# --- toolchains ---------------------------------------------------------------
find_cargo() {
    local c
    for c in "$(command -v cargo 2>/dev/null)" "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo /usr/bin/cargo; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

# Debian packages the peers and the chart need; .ci/deps.sh installs the
# missing ones as root. Debian's cargo only when no cargo is found at all.
pkgs=(golang-go librust-tokio-dev gnuplot-nox)
find_cargo >/dev/null || pkgs+=(cargo)
bash .ci/deps.sh "${pkgs[@]}" >&2 || note "could not install some of: ${pkgs[*]} (continuing)"

TOKIO_BIN=$OUT/peers/tokio/release/axon-peer-tokio
GO_BIN=$OUT/peers/axon-peer-go

if CARGO=$(find_cargo); then
    # The rustc beside this cargo, not whichever comes first on PATH.
    # cargo reads .cargo/config.toml (the offline Debian registry) from the
    # working directory, so build from inside the crate.
    if (cd bench/peers/tokio && PATH="$(dirname "$CARGO"):$PATH" CARGO_TARGET_DIR="$OUT/peers/tokio" \
        "$CARGO" build --release --offline --quiet) >&2; then
        RUST_VERSION="$(PATH="$(dirname "$CARGO"):$PATH" rustc --version), $("$CARGO" --version)"
    else
        note "tokio peer failed to build; skipping tokio"
        rm -f "$TOKIO_BIN"
    fi
else
    note "no cargo found; skipping tokio"
fi

if command -v go >/dev/null; then
    if ! (cd bench/peers/go && GOFLAGS="" GOPROXY=off GO111MODULE=off \
        go build -o "$GO_BIN" main.go sched.go) >&2; then
        note "Go peer failed to build; skipping Go"
        rm -f "$GO_BIN"
    fi
else
    note "no go found; skipping Go"
fi

# --- the programs, in the order each round runs them ----------------------------
names=(axon axon-fiber axon-wheel tokio tokio-mt go)
cmds=("$OUT/axon_core" "$OUT/axon_fiber_switch" "$OUT/axon_timer_wheel"
      "$TOKIO_BIN ct" "$TOKIO_BIN mt" "env GOMAXPROCS=1 $GO_BIN")
active=()
for i in "${!names[@]}"; do
    bin=${cmds[$i]#env GOMAXPROCS=1 }
    bin=${bin%% *}
    if [ -x "$bin" ]; then active+=("$i"); else note "missing $bin; skipping ${names[$i]}"; fi
done
[ ${#active[@]} -gt 0 ] || { note "nothing to run"; exit 1; }

# --- rounds ------------------------------------------------------------------------
# run_one NAME RAW ROUND CPUS OUTFILE CMD...: runs one program, appends its
# figures to RAW as program/round/metric/value rows.
run_one() {
    local name=$1 raw=$2 r=$3 cpus=$4 out=$5
    shift 5
    local t0 rc
    t0=$(date +%s%N)
    timeout "$RUN_TIMEOUT" taskset -c "$cpus" "$@" >"$out" 2>"${out%.out}.err"
    rc=$?
    if [ $rc -ne 0 ]; then
        note "round $r: $name failed (exit $rc); last lines of its stderr:"
        tail -n 5 "${out%.out}.err" >&2
        return
    fi
    # "<metric> <median> [min max]", or "<metric> <qualifier> <median> ...".
    awk -v p="$name" -v r="$r" '
        NF >= 2 { m = $1; v = $2
                  if (v !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/) { m = m "[" $2 "]"; v = $3 }
                  if (v ~ /^-?[0-9.]/) printf "%s\t%s\t%s\t%s\n", p, r, m, v }' \
        "$out" >>"$raw"
    note "round $r/$ROUNDS: $(basename "${out%.out}") ($((($(date +%s%N) - t0) / 1000000)) ms)"
}

RAW=$OUT/core-rounds.tsv
printf 'program\tround\tmetric\tvalue\n' >"$RAW"
start=$(date +%s)
BENCH_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
core_rounds=$ROUNDS
[[ " $SUITES " == *" core "* ]] || core_rounds=0
for ((r = 1; r <= core_rounds; r++)); do
    for i in "${active[@]}"; do
        # shellcheck disable=SC2086 # cmds hold a program and its arguments
        run_one "${names[$i]}" "$RAW" "$r" "$CPU" "$OUT/${names[$i]}.out" ${cmds[$i]}
    done
done
BENCH_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export BENCH_LOAD_START BENCH_LOAD_END
note "core rounds took $(($(date +%s) - start)) s"

# Scheduler suite: each program with 1 worker (pinned to CPU), then with 2
# (pinned to CPUS2), alternating programs within each round.
snames=(axon tokio go)
scmds=("$OUT/axon_sched" "$TOKIO_BIN sched" "$GO_BIN sched")
sactive=()
for i in "${!snames[@]}"; do
    bin=${scmds[$i]%% *}
    if [ -x "$bin" ]; then sactive+=("$i"); else note "missing $bin; skipping ${snames[$i]} (scheduler)"; fi
done
SRAW=$OUT/sched-rounds.tsv
printf 'program\tround\tmetric\tvalue\n' >"$SRAW"
sstart=$(date +%s)
BENCH_SCHED_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
sched_rounds=$ROUNDS
[[ " $SUITES " == *" sched "* ]] || sched_rounds=0
for ((r = 1; r <= sched_rounds; r++)); do
    for w in 1 2; do
        cpus=$CPU
        [ "$w" = 2 ] && cpus=$CPUS2
        for i in "${sactive[@]}"; do
            # shellcheck disable=SC2086
            run_one "${snames[$i]}" "$SRAW" "$r" "$cpus" "$OUT/sched-${snames[$i]}-w$w.out" ${scmds[$i]} "$w"
        done
    done
done
BENCH_SCHED_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
export BENCH_SCHED_LOAD_START BENCH_SCHED_LOAD_END
note "scheduler rounds took $(($(date +%s) - sstart)) s; all rounds $(($(date +%s) - start)) s"

# --- report --------------------------------------------------------------------------
export BENCH_COMMAND="ROUNDS=$ROUNDS CPU=$CPU CPUS2=$CPUS2 make bench"
export BENCH_RUST="${RUST_VERSION:-not built}"
BENCH_GO=$([ -x "$GO_BIN" ] && go version || echo 'not built')
BENCH_CC=$(${CC:-gcc} --version | head -n 1)
export BENCH_GO BENCH_CC
# The echo suite (issue 4): bench/echo/run.sh and idle_mem.sh write their
# summaries to $BUILD/bench/echo*.tsv, which report.py folds into the docs
# (or, in a run without core and sched, echo_report.py alone).
if [[ " $SUITES " == *" echo "* ]]; then
    rm -f "$OUT/echo.tsv" "$OUT/echo-idle.tsv"
    BUILD=$BUILD bash bench/echo/run.sh || note "echo benchmark failed"
    BUILD=$BUILD bash bench/echo/idle_mem.sh || note "idle-memory benchmark failed"
    # Without core and sched there is no full regeneration to fold it in.
    if [ "$DOCS" = 1 ] && [[ " $SUITES " != *" core "* || " $SUITES " != *" sched "* ]]; then
        python3 bench/echo_report.py "$BUILD" docs/BENCHMARKS.md || note "echo section not written"
    fi
fi
# The fs suite (issue 6): bench/fs/run.sh writes $BUILD/bench/fs.tsv, and
# the HTTP suite (issue 8): bench/http/run.sh writes $BUILD/bench/http-*; a
# full regeneration below folds them in (bench/fs_report.py,
# bench/http_report.py), otherwise each replaces its own section of
# docs/BENCHMARKS.md itself.
FULL_DOCS=$DOCS
[[ " $SUITES " == *" core "* && " $SUITES " == *" sched "* ]] || FULL_DOCS=0
if [[ " $SUITES " == *" fs "* ]]; then
    rm -f "$OUT/fs.tsv"
    fs_docs=0
    [ "$DOCS" = 1 ] && [ "$FULL_DOCS" = 0 ] && fs_docs=1
    FS_BENCH_COMMAND="${FS_BENCH_COMMAND:-make bench SUITES=\"$SUITES\"}" BUILD=$BUILD DOCS=$fs_docs \
        bash bench/fs/run.sh || note "fs benchmark failed"
fi
if [[ " $SUITES " == *" http "* ]]; then
    http_docs=0
    [ "$DOCS" = 1 ] && [ "$FULL_DOCS" = 0 ] && http_docs=1
    BUILD=$BUILD DOCS=$http_docs HTTP_VIA="make bench SUITES=\"$SUITES\"" \
        bash bench/http/run.sh || note "HTTP benchmark failed"
fi
if [[ " $SUITES " == *" tls "* ]]; then
    tls_docs=0
    [ "$DOCS" = 1 ] && [ "$FULL_DOCS" = 0 ] && tls_docs=1
    BUILD=$BUILD DOCS=$tls_docs TLS_VIA="make bench SUITES=\"$SUITES\"" ROUNDS=$ROUNDS \
        bash bench/tls/run.sh || note "TLS benchmark failed"
fi
DOCS=$FULL_DOCS
export BUILD
python3 bench/report.py "$RAW" "$OUT/core.tsv" "$([ "$DOCS" = 1 ] && echo docs)" "$SRAW" "$OUT/sched.tsv"
