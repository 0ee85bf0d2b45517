#!/usr/bin/env bash
# bench/fs/run.sh - file-system benchmark: Axon's fs API (whole-file calls
# and file handles) against tokio::fs, libuv's uv_fs_* and plain blocking C,
# side by side (issue 6). See bench/fs/README.md.
#
# Builds the peers into $BUILD/bench/fs/ (Axon's program through the
# Makefile), then runs ROUNDS rounds; each round runs every program
# alternately (in a fresh order each round):
#   sequential  write a MIB MiB file in BLOCK_KIB blocks and fdatasync it
#               (write throughput excludes the fdatasync, reported apart),
#               read it back warm (its pages are cached: it was just
#               written), evict it from the page cache, read it back cold;
#   small files N files of SIZE bytes in a fresh directory: create + write,
#               read, delete; ops/s of each phase; with each concurrency in
#               CONCS (tasks / in-flight request chains; plain C: 1 only).
# Cold reads: `echo 1 > /proc/sys/vm/drop_caches` when it is writable (root
# here), else posix_fadvise(POSIX_FADV_DONTNEED) on the file (fs_c evict);
# the method and the file's residency before each read are logged.
#
# Writes $BUILD/bench/fs-rounds.tsv (every run) and, through
# bench/fs_report.py, $BUILD/bench/fs.tsv (medians, min, max, ratios); with
# DOCS=1 (default when run alone) also replaces the file-system section of
# docs/BENCHMARKS.md and writes docs/bench-fs.png.
#
# Env: ROUNDS (3), MIB (1024), BLOCK_KIB (1024), N (10000), SIZE (4096),
# CONCS ("1 64"), FSBENCH_DIR (where the files go; default $BUILD/bench/fs/data;
# it needs MIB + 100 MiB free), COLD (auto | drop_caches | fadvise | none),
# PROGRAMS ("c c-whole uv tokio tokio-whole axon axon-whole"), BUILD (build), DOCS.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

ROUNDS=${ROUNDS:-3}
MIB=${MIB:-1024}
BLOCK_KIB=${BLOCK_KIB:-1024}
N=${N:-10000}
SIZE=${SIZE:-4096}
CONCS=${CONCS:-1 64}
COLD=${COLD:-auto}
PROGRAMS=${PROGRAMS:-c c-whole uv tokio tokio-whole axon axon-whole}
BUILD=${BUILD:-build}
DOCS=${DOCS:-1}
RUN_TIMEOUT=180
mkdir -p "$BUILD/bench/fs/logs" || exit 1
OUT=$(cd "$BUILD/bench/fs" && pwd) # absolute: cargo builds from its own folder
DIR=${FSBENCH_DIR:-$OUT/data}
mkdir -p "$DIR" || exit 1
DIR=$(cd "$DIR" && pwd)
SEQ=$DIR/axon-fsbench-seq.dat
LOG=$OUT/logs/run.log
: >"$LOG"

note() { printf 'fs-bench: %s\n' "$*" | tee -a "$LOG" >&2; }

