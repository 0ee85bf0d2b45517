#!/usr/bin/env bash
# bench/tls/run.sh - the TLS benchmark of issue 7 (bench/tls/README.md).
#
# Servers, each alone on SERVER_CPU, the load client (tls_load.c) on
# CLIENT_CPU, on 127.0.0.1, one worker / process each:
#   axon          examples/echo --workers 1 with --tls-cert/--tls-key,
#                 Debian's shared BoringSSL ($BUILD/examples/echo)
#   bssl          bssl_server.c (epoll, handshake, echo), the same library
#   axon-static   the same echo built with make STATIC_BORINGSSL=1
#   bssl-static   bssl_server.c against the same static libssl.a/libcrypto.a
#   nginx         Debian's nginx (OpenSSL 3), http with ssl, one process:
#                 GET /hs answers "x", POST /echo echoes the body (echo module)
# Each round starts every server in turn (the order rotates by round) once
# per certificate (ECDSA P-256, RSA-2048, made at run time) and measures:
#   full-x25519, full-p256     HS_N full TLS 1.3 handshakes, key share X25519
#                              or P-256 only, THREADS client threads
#   resume-x25519, resume-p256 HS_N resumed handshakes (tickets, PSK-DHE)
#   bulk                       BULK_MIB MiB echoed on one connection (ECDSA
#                              run only; nginx: 1 MiB POSTs on keep-alive)
# and the server's CPU time (the run time of all its threads, in ns, from
# /proc/PID/task/*/schedstat) over each.
# Paired phase (PAIRS > 0), for the Axon ÷ minimal bars: Axon and the
# minimal server on the same BoringSSL run side by side (both pinned to
# SERVER_CPU, on PORT and PORT+1) and the client alternates between them,
# PAIRS times per case (PAIR_N handshakes, PAIR_MIB MiB bulk); each pair
# gives one ratio, so load that drifts over the minutes of a run cancels.
# Instruction phase (INSTR=1, needs valgrind): each server under callgrind,
# user-space instructions per handshake (INSTR_N) and per MiB (INSTR_MIB),
# the start-up counted apart: a figure that does not move with load.
# Then crypto speeds: bssl speed of the static build, Debian's bssl-tool,
# and openssl speed (OpenSSL 3), on CLIENT_CPU.
# Writes $BUILD/bench/tls/{rounds.tsv,crypto.tsv,meta.txt}; then
# bench/tls_report.py prints the tables and, with DOCS=1, replaces the TLS
# section of docs/BENCHMARKS.md.
# Env: BUILD (build), ROUNDS (5), SERVER_CPU (0), CLIENT_CPU (1), HS_N
# (3000), THREADS (4), BULK_MIB (256), STATIC (1: build and run the
# static variants; 0 skips them), PAIRS (15), PAIR_N (1000), PAIR_MIB
# (64), INSTR (1), INSTR_N (200), INSTR_MIB (16), CRYPTO (1), DOCS (0),
# TLS_VIA (the command named in the docs).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HS_N=${HS_N:-3000}
THREADS=${THREADS:-4}
BULK_MIB=${BULK_MIB:-256}
STATIC=${STATIC:-1}
PAIRS=${PAIRS:-15}
PAIR_N=${PAIR_N:-1000}
PAIR_MIB=${PAIR_MIB:-64}
INSTR=${INSTR:-1}
INSTR_N=${INSTR_N:-200}
INSTR_MIB=${INSTR_MIB:-16}
CRYPTO=${CRYPTO:-1}
DOCS=${DOCS:-0}
TLS_VIA=${TLS_VIA:-bash bench/tls/run.sh}
BSSL_DIR=build/boringssl
STATIC_BUILD=build/static-tls
SHARED_INC=/usr/include/android
SHARED_LIB=/usr/lib/x86_64-linux-gnu/android
PORT=${PORT:-19443}
mkdir -p "$BUILD/bench/tls/logs" || exit 1
OUT=$(cd "$BUILD/bench/tls" && pwd)
CFLAGS_TLS=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror)

note() { printf 'tls-bench: %s\n' "$*" >&2; }

