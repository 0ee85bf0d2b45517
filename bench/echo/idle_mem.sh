#!/usr/bin/env bash
# bench/echo/idle_mem.sh - resident memory per idle connection for each echo
# server (Axon when build/examples/echo exists, epoll_echo, libuv, Go, tokio).
#
# For each server and round: start it (one worker, pinned to SERVER_CPU, the
# open-file limit raised to the hard limit), read its RSS, let the load
# client - a separate process, since each side holds N descriptors and the
# hard limit is 20,000 - open N connections and hold them, wait until the
# server holds N more descriptors (all accepted), let it settle, read the RSS
# again and report (after - before) / N in KiB. RSS is Rss from
# /proc/PID/smaps_rollup (VmRSS when that is missing).
#
# Two modes (MODES): "idle" - connect and send nothing; "ping" - one 64-byte
# round trip per connection first, so whatever a server allocates on the
# first read (buffers, a grown stack) is counted too.
#
# Prints a table (median and min–max over ROUNDS) and writes
# $BUILD/bench/echo-idle.tsv.
# Env: N (10000), ROUNDS (3), MODES ("idle ping"), SERVERS, PORT (19500),
# SERVER_CPU (0), CLIENT_CPU (1), SETTLE seconds (1), BUILD, AXON_ECHO.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

N=${N:-10000}
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-idle ping}
SERVERS=${SERVERS:-axon epoll uv go tokio}
PORT=${PORT:-19500}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SETTLE=${SETTLE:-1}
# shellcheck source=bench/echo/lib.sh
. bench/echo/lib.sh

CL_PID=
stop_client() {
    [ -n "$CL_PID" ] || return 0
    kill -TERM "$CL_PID" 2>/dev/null
    wait "$CL_PID" 2>/dev/null
    CL_PID=
}
trap 'stop_client; stop_server' EXIT
trap 'stop_client; stop_server; exit 130' INT TERM

hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null
if [ "$hard" != unlimited ] && [ "$N" -gt $((hard - 100)) ]; then
    note "N=$N is more than the open-file hard limit ($hard) allows"; exit 1
fi

build_all || exit 1
versions | tee "$OUT/versions.txt" >&2

rss_kib() { # Rss of PID in KiB
    local v
    v=$(awk '/^Rss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null)
    [ -n "$v" ] || v=$(awk '/^VmRSS:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null)
    echo "${v:-NA}"
}
nfds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

RAW=$BUILD/bench/echo-idle-rounds.tsv
printf 'mode\tserver\tround\tconns\trss_before_kib\trss_after_kib\tkib_per_conn\n' >"$RAW"
hold=$((60 + N / 500)) # the client lets go on its own after this many seconds
for mode in $MODES; do
    ping=()
    [ "$mode" = ping ] && ping=(--ping)
    for ((r = 1; r <= ROUNDS; r++)); do
        i=0
        for s in $SERVERS; do
            port=$((PORT + i)); i=$((i + 1))
            bin=$(server_bin "$s") || continue
            [ -x "$bin" ] || { [ "$r" = 1 ] && note "missing $bin; skipping $s"; continue; }
            start_server "$s" "$port" "$SERVER_CPU" $((hold + 60)) || continue
            sleep 0.3
            before=$(rss_kib "$SRV_PID") fd0=$(nfds "$SRV_PID")
            ready=$OUT/idle-client.out
            : >"$ready"
            timeout $((hold + 10)) taskset -c "$CLIENT_CPU" "$OUT/load" -H 127.0.0.1 -p "$port" \
                --idle "$N" "${ping[@]}" -d "$hold" >"$ready" 2>>"$OUT/logs/load.log" &
            CL_PID=$!
            got=
            for ((t = 0; t < 1200; t++)); do # up to 60 s
                if grep -q '^ready' "$ready"; then got=$(awk '{ print $2 }' "$ready"); break; fi
                kill -0 "$CL_PID" 2>/dev/null || break
                sleep 0.05
            done
            accepted=0
            if [ "$got" = "$N" ]; then
                for ((t = 0; t < 600; t++)); do # up to 30 s for the server to accept them all
                    [ "$(nfds "$SRV_PID")" -ge $((fd0 + N)) ] && { accepted=1; break; }
                    sleep 0.05
                done
            fi
            if [ $accepted = 1 ]; then
                sleep "$SETTLE"
                after=$(rss_kib "$SRV_PID")
                per=$(awk -v a="$after" -v b="$before" -v n="$N" 'BEGIN { printf "%.3f", (a - b) / n }')
                note "$mode round $r/$ROUNDS $s: RSS $before -> $after KiB, $per KiB/conn"
            else
                after=NA per=NA
                note "$mode round $r/$ROUNDS $s: only ${got:-0} connected, $(($(nfds "$SRV_PID") - fd0)) accepted of $N (server pid $SRV_PID, $fd0 fds before)"
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$s" "$r" "$N" "$before" "$after" "$per" >>"$RAW"
            stop_client
            stop_server
        done
    done
done

python3 - "$RAW" "$BUILD/bench/echo-idle.tsv" "$SERVERS" "$N" "$ROUNDS" <<'EOF'
import csv, statistics, sys
raw, out, servers, n, rounds = sys.argv[1:6]
label = {"axon": "Axon", "epoll": "epoll_echo", "uv": "libuv", "go": "Go", "tokio": "tokio"}
rows = list(csv.DictReader(open(raw), delimiter="\t"))
modes = []
for r in rows:
    if r["mode"] not in modes:
        modes.append(r["mode"])
def vals(m, s, k):
    v = []
    for r in rows:
        if r["mode"] == m and r["server"] == s:
            try: v.append(float(r[k]))
            except ValueError: pass
    return v
desc = {"idle": "connected, nothing sent", "ping": "after one 64-byte echo each"}
print(f"\nResident memory per idle connection, {n} connections, median (min–max) of {rounds} rounds, KiB/conn")
print("| server | " + " | ".join(f"{m}: {desc.get(m, m)}" for m in modes) + " | RSS before, KiB |")
print("|---|" + "---|" * len(modes) + "---|")
tsv = [["server"] + [f"{m}_kib_per_conn_{q}" for m in modes for q in ("median", "min", "max")] + ["rss_before_kib_median"]]
for s in servers.split():
    cells, t = [], [s]
    for m in modes:
        v = vals(m, s, "kib_per_conn")
        if v:
            cells.append(f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})")
            t += [f"{statistics.median(v):g}", f"{min(v):g}", f"{max(v):g}"]
        else:
            cells.append("-"); t += ["-", "-", "-"]
    b = [x for m in modes for x in vals(m, s, "rss_before_kib")]
    bm = f"{statistics.median(b):,.0f}" if b else "-"
    print(f"| {label.get(s, s)} | " + " | ".join(cells) + f" | {bm} |")
    tsv.append(t + [f"{statistics.median(b):g}" if b else "-"])
with open(out, "w") as f:
    for t in tsv:
        f.write("\t".join(t) + "\n")
print(f"\nwrote {out}")
EOF
