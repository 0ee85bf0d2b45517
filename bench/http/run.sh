#!/usr/bin/env bash
# bench/http/run.sh - the HTTP benchmark of issue 8: Axon's demo server
# against a hand-written epoll responder, nginx, h2o, Go net/http and hyper,
# side by side in one run. See bench/http/README.md.
#
# Three parts (PARTS):
#   load    wrk against every server, ALTERNATING servers round by round
#           (ROUNDS), each round a fresh server: 16-deep pipelined req/s
#           (pipeline.lua), and without pipelining at 64 and 256 connections
#           req/s, p50/p99 latency and the server's CPU time per request
#           (utime+stime of its process tree from /proc before and after the
#           wrk run, over the requests wrk completed). Server pinned to
#           SERVER_CPU, wrk (one thread) to CLIENT_CPU; axon2 (2 workers)
#           runs on SERVER_CPUS2 and so competes with wrk.
#   idle    resident memory per idle keep-alive connection: idle_client (a
#           separate process) opens IDLE_N connections, one request and
#           response on each, then holds them; (RSS after - RSS before) / N.
#   client  the client benchmark: CLIENT_REQS requests over CLIENT_CONNS
#           keep-alive connections against one server (CLIENT_SERVER: epoll
#           or nginx) with Go's net/http client, hyper's client, and Axon's
#           client when there is one (otherwise its slot says why not).
#
# Writes $BUILD/bench/http-{load,idle,client}-rounds.tsv (every run) and
# http-meta.txt (date, command, versions), then bench/http_report.py prints
# the tables, writes $BUILD/bench/http.tsv and, unless DOCS=0, regenerates
# the HTTP section of docs/BENCHMARKS.md and docs/bench-http.png.
#
# Env: ROUNDS (5), DUR seconds per wrk run (1; whole seconds), TESTS ("pipe:/ pipe:/json
# c64:/ c64:/json c256:/"), DEPTH (16), SERVERS ("axon axon2 epoll nginx h2o
# go hyper"), PORT (19600: servers use PORT..PORT+9, idle PORT+10.., client
# PORT+20, the Axon probe PORT+30), IDLE_N (10000), IDLE_ROUNDS (1), SETTLE
# (1), CLIENT_ROUNDS (5), CLIENT_REQS (1000), CLIENT_CONNS (64),
# CLIENT_SERVER (epoll), SERVER_CPU (0), SERVER_CPUS2 (0,1), CLIENT_CPU (1),
# BUILD (build), AXON_DEMO ($BUILD/examples/demo), DOCS (1; 0 leaves docs
# alone), DOCS_DIR (docs), PARTS ("load idle client"), HTTP_VIA (what the
# report names as the command after the settings given: bench/http/run.sh).
# A missing server is skipped; its rows say so.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The settings given through the environment, for the command the report quotes.
given=()
for v in ROUNDS DUR TESTS DEPTH SERVERS PORT IDLE_N IDLE_ROUNDS SETTLE CLIENT_ROUNDS CLIENT_REQS \
    CLIENT_CONNS CLIENT_SERVER SERVER_CPU SERVER_CPUS2 CLIENT_CPU AXON_DEMO PARTS; do
    if [ -n "${!v+x}" ]; then
        if [[ ${!v} == *[[:space:]]* ]]; then given+=("$v=\"${!v}\""); else given+=("$v=${!v}"); fi
    fi
done

ROUNDS=${ROUNDS:-5}
DUR=${DUR:-1}
TESTS=${TESTS:-pipe:/ pipe:/json c64:/ c64:/json c256:/}
DEPTH=${DEPTH:-16}
SERVERS=${SERVERS:-axon axon2 epoll nginx h2o go hyper}
PORT=${PORT:-19600}
IDLE_N=${IDLE_N:-10000}
IDLE_ROUNDS=${IDLE_ROUNDS:-1}
SETTLE=${SETTLE:-1}
CLIENT_ROUNDS=${CLIENT_ROUNDS:-5}
CLIENT_REQS=${CLIENT_REQS:-1000}
CLIENT_CONNS=${CLIENT_CONNS:-64}
CLIENT_SERVER=${CLIENT_SERVER:-epoll}
DOCS=${DOCS:-1}
DOCS_DIR=${DOCS_DIR:-docs}
PARTS=${PARTS:-load idle client}
# shellcheck source=bench/http/lib.sh
. bench/http/lib.sh