bash .ci/deps.sh nginx-light libnginx-mod-http-echo android-boringssl gnuplot-nox >&2 ||
    note "could not install some packages (continuing)"

# --- builds ---------------------------------------------------------------------
SHARED_LINK=("$SHARED_LIB/libssl.so" "$SHARED_LIB/libcrypto.so" "-Wl,-rpath,$SHARED_LIB" -pthread)
STATIC_LINK=("$BSSL_DIR/lib/libssl.a" "$BSSL_DIR/lib/libcrypto.a" -lstdc++ -pthread)
gcc "${CFLAGS_TLS[@]}" -I"$SHARED_INC" bench/tls/bssl_server.c -o "$OUT/bssl_server" "${SHARED_LINK[@]}" ||
    { note "bssl_server (shared) failed to build"; rm -f "$OUT/bssl_server"; }
[ -x "$BUILD/examples/echo" ] || make --no-print-directory -j2 BUILD="$BUILD" "$BUILD/examples/echo" >&2 ||
    note "examples/echo failed to build"
CLIENT_LIB="Debian's shared BoringSSL"
if [ "$STATIC" = 1 ]; then
    # Builds BoringSSL from Debian's source the first time (minutes), then
    # the static echo; tools/check_static_tls.sh checks what links.
    if make --no-print-directory -j2 STATIC_BORINGSSL=1 "$STATIC_BUILD/examples/echo" >&2 &&
        gcc "${CFLAGS_TLS[@]}" -I"$BSSL_DIR/include" bench/tls/bssl_server.c -o "$OUT/bssl_server_static" \
            "${STATIC_LINK[@]}" && bash tools/check_static_tls.sh "$OUT/bssl_server_static"; then
        :
    else
        note "static BoringSSL build failed; skipping the static variants"
        rm -f "$OUT/bssl_server_static"
        STATIC=0
    fi
fi
# One client for every server: the static build when there is one (its
# crypto is faster, so the client is less often the bottleneck).
if [ "$STATIC" = 1 ] && gcc "${CFLAGS_TLS[@]}" -I"$BSSL_DIR/include" bench/tls/tls_load.c -o "$OUT/tls_load" \
    "${STATIC_LINK[@]}"; then
    CLIENT_LIB="the static BoringSSL (STATIC_BORINGSSL=1)"
else
    gcc "${CFLAGS_TLS[@]}" -I"$SHARED_INC" bench/tls/tls_load.c -o "$OUT/tls_load" "${SHARED_LINK[@]}" ||
        { note "tls_load failed to build"; exit 1; }
fi

# --- certificates ---------------------------------------------------------------------
CERTS=$OUT/certs
mkdir -p "$CERTS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CERTS/ecdsa.key" \
    -out "$CERTS/ecdsa.pem" -days 2 -subj /CN=localhost 2>/dev/null &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTS/rsa.key" -out "$CERTS/rsa.pem" -days 2 \
        -subj /CN=localhost 2>/dev/null || { note "openssl req failed"; exit 1; }

# --- servers ------------------------------------------------------------------------------
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
ECHO_MOD=/usr/lib/nginx/modules/ngx_http_echo_module.so

ECHO_STATIC=$STATIC_BUILD/examples/echo
BSSL_STATIC=$OUT/bssl_server_static
# server_argv NAME CERT [PORT]: the command line, one word a line.
server_argv() {
    local name=$1 cert=$2 dir PORT=${3:-$PORT}
    case $name in
        axon) printf '%s\n' "$BUILD/examples/echo" --port "$PORT" --host 127.0.0.1 --workers 1 \
            --tls-cert "$CERTS/$cert.pem" --tls-key "$CERTS/$cert.key" ;;
        axon-static) printf '%s\n' "$ECHO_STATIC" --port "$PORT" --host 127.0.0.1 --workers 1 \
            --tls-cert "$CERTS/$cert.pem" --tls-key "$CERTS/$cert.key" ;;
        bssl) printf '%s\n' "$OUT/bssl_server" --port "$PORT" --cert "$CERTS/$cert.pem" --key "$CERTS/$cert.key" ;;
        bssl-static) printf '%s\n' "$BSSL_STATIC" --port "$PORT" --cert "$CERTS/$cert.pem" \
            --key "$CERTS/$cert.key" ;;
        nginx)
            dir=$OUT/nginx
            mkdir -p "$dir/logs"
            cat >"$dir/nginx-$cert.conf" <<NGX