find_cargo() {
    local c
    for c in "$(command -v cargo 2>/dev/null)" "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo /usr/bin/cargo; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

# --- space, cold-cache method ---------------------------------------------------
free_mib=$(df -Pm "$DIR" | awk 'NR == 2 { print $4 }')
if [ "${free_mib:-0}" -lt $((MIB + 100)) ]; then
    note "only ${free_mib:-?} MiB free in $DIR; need $((MIB + 100))"
    exit 1
fi
if [ "$COLD" = auto ]; then
    if [ -w /proc/sys/vm/drop_caches ] && (echo 1 >/proc/sys/vm/drop_caches) 2>/dev/null; then
        COLD=drop_caches
    else
        COLD=fadvise
    fi
fi

# --- build ----------------------------------------------------------------------
pkgs=(libuv1-dev librust-tokio-dev gnuplot-nox)
find_cargo >/dev/null || pkgs+=(cargo)
bash .ci/deps.sh "${pkgs[@]}" >&2 || note "could not install some of: ${pkgs[*]} (continuing)"
CFL=(-std=c11 -O2 -Wall -Wextra -Werror)
gcc "${CFL[@]}" bench/fs/fs_c.c -o "$OUT/fs_c" || { note "fs_c failed to build"; exit 1; }
if pkg-config --exists libuv; then
    # shellcheck disable=SC2046
    gcc "${CFL[@]}" bench/fs/fs_uv.c -o "$OUT/fs_uv" $(pkg-config --cflags --libs libuv) ||
        { note "fs_uv failed to build"; rm -f "$OUT/fs_uv"; }
else
    note "no libuv; skipping uv"; rm -f "$OUT/fs_uv"
fi
TOKIO_BIN=$OUT/tokio-target/release/axon-fs-tokio
RUST_VERSION=-
if cargo=$(find_cargo); then
    if (cd bench/fs/tokio && PATH="$(dirname "$cargo"):$PATH" CARGO_TARGET_DIR="$OUT/tokio-target" \
        "$cargo" build --release --offline --quiet) >&2; then
        RUST_VERSION=$(PATH="$(dirname "$cargo"):$PATH" rustc --version)
    else
        note "tokio peer failed to build; skipping tokio"; rm -f "$TOKIO_BIN"
    fi
else
    note "no cargo; skipping tokio"
fi
make --no-print-directory -j2 BUILD="$BUILD" "$BUILD/bench/fs/axon_fs" >&2 ||
    { note "axon_fs failed to build"; rm -f "$OUT/axon_fs"; }

# The command lines of each program: seq (+ " seqwrite|seqread FILE MIB BLK"
# inserted) and small (+ " DIR N SIZE CONC"), with a trailing API word.
seq_cmd() { # PROGRAM OP
    case $1 in
        c) echo "$OUT/fs_c $2 $SEQ $MIB $BLOCK_KIB" ;;
        c-whole) echo "$OUT/fs_c $2 $SEQ $MIB $BLOCK_KIB whole" ;;
        uv) echo "$OUT/fs_uv $2 $SEQ $MIB $BLOCK_KIB" ;;
        tokio) echo "$TOKIO_BIN $2 $SEQ $MIB $BLOCK_KIB handle" ;;
        tokio-whole) echo "$TOKIO_BIN $2 $SEQ $MIB $BLOCK_KIB whole" ;;
        axon) echo "$OUT/axon_fs $2 $SEQ $MIB $BLOCK_KIB handle" ;;
        axon-whole) echo "$OUT/axon_fs $2 $SEQ $MIB $BLOCK_KIB whole" ;;
    esac
}
# Small files go to a fresh directory per run under SMALL_ROOT. ext4 without
# a journal (as here) skips inodes freed in the last 30 s when it allocates
# one, scanning past each: in a directory whose block group saw thousands
# of deletes, a create cost 300 µs of CPU instead of 13. The T attribute
# (chattr +T) makes ext4 spread SMALL_ROOT's subdirectories over block
# groups as it does top-level directories, so each run starts afresh.
SMALL_ROOT=$DIR/axon-fsbench-small
small_cmd() { # PROGRAM CONC DIR; empty when the program has no such run
    local d=$3
    case $1 in
        c) [ "$2" = 1 ] && echo "$OUT/fs_c small $d $N $SIZE" ;;
        c-whole) ;; # the same calls as "c"
        uv) echo "$OUT/fs_uv small $d $N $SIZE $2" ;;
        tokio) echo "$TOKIO_BIN small $d $N $SIZE $2" ;; # tokio::fs::write / read / remove_file
        tokio-whole) ;;                                  # the same calls as "tokio"
        axon) echo "$OUT/axon_fs small $d $N $SIZE $2 handle" ;;
        axon-whole) echo "$OUT/axon_fs small $d $N $SIZE $2 whole" ;;
    esac
}

progs=()
for p in $PROGRAMS; do
    cmd=$(seq_cmd "$p" seqread)
    [ -n "$cmd" ] || { note "unknown program $p"; continue; }
    if [ -x "${cmd%% *}" ]; then progs+=("$p"); else note "missing ${cmd%% *}; skipping $p"; fi