CL_PID=
stop_client() {
    [ -n "$CL_PID" ] || return 0
    kill -TERM "$CL_PID" 2>/dev/null || true
    wait "$CL_PID" 2>/dev/null || true
    CL_PID=
}
cleanup() {
    stop_client
    stop_server
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true

t_start=$(date +%s)
build_all
detect_axon $((PORT + 30)) || true
note "axon: $AXON_STATUS"
note "axon client: $AXON_CLIENT_STATUS"

# The servers that can run; the others are noted (and the report says "not built").
active=()
for s in $SERVERS; do
    case $s in
        axon | axon2)
            if [ "$AXON_STATUS" = ok ]; then active+=("$s"); else note "skipping $s: $AXON_STATUS"; fi
            ;;
        *)
            bin=$(server_bin "$s") || { note "unknown server $s"; continue; }
            if [ -x "$bin" ]; then active+=("$s"); else note "missing $bin; skipping $s"; fi
            ;;
    esac
done

META=$BUILD/bench/http-meta.txt
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "command: ${given[*]+${given[*]} }${HTTP_VIA:-bench/http/run.sh}"
    echo "servers: $SERVERS"
    echo "active: ${active[*]}"
    echo "parts: $PARTS"
    echo "tests: $TESTS"
    echo "depth: $DEPTH"
    echo "dur: $DUR"
    echo "rounds: $ROUNDS"
    echo "server_cpu: $SERVER_CPU"
    echo "server_cpus2: $SERVER_CPUS2"
    echo "client_cpu: $CLIENT_CPU"
    echo "idle_n: $IDLE_N"
    echo "idle_rounds: $IDLE_ROUNDS"
    echo "client_reqs: $CLIENT_REQS"
    echo "client_conns: $CLIENT_CONNS"
    echo "client_rounds: $CLIENT_ROUNDS"
    echo "client_server: $CLIENT_SERVER"
    echo "axon_bin: $AXON_DEMO"
    echo "axon_client: $AXON_CLIENT_STATUS"
    echo "machine: $(nproc) CPUs, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(uname -sr)"
    echo "load_start: $(cut -d' ' -f1-3 /proc/loadavg)"
    versions | sed 's/^/version /'
} >"$META"
sed -n 's/^version //p' "$META" >&2

has_part() { [[ " $PARTS " == *" $1 "* ]]; }