# written by bench/tls/run.sh
load_module $ECHO_MOD;
master_process off;
worker_processes 1;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/body;
    client_body_buffer_size 2m;
    client_max_body_size 2m;
    server {
        listen 127.0.0.1:$PORT ssl;
        ssl_certificate $CERTS/$cert.pem;
        ssl_certificate_key $CERTS/$cert.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_session_tickets on;
        location = /hs { default_type text/plain; return 200 "x"; }
        location = /echo { echo_read_request_body; echo_request_body; }
    }
}
NGX
            printf '%s\n' "$NGINX" -p "$dir" -c "$dir/nginx-$cert.conf" -g 'daemon off;'
            ;;
        *) return 1 ;;
    esac
}

port_answers() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

SRV_PID=
# start_server NAME CERT [PORT [WRAPPER...]]: starts it on SERVER_CPU (under
# WRAPPER when given) and waits until the port answers; sets SRV_PID.
start_server() {
    local name=$1 cert=$2 port=${3:-$PORT} i
    shift 2
    [ $# -gt 0 ] && shift
    local -a argv
    mapfile -t argv < <(server_argv "$name" "$cert" "$port")
    [ -x "${argv[0]}" ] || { note "missing ${argv[0]}; skipping $name"; return 1; }
    if port_answers "$port"; then
        note "port $port already answers: refusing to start $name (stale server?)"
        return 1
    fi
    taskset -c "$SERVER_CPU" "$@" "${argv[@]}" >>"$OUT/logs/$name.log" 2>&1 &
    SRV_PID=$!
    for ((i = 0; i < 300; i++)); do
        port_answers "$port" && return 0
        kill -0 "$SRV_PID" 2>/dev/null || break
        sleep 0.1
    done
    note "$name did not start (see $OUT/logs/$name.log)"
    stop_server
    return 1
}

# stop_server [PID]: SRV_PID by default.
stop_server() {
    local pid=${1:-$SRV_PID} i
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ "$pid" = "$SRV_PID" ] && SRV_PID=
    return 0
}
PAIR_PIDS=()
stop_all() {
    local p
    for p in "${PAIR_PIDS[@]}"; do stop_server "$p"; done
    stop_server
}
trap stop_all EXIT

# cpu_ns PID: the run time of all the process's threads so far, in ns
# (schedstat: no 10 ms tick rounding).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f\n", s }'; }

# measure NAME CERT ROUND TEST ARGS...: one client run against the running
# server; appends server/cert/test/round/metric/value rows.
RAW=$OUT/rounds.tsv
measure() {
    local name=$1 cert=$2 r=$3 test=$4
    shift 4
    local t0 t1 out extra=()
    [ "$name" = nginx ] && extra=(--http)
    t0=$(cpu_ns "$SRV_PID")
    if ! out=$(timeout 120 taskset -c "$CLIENT_CPU" "$OUT/tls_load" --port "$PORT" "$@" "${extra[@]}" \
        2>>"$OUT/logs/client.log"); then
        note "round $r: $name $cert $test failed (see $OUT/logs/client.log)"
        return 1
    fi
    t1=$(cpu_ns "$SRV_PID")
    awk -v s="$name" -v c="$cert" -v t="$test" -v r="$r" -v cpu="$((t1 - t0))" -v hz=1000000000 '
        $1 == "handshakes" { n = $2 } $1 == "mib" { m = $2 }
        NF == 2 { printf "%s\t%s\t%s\t%s\t%s\t%s\n", s, c, t, r, $1, $2 }
        END {
            secs = cpu / hz
            printf "%s\t%s\t%s\t%s\tserver_cpu_s\t%.3f\n", s, c, t, r, secs
            if (n && cpu) printf "%s\t%s\t%s\t%s\tcpu_us_per_hs\t%.1f\n", s, c, t, r, secs * 1e6 / n
            if (n && cpu) printf "%s\t%s\t%s\t%s\ths_per_cpu_s\t%.1f\n", s, c, t, r, n / secs
            if (m && cpu) printf "%s\t%s\t%s\t%s\tcpu_ms_per_mib\t%.3f\n", s, c, t, r, secs * 1e3 / m
        }' <<<"$out" >>"$RAW"
}