done
[ ${#progs[@]} -gt 0 ] || { note "nothing to run"; exit 1; }

{
    echo "gcc: $(gcc --version | head -n1)"
    echo "libuv: $(pkg-config --modversion libuv 2>/dev/null || echo -) (Debian libuv1-dev; thread pool: UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-4 (default)})"
    tv=-
    lock=bench/fs/tokio/Cargo.lock
    [ -f "$lock" ] && tv=$(awk '/^name = "tokio"$/ { getline; gsub(/"/, "", $3); print $3 }' "$lock")
    echo "tokio: $tv (Debian librust-tokio-dev, offline); $RUST_VERSION"
    echo "kernel: $(uname -r); file system: $(findmnt -n -o FSTYPE,OPTIONS --target "$DIR" 2>/dev/null || echo ?)"
    echo "cold: $COLD"
} >"$OUT/versions.txt"
cat "$OUT/versions.txt" >&2

# --- running -------------------------------------------------------------------
RAW=$BUILD/bench/fs-rounds.tsv
printf 'program\tround\tconc\tmetric\tvalue\n' >"$RAW"
FAILED=0

resident() { # percentage of FILE's pages in the page cache
    fincore -b -n -o RES,SIZE "$1" 2>/dev/null | awk '{ printf "%.0f", $2 ? 100 * $1 / $2 : 0 }'
}

evict() {
    if [ "$COLD" = drop_caches ]; then
        sync "$SEQ" && echo 1 >/proc/sys/vm/drop_caches
    else
        "$OUT/fs_c" evict "$SEQ"
    fi
}

run() { # PROGRAM ROUND CONC CMD...: one run; its `<metric> <value>` lines go to RAW
    local p=$1 r=$2 c=$3 out rc t0
    shift 3
    t0=$(date +%s%N)
    out=$(timeout "$RUN_TIMEOUT" "$@" 2>>"$OUT/logs/$p.err")
    rc=$?
    if [ $rc -ne 0 ]; then
        note "round $r: $p failed (exit $rc): $*; see $OUT/logs/$p.err"
        FAILED=$((FAILED + 1))
        return 1
    fi
    awk -v p="$p" -v r="$r" -v c="$c" 'NF == 2 && $2 ~ /^[0-9.]+$/ { printf "%s\t%s\t%s\t%s\t%s\n", p, r, c, $1, $2 }' \
        <<<"$out" >>"$RAW"
    printf '%s round %s conc %s (%d ms): %s\n' "$p" "$r" "$c" $((($(date +%s%N) - t0) / 1000000)) \
        "$(tr '\n' ' ' <<<"$out")" >>"$LOG"
    return 0
}

rm -rf "$SMALL_ROOT"
mkdir -p "$SMALL_ROOT" || exit 1
if chattr +T "$SMALL_ROOT" 2>/dev/null; then SPREAD="chattr +T"; else SPREAD="none (chattr +T failed)"; fi
echo "small-file directories: one per run under a directory with ${SPREAD}" >>"$OUT/versions.txt"
trap 'rm -rf "$SEQ" "$SMALL_ROOT"; exit 130' INT TERM
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
note "$(date -u '+%F %T') UTC; load average: $LOAD_START; files in $DIR; cold reads by $COLD"
t_start=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    # A fresh order each round (a shuffle seeded by the round number, so a
    # rerun repeats it): rotating one order kept every program right after
    # the same one in every round, and so inheriting the same leftovers of
    # it (ext4's recently deleted inodes, writeback of its 10,000 deletes).
    mapfile -t order < <(printf '%s\n' "${progs[@]}" |
        awk -v seed="$r" 'BEGIN { srand(seed) } { printf "%.9f\t%s\n", rand(), $0 }' |
        sort -n | cut -f2)
    note "round $r order: ${order[*]}"
    for p in "${order[@]}"; do
        # Every timed write overwrites (O_TRUNC) a file just written and
        # synced by plain C, so the page-cache pages it fills are ones the
        # guest has just used. Pages left idle for seconds are reclaimed
        # (kdamond runs here) and handed back to the host, and writing into
        # them ran 3-10x slower, at random: that measured the VM, not the
        # program.
        "$OUT/fs_c" seqwrite "$SEQ" "$MIB" "$BLOCK_KIB" >/dev/null 2>&1
        # shellcheck disable=SC2046 # the command is words
        if run "$p" "$r" 1 $(seq_cmd "$p" seqwrite); then
            warm=$(resident "$SEQ")
            run "$p" "$r" 1 $(seq_cmd "$p" seqread)
            evict
            cold=$(resident "$SEQ")
            # A cold read is a run of its own: its metric is renamed.
            if out=$(timeout "$RUN_TIMEOUT" $(seq_cmd "$p" seqread) 2>>"$OUT/logs/$p.err"); then
                awk -v p="$p" -v r="$r" '$1 == "seq_read_mbps" { printf "%s\t%s\t1\tseq_read_cold_mbps\t%s\n", p, r, $2 }' \
                    <<<"$out" >>"$RAW"
                echo "$p round $r: cold read $(tr '\n' ' ' <<<"$out")(resident before: warm $warm %, cold $cold %)" >>"$LOG"
            else
                note "round $r: $p cold read failed"; FAILED=$((FAILED + 1))
            fi
        fi
        rm -f "$SEQ"
    done
    for c in $CONCS; do
        for p in "${order[@]}"; do
            cmd=$(small_cmd "$p" "$c" "$SMALL_ROOT/r$r-$p-c$c")
            [ -n "$cmd" ] || continue
            # shellcheck disable=SC2086
            run "$p" "$r" "$c" $cmd
        done
    done
    note "round $r/$ROUNDS done ($(($(date +%s) - t_start)) s)"
done
rm -rf "$SEQ" "$SMALL_ROOT"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
note "done in $(($(date +%s) - t_start)) s; load average: $LOAD_END; $FAILED failed runs"

# What the report states about this run (read by bench/fs_report.py).
{
    echo "command=${FS_BENCH_COMMAND:-bench/fs/run.sh}"
    echo "params=ROUNDS=$ROUNDS MIB=$MIB BLOCK_KIB=$BLOCK_KIB N=$N SIZE=$SIZE CONCS=\"$CONCS\" FSBENCH_DIR=$DIR COLD=$COLD"
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "load_start=$LOAD_START"
    echo "load_end=$LOAD_END"
    echo "cold=$COLD"
    echo "seconds=$(($(date +%s) - t_start))"
    echo "failed=$FAILED"
    echo "n=$N"
    echo "size=$SIZE"
    echo "mib=$MIB"
    echo "block_kib=$BLOCK_KIB"
} >"$OUT/meta.txt"
python3 bench/fs_report.py "$RAW" "$BUILD/bench/fs.tsv" "$OUT" "$([ "$DOCS" = 1 ] && echo docs)"