# --- load: pipelined req/s, CPU per request, latency ---------------------------
LOAD=$BUILD/bench/http-load-rounds.tsv
printf 'test\tpath\tserver\tround\trequests\tsecs\trps\tp50_us\tp99_us\tcpu_ns_per_req\terrors\n' >"$LOAD"
ntests=$(wc -w <<<"$TESTS")
life=$((ntests * (DUR + 15) + 30))
if has_part load && [ ${#active[@]} -gt 0 ]; then
    for ((r = 1; r <= ROUNDS; r++)); do
        n=${#active[@]}
        for ((k = 0; k < n; k++)); do
            # A different server goes first each round.
            s=${active[$(((k + r - 1) % n))]}
            port=$((PORT + $(((k + r - 1) % n))))
            if ! start_server "$s" "$port" "$life"; then
                for t in $TESTS; do
                    printf '%s\t%s\t%s\t%s\tNA\tNA\tNA\tNA\tNA\tNA\tstart-failed\n' "${t%%:*}" "${t#*:}" "$s" "$r" >>"$LOAD"
                done
                continue
            fi
            for t in $TESTS; do
                kind=${t%%:*} path=${t#*:}
                wout=$OUT/logs/wrk-$s-$kind-${path//\//_}.out
                case $kind in
                    pipe) args=(-t1 -c64 -d"${DUR}s" -s bench/http/pipeline.lua "http://127.0.0.1:$port$path" -- "$DEPTH" "$path") ;;
                    c[0-9]*) args=(-t1 -c"${kind#c}" -d"${DUR}s" --latency "http://127.0.0.1:$port$path") ;;
                    *) note "unknown test $t"; continue ;;
                esac
                t0=$(proc_ticks "$SRV_PID")
                read -r req secs rps p50 p99 errs < <(wrk_run "$wout" "${args[@]}")
                t1=$(proc_ticks "$SRV_PID")
                cpu=NA
                if [ "$req" != NA ] && [ "$req" -gt 0 ]; then
                    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" -v n="$req" 'BEGIN { printf "%.1f", (b - a) * 1e9 / hz / n }')
                fi
                if [ "$kind" = pipe ]; then p50=NA p99=NA; fi # wrk's latency is void when pipelining
                if ! kill -0 "$SRV_PID" 2>/dev/null; then
                    note "$s died during $t (round $r)"
                    errs=died
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$path" "$s" "$r" \
                    "$req" "$secs" "$rps" "$p50" "$p99" "$cpu" "$errs" >>"$LOAD"
                note "round $r/$ROUNDS $s $t: $rps req/s, p50 $p50 us, p99 $p99 us, $cpu ns CPU/req, errors $errs"
                if [ "$errs" = died ]; then break; fi
            done
            stop_server
        done
    done
fi

# --- idle: resident memory per idle keep-alive connection -------------------------
IDLE=$BUILD/bench/http-idle-rounds.tsv
printf 'server\tround\tconns\trss_before_kib\trss_after_kib\tkib_per_conn\n' >"$IDLE"
if has_part idle; then
    if [ "$hard" != unlimited ] && [ "$IDLE_N" -gt $((hard - 100)) ]; then
        note "IDLE_N=$IDLE_N is more than the open-file hard limit ($hard) allows; skipping idle"
    else
        hold=$((60 + IDLE_N / 500))
        for ((r = 1; r <= IDLE_ROUNDS; r++)); do
            i=0
            for s in "${active[@]}"; do
                if [ "$s" = axon2 ]; then continue; fi # one worker is the figure
                port=$((PORT + 10 + i))
                i=$((i + 1))
                start_server "$s" "$port" $((hold + 60)) || continue
                sleep 0.3
                before=$(rss_kib "$SRV_PID") fd0=$(nfds "$SRV_PID")
                ready=$OUT/idle-client.out
                : >"$ready"
                timeout $((hold + 10)) taskset -c "$CLIENT_CPU" "$OUT/idle_client" -p "$port" -n "$IDLE_N" \
                    -d "$hold" >"$ready" 2>>"$OUT/logs/idle_client.log" &
                CL_PID=$!
                got=
                for ((t = 0; t < 1400; t++)); do # up to 70 s
                    if grep -q '^ready' "$ready"; then got=$(awk '{ print $2 }' "$ready"); break; fi
                    grep -q '^failed' "$ready" && break
                    kill -0 "$CL_PID" 2>/dev/null || break
                    sleep 0.05
                done
                accepted=0
                if [ "$got" = "$IDLE_N" ]; then
                    for ((t = 0; t < 600; t++)); do # up to 30 s for the server to hold them all
                        if [ "$(nfds "$SRV_PID")" -ge $((fd0 + IDLE_N)) ]; then accepted=1; break; fi
                        sleep 0.05
                    done
                fi
                if [ $accepted = 1 ]; then
                    sleep "$SETTLE"
                    after=$(rss_kib "$SRV_PID")
                    per=$(awk -v a="$after" -v b="$before" -v n="$IDLE_N" 'BEGIN { printf "%.3f", (a - b) / n }')
                    note "idle round $r/$IDLE_ROUNDS $s: RSS $before -> $after KiB, $per KiB/conn"
                else
                    after=NA per=NA
                    note "idle round $r/$IDLE_ROUNDS $s: client says '$(head -c 200 "$ready")', $(($(nfds "$SRV_PID") - fd0)) more fds in the server"
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$r" "$IDLE_N" "$before" "$after" "$per" >>"$IDLE"
                stop_client
                stop_server
            done
        done
    fi
fi

# --- client: Go, hyper and Axon clients against one server -----------------------------
CLIENT=$BUILD/bench/http-client-rounds.tsv
printf 'client\tround\treqs\tsecs\trps\tp50_us\tp95_us\tp99_us\terrors\n' >"$CLIENT"
if has_part client; then
    cport=$((PORT + 20))
    if start_server "$CLIENT_SERVER" "$cport" $((CLIENT_ROUNDS * 200 + 60)); then
        declare -A cbin=([go]="$OUT/go_client -url" [hyper]="$HYPER_DIR/client --url" [axon]="$OUT/axon_client --url")
        for ((r = 1; r <= CLIENT_ROUNDS; r++)); do
            for c in go hyper axon; do
                read -r bin flag <<<"${cbin[$c]}"
                if [ ! -x "$bin" ]; then
                    if [ "$r" = 1 ]; then
                        if [ "$c" = axon ]; then note "client axon: $AXON_CLIENT_STATUS"; else note "client $c: missing $bin"; fi
                    fi
                    continue
                fi
                line=$(timeout 120 taskset -c "$CLIENT_CPU" "$bin" "$flag" "http://127.0.0.1:$cport/" \
                    -n "$CLIENT_REQS" -c "$CLIENT_CONNS" 2>>"$OUT/logs/client-$c.log") || note "client $c exit $? (round $r)"
                kvs=()
                for k in reqs secs rps p50_us p95_us p99_us errors; do
                    v=NA
                    for w in $line; do [[ $w == "$k="* ]] && v=${w#*=}; done
                    kvs+=("$v")
                done
                {
                    printf '%s\t%s' "$c" "$r"
                    printf '\t%s' "${kvs[@]}"
                    printf '\n'
                } >>"$CLIENT"
                note "client round $r/$CLIENT_ROUNDS $c: ${line:-no output}"
            done
        done
        stop_server
    else
        note "client benchmark: $CLIENT_SERVER did not start"
    fi
fi

echo "load_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
echo "elapsed_s: $(($(date +%s) - t_start))" >>"$META"
note "done in $(($(date +%s) - t_start)) s"
python3 bench/http_report.py "$BUILD" "$([ "$DOCS" = 1 ] && echo "$DOCS_DIR")"