servers=(axon bssl nginx)
[ "$STATIC" = 1 ] && servers=(axon bssl axon-static bssl-static nginx)
printf 'server\tcert\ttest\tround\tmetric\tvalue\n' >"$RAW"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)
for ((r = 1; r <= ROUNDS; r++)); do
    k=${#servers[@]}
    for ((j = 0; j < k; j++)); do
        name=${servers[$(((j + r - 1) % k))]}
        for cert in ecdsa rsa; do
            start_server "$name" "$cert" || continue
            for g in x25519 p256; do
                measure "$name" "$cert" "$r" "full-$g" --mode full --group "$g" --n "$HS_N" --threads "$THREADS"
                measure "$name" "$cert" "$r" "resume-$g" --mode resume --group "$g" --n "$HS_N" --threads "$THREADS"
            done
            [ "$cert" = ecdsa ] && measure "$name" "$cert" "$r" bulk --mode bulk --mib "$BULK_MIB"
            stop_server
        done
        note "round $r/$ROUNDS: $name done ($(($(date +%s) - start)) s)"
    done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- paired runs: Axon and its minimal server side by side ------------------------------
# pair_run LIB CERT TEST P NAME PID PORT ARGS...: one client run; appends a
# row to pairs.tsv (lib cert test pair server cpu_ns units).
PRAW=$OUT/pairs.tsv
pair_run() {
    local lib=$1 cert=$2 test=$3 p=$4 name=$5 pid=$6 port=$7 t0 t1 out units
    shift 7
    t0=$(cpu_ns "$pid")
    if ! out=$(timeout 120 taskset -c "$CLIENT_CPU" "$OUT/tls_load" --port "$port" "$@" \
        2>>"$OUT/logs/client.log"); then
        note "pair $p: $name $cert $test failed (see $OUT/logs/client.log)"
        return 1
    fi
    t1=$(cpu_ns "$pid")
    units=$(awk '$1 == "handshakes" || $1 == "mib" { print $2 }' <<<"$out")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$lib" "$cert" "$test" "$p" "$name" "$((t1 - t0))" "$units" >>"$PRAW"
}

printf 'lib\tcert\ttest\tpair\tserver\tcpu_ns\tunits\n' >"$PRAW"
pair_libs=(shared)
[ "$STATIC" = 1 ] && pair_libs+=(static)
for ((pp = 0; PAIRS > 0 && pp < ${#pair_libs[@]}; pp++)); do
    lib=${pair_libs[$pp]}
    a=axon b=bssl
    [ "$lib" = static ] && a=axon-static b=bssl-static
    for cert in ecdsa rsa; do
        start_server "$a" "$cert" "$PORT" || continue
        pa=$SRV_PID
        PAIR_PIDS=("$pa")
        SRV_PID=
        start_server "$b" "$cert" "$((PORT + 1))" || { stop_server "$pa"; continue; }
        pb=$SRV_PID
        PAIR_PIDS=("$pa" "$pb")
        SRV_PID=
        tests=(full-x25519 full-p256 resume-x25519 resume-p256)
        [ "$cert" = ecdsa ] && tests+=(bulk)
        for test in "${tests[@]}"; do
            case $test in
                full-*) args=(--mode full --group "${test#full-}" --n "$PAIR_N" --threads "$THREADS") ;;
                resume-*) args=(--mode resume --group "${test#resume-}" --n "$PAIR_N" --threads "$THREADS") ;;
                bulk) args=(--mode bulk --mib "$PAIR_MIB") ;;
            esac
            for ((p = 1; p <= PAIRS; p++)); do
                # Who goes first alternates, so neither always follows the other.
                if ((p % 2)); then
                    pair_run "$lib" "$cert" "$test" "$p" "$a" "$pa" "$PORT" "${args[@]}"
                    pair_run "$lib" "$cert" "$test" "$p" "$b" "$pb" "$((PORT + 1))" "${args[@]}"
                else
                    pair_run "$lib" "$cert" "$test" "$p" "$b" "$pb" "$((PORT + 1))" "${args[@]}"
                    pair_run "$lib" "$cert" "$test" "$p" "$a" "$pa" "$PORT" "${args[@]}"
                fi
            done
        done
        stop_server "$pa"
        stop_server "$pb"
        PAIR_PIDS=()
        note "pairs: $lib $cert done ($(($(date +%s) - start)) s)"
    done
done
LOAD_PAIRS_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- instructions under callgrind --------------------------------------------------------
# Each dump (callgrind_control -d) holds what ran since the previous one:
# the first is the start-up, then one per client run.
IRAW=$OUT/instr.tsv
printf 'server\tcert\ttest\tinstructions\tunits\n' >"$IRAW"
if [ "$INSTR" = 1 ] && command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
    IDIR=$OUT/callgrind
    rm -rf "$IDIR"
    mkdir -p "$IDIR"
    iservers=(axon bssl)
    # valgrind 3.19 cannot read the DWARF of clang's static BoringSSL:
    # copies without debug information run instead (same code).
    if [ "$STATIC" = 1 ] && objcopy --strip-debug "$ECHO_STATIC" "$IDIR/echo-static" &&
        objcopy --strip-debug "$BSSL_STATIC" "$IDIR/bssl_server_static"; then
        ECHO_STATIC=$IDIR/echo-static BSSL_STATIC=$IDIR/bssl_server_static
        iservers+=(axon-static bssl-static)
    fi
    for name in "${iservers[@]}"; do
        for cert in ecdsa rsa; do
            start_server "$name" "$cert" "$PORT" valgrind --tool=callgrind \
                --callgrind-out-file="$IDIR/$name-$cert.%p" || continue
            callgrind_control -d "$SRV_PID" >/dev/null 2>&1
            tests=(full-x25519 full-p256 resume-x25519 resume-p256)
            [ "$cert" = ecdsa ] && tests+=(bulk)
            n_ok=1
            for test in "${tests[@]}"; do
                case $test in
                    full-*) args=(--mode full --group "${test#full-}" --n "$INSTR_N" --threads 2) ;;
                    resume-*) args=(--mode resume --group "${test#resume-}" --n "$INSTR_N" --threads 2) ;;
                    bulk) args=(--mode bulk --mib "$INSTR_MIB") ;;
                esac
                if ! out=$(timeout 600 taskset -c "$CLIENT_CPU" "$OUT/tls_load" --port "$PORT" "${args[@]}" \
                    2>>"$OUT/logs/client.log"); then
                    note "callgrind: $name $cert $test failed"
                    n_ok=0
                    break
                fi
                callgrind_control -d "$SRV_PID" >/dev/null 2>&1
                units=$(awk '$1 == "handshakes" || $1 == "mib" { print $2 }' <<<"$out")
                n_ok=$((n_ok + 1))
                f=$(ls "$IDIR/$name-$cert".*."$n_ok" 2>/dev/null | head -n1)
                ir=$([ -n "$f" ] && awk '/^totals:/ { print $2 }' "$f")
                [ -n "$ir" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$cert" "$test" "$ir" "$units" >>"$IRAW"
            done
            stop_server
        done
        note "callgrind: $name done ($(($(date +%s) - start)) s)"
    done
fi

# --- crypto speeds ----------------------------------------------------------------------
CRAW=$OUT/crypto.tsv
printf 'impl\top\tvalue\tunit\n' >"$CRAW"
bssl_speed() { # IMPL BIN
    local f
    for f in "Curve25519 arbitrary" "ECDH P-256" "ECDSA P-256" "RSA 2048 signing" "AES-128-GCM"; do
        taskset -c "$CLIENT_CPU" "$2" speed -timeout 1 -filter "$f" -chunks 16384 2>/dev/null
    done | sed -nE 's/^Did [0-9]+ (.+) operations in [0-9]+us \(([0-9.]+) ops\/sec\)(: ([0-9.]+) MB\/s)?.*/\1\t\2\t\4/p' |
        awk -F'\t' -v i="$1" '$1 !~ /SIV|Ed25519|P-224|P-384|P-521|4096|parse|fresh/ {
            if ($3 != "") printf "%s\t%s\t%s\tMB/s\n", i, $1, $3; else printf "%s\t%s\t%s\tops/s\n", i, $1, $2 }' >>"$CRAW"
}
if [ "$CRYPTO" = 1 ]; then
    [ -x "$BSSL_DIR/bin/bssl" ] && [ "$STATIC" = 1 ] && bssl_speed "BoringSSL static (built from source)" "$BSSL_DIR/bin/bssl"
    command -v bssl-tool >/dev/null && bssl_speed "BoringSSL Debian (shared, bssl-tool)" bssl-tool
    {
        taskset -c "$CLIENT_CPU" openssl speed -mr -seconds 1 ecdhx25519 ecdhp256 ecdsap256 rsa2048 2>/dev/null
        taskset -c "$CLIENT_CPU" openssl speed -mr -seconds 1 -evp aes-128-gcm -bytes 16384 2>/dev/null
    } | awk -F: -v i="OpenSSL 3 ($(openssl version | awk '{print $2}'))" '
        $1 == "+F2" && $3 == 2048 { printf "%s\tRSA 2048 signing\t%s\tops/s\n", i, $4 }
        $1 == "+F4" && $3 == 256 { printf "%s\tECDSA P-256 signing\t%s\tops/s\n", i, $4
                                   printf "%s\tECDSA P-256 verify\t%s\tops/s\n", i, $5 }
        $1 == "+F5" && $3 == 256 { printf "%s\tECDH P-256\t%s\tops/s\n", i, $4 }
        $1 == "+F5" && $3 == 253 { printf "%s\tCurve25519 arbitrary point multiplication\t%s\tops/s\n", i, $4 }
        $1 == "+F" && $3 ~ /AES-128-GCM/ { printf "%s\tAES-128-GCM (16384 bytes) seal\t%.1f\tMB/s\n", i, $4 / 1e6 }' >>"$CRAW"
fi

{
    echo "command: $TLS_VIA"
    echo "rounds: $ROUNDS"
    echo "hs_n: $HS_N"
    echo "threads: $THREADS"
    echo "bulk_mib: $BULK_MIB"
    echo "pairs: $PAIRS"
    echo "pair_n: $PAIR_N"
    echo "pair_mib: $PAIR_MIB"
    echo "load_pairs: $LOAD_PAIRS_END at the end of the paired runs"
    echo "instr_n: $INSTR_N"
    echo "instr_mib: $INSTR_MIB"
    echo "valgrind: $(valgrind --version 2>/dev/null)"
    echo "cpus: server $SERVER_CPU, client $CLIENT_CPU ($(nproc) online)"
    echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "avx512ifma: $(grep -qw avx512ifma /proc/cpuinfo && echo yes || echo no)"
    echo "load: $LOAD_START at start, $LOAD_END at the end (1/5/15-minute load averages)"
    echo "client: tls_load.c against $CLIENT_LIB"
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "version nginx: $($NGINX -v 2>&1 | head -n1) with $(openssl version)"
    echo "version Debian BoringSSL: android-libboringssl $(dpkg-query -W -f '${Version}' android-libboringssl 2>/dev/null)"
    [ "$STATIC" = 1 ] && echo "version static BoringSSL: $(cat "$BSSL_DIR/STAMP") (tools/build_boringssl.sh, clang, Release)"
    echo "version cc: $(gcc --version | head -n1), -O2"
} >"$OUT/meta.txt"
note "rounds took $(($(date +%s) - start)) s"
docs=
[ "$DOCS" = 1 ] && docs=docs
python3 bench/tls_report.py "$BUILD" $docs
