# shellcheck shell=bash
# shellcheck disable=SC2034 # some variables are for the scripts that source this
# bench/http/lib.sh - shared by bench/http/run.sh and soak.sh (sourced).
#
# Builds the peers and tools into $OUT ($BUILD/bench/http), writes the nginx
# and h2o configurations, knows how to start each server and stop it, reads
# a process tree's CPU time, RSS and descriptors from /proc, and runs wrk.
# Servers (all on 127.0.0.1, one worker unless said otherwise):
#   axon    $AXON_DEMO --port P --workers 1 (build/examples/demo; used only
#           when it answers GET / with Hello, World!)
#   axon2   the same with --workers 2, on two CPUs (competes with wrk)
#   epoll   epoll_http.c, the hand-written floor
#   nginx   nginx-light, `return 200`, one process (master_process off)
#   h2o     h2o 2.2, one thread, a 13-byte file (file.file, no ETag)
#   go      go/server.go, GOMAXPROCS=1
#   hyper   hyper/ (hyper 0.14 on tokio's current_thread runtime)

BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench/http/logs" || exit 1
OUT=$(cd "$BUILD/bench/http" && pwd) # absolute: cargo and go build from their folders
AXON_DEMO=${AXON_DEMO:-$BUILD/examples/demo}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
SERVER_CPUS2=${SERVER_CPUS2:-0,1}
CFLAGS_HTTP=(-std=c11 -O2 -Wall -Wextra -Werror)

note() { printf 'http-bench: %s\n' "$*" >&2; }

find_cargo() {
    local c
    for c in "$(command -v cargo 2>/dev/null)" "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo /usr/bin/cargo; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

HYPER_DIR=$OUT/hyper-target/release

# build_all: a peer that fails to build is skipped later (its binary is
# missing); only wrk or the idle client missing stops the run.
build_all() {
    local pkgs=(wrk curl nginx-light h2o golang-go librust-hyper-dev librust-tokio-dev gnuplot-nox)
    find_cargo >/dev/null || pkgs+=(cargo)
    bash .ci/deps.sh "${pkgs[@]}" >&2 || note "could not install some of: ${pkgs[*]} (continuing)"
    command -v wrk >/dev/null || { note "no wrk"; return 1; }
    gcc "${CFLAGS_HTTP[@]}" bench/http/idle_client.c -o "$OUT/idle_client" || { note "idle_client failed to build"; return 1; }
    gcc "${CFLAGS_HTTP[@]}" bench/http/epoll_http.c -o "$OUT/epoll_http" || { note "epoll_http failed to build"; rm -f "$OUT/epoll_http"; }
    if command -v go >/dev/null; then
        (cd bench/http/go && GOFLAGS="" GOPROXY=off GO111MODULE=off go build -o "$OUT/go_server" server.go &&
            GOFLAGS="" GOPROXY=off GO111MODULE=off go build -o "$OUT/go_client" client.go) >&2 ||
            { note "Go peer failed to build"; rm -f "$OUT/go_server" "$OUT/go_client"; }
    else
        note "no go; skipping Go"
    fi
    local cargo
    if cargo=$(find_cargo); then
        # cargo reads .cargo/config.toml (Debian's registry, offline) from
        # the working directory, so build from inside the crate.
        (cd bench/http/hyper && PATH="$(dirname "$cargo"):$PATH" CARGO_TARGET_DIR="$OUT/hyper-target" \
            "$cargo" build --release --offline --quiet) >&2 ||
            { note "hyper peer failed to build"; rm -f "$HYPER_DIR/server" "$HYPER_DIR/client"; }
    else
        note "no cargo; skipping hyper"
    fi
    # h2o serves files; it drops root for `nobody`, so the folder is world-readable.
    mkdir -p "$OUT/h2o"
    chmod 755 "$OUT" "$OUT/h2o"
    printf 'Hello, World!' >"$OUT/h2o/plain.txt"
    printf '{"message":"Hello, World!"}' >"$OUT/h2o/json.json"
    chmod 644 "$OUT/h2o/plain.txt" "$OUT/h2o/json.json"
    build_axon_client
    return 0
}

# The Axon HTTP client slot of the client benchmark: bench/http/axon_client.c
# (same output line as go/client.go) built against $BUILD/libaxon.a, once
# Axon has an HTTP client. AXON_CLIENT_STATUS says why it is skipped otherwise.
AXON_CLIENT_STATUS=
# The BoringSSL libraries when the library was built with tls/ (the client
# links its TLS connector then), as the Makefile links them.
axon_tls_libs() {
    local bssl=${BSSL_LIB:-/usr/lib/x86_64-linux-gnu/android}
    # (grep reads all of nm's output: with pipefail, grep -q would fail the
    # pipeline when nm gets SIGPIPE.)
    if [ "$(nm "$BUILD/libaxon.a" 2>/dev/null | grep -c ' T ax_tls_client$')" != 0 ]; then
        echo "$bssl/libssl.so $bssl/libcrypto.so -Wl,-rpath,$bssl"
    fi
}
build_axon_client() {
    rm -f "$OUT/axon_client"
    if ! grep -rqs 'ax_http_client' include/; then
        AXON_CLIENT_STATUS="skipped: Axon has no HTTP client yet (no ax_http_client in include/)"
    elif [ ! -f bench/http/axon_client.c ]; then
        AXON_CLIENT_STATUS="skipped: include/ declares ax_http_client but bench/http/axon_client.c is not written yet"
    elif [ ! -f "$BUILD/libaxon.a" ]; then
        AXON_CLIENT_STATUS="skipped: $BUILD/libaxon.a is not built"
    elif gcc "${CFLAGS_HTTP[@]}" -D_GNU_SOURCE -pthread -Iinclude -I. bench/http/axon_client.c \
        "$BUILD/libaxon.a" -pthread $(axon_tls_libs) -o "$OUT/axon_client" >&2; then
        AXON_CLIENT_STATUS=ok
    else
        AXON_CLIENT_STATUS="skipped: bench/http/axon_client.c failed to build"
    fi
}

# server_bin NAME: the server's executable (which may not exist).
server_bin() {
    case $1 in
        axon | axon2) echo "$AXON_DEMO" ;;
        epoll) echo "$OUT/epoll_http" ;;
        nginx) command -v nginx || echo /usr/sbin/nginx ;;
        h2o) command -v h2o || echo /usr/bin/h2o ;;
        go) echo "$OUT/go_server" ;;
        hyper) echo "$HYPER_DIR/server" ;;
        *) return 1 ;;
    esac
}

server_cpus() { if [ "$1" = axon2 ]; then echo "$SERVER_CPUS2"; else echo "$SERVER_CPU"; fi; }

# server_argv NAME PORT: the command line (one word a line), configs written.
server_argv() {
    local name=$1 port=$2 bin dir
    bin=$(server_bin "$name") || return 1
    case $name in
        axon) printf '%s\n' "$bin" --port "$port" --workers 1 ;;
        axon2) printf '%s\n' "$bin" --port "$port" --workers 2 ;;
        epoll | hyper) printf '%s\n' "$bin" --port "$port" --workers 1 ;;
        go) printf '%s\n' "$bin" --port "$port" --workers 1 ;;
        nginx)
            dir=$OUT/nginx-$port
            mkdir -p "$dir/logs"
            cat >"$dir/nginx.conf" <<EOF
# written by bench/http/lib.sh
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/body;
    server {
        listen 127.0.0.1:$port;
        location = /json { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
        location / { default_type text/plain; return 200 "Hello, World!"; }
    }
}
EOF
            printf '%s\n' "$bin" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
            ;;
        h2o)
            dir=$OUT/h2o
            cat >"$dir/h2o-$port.conf" <<EOF
# written by bench/http/lib.sh
user: nobody
num-threads: 1
max-connections: 20000
http1-request-timeout: 300
listen:
  host: 127.0.0.1
  port: $port
file.etag: OFF
hosts:
  default:
    paths:
      /json:
        file.file: $dir/json.json
      /:
        file.file: $dir/plain.txt
EOF
            printf '%s\n' "$bin" -c "$dir/h2o-$port.conf"
            ;;
        *) return 1 ;;
    esac
}

# versions: one line per peer, for the report.
versions() {
    local lock=bench/http/hyper/Cargo.lock hv=- tv=- cargo rv=-
    if [ -f "$lock" ]; then
        hv=$(awk '/^name = "hyper"$/ { getline; gsub(/"/, "", $3); print $3 }' "$lock")
        tv=$(awk '/^name = "tokio"$/ { getline; gsub(/"/, "", $3); print $3 }' "$lock")
    fi
    cargo=$(find_cargo) && rv="$(PATH="$(dirname "$cargo"):$PATH" rustc --version)"
    echo "nginx: $(nginx -v 2>&1 | head -n1)"
    echo "h2o: $(h2o --version 2>/dev/null | head -n1)"
    echo "go: $(go version 2>/dev/null || echo -)"
    echo "hyper: hyper $hv, tokio $tv (Debian librust-hyper-dev, offline); $rv"
    echo "wrk: $(wrk -v 2>&1 | head -n1)"
    echo "epoll responder: $(gcc --version | head -n1), -O2"
    echo "axon: $AXON_STATUS"
}

# port_answers PORT: true when something accepts connections on it.
port_answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# start_server NAME PORT LIFETIME_SECS: starts the server on its CPUs under
# `timeout`, with the open-file limit raised to the hard limit. Sets SRV_TPID
# (timeout's pid) and SRV_PID (the server's). Fails when the port already
# answers (a stale server would fake results), when the server does not
# answer within 10 s, or when it dies.
SRV_TPID=
SRV_PID=
start_server() {
    local name=$1 port=$2 life=$3 bin cpus
    local -a argv
    bin=$(server_bin "$name") || return 1
    cpus=$(server_cpus "$name")
    mapfile -t argv < <(server_argv "$name" "$port")
    SRV_TPID='' SRV_PID=''
    if port_answers "$port"; then
        note "port $port already answers: refusing to start $name (stale server?)"
        return 1
    fi
    local hard
    hard=$(ulimit -Hn)
    (
        ulimit -n "$hard" 2>/dev/null
        [ "$name" = go ] && export GOMAXPROCS=1
        exec timeout -k 5 "$life" taskset -c "$cpus" "${argv[@]}"
    ) >>"$OUT/logs/$name.log" 2>&1 &
    SRV_TPID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$SRV_TPID" 2>/dev/null; then
            note "$name exited at start; see $OUT/logs/$name.log"
            wait "$SRV_TPID" 2>/dev/null || true
            SRV_TPID=
            return 1
        fi
        if port_answers "$port"; then
            # Only now is $SRV_TPID surely `timeout` (the subshell exec'd), and
            # its one child the server (taskset exec'd too).
            SRV_PID=$(awk '{ print $1 }' "/proc/$SRV_TPID/task/$SRV_TPID/children" 2>/dev/null)
            if [ -n "$SRV_PID" ] && [ "$(readlink "/proc/$SRV_PID/exe")" = "$(readlink -f "$bin")" ]; then
                return 0
            fi
            note "$name: port $port answers but the server's pid is unclear (${SRV_PID:-none})"
            break
        fi
        sleep 0.05
    done
    [ -n "$SRV_PID" ] || note "$name did not answer on port $port within 10 s"
    stop_server
    return 1
}

# stop_server: TERM through timeout (which passes it on, then KILLs after 5 s).
stop_server() {
    [ -n "$SRV_TPID" ] || return 0
    kill -TERM "$SRV_TPID" 2>/dev/null || true
    wait "$SRV_TPID" 2>/dev/null || true
    SRV_TPID='' SRV_PID=''
}

# AXON_STATUS: "ok" when $AXON_DEMO is an HTTP server (answers GET / with
# Hello, World!), otherwise why its rows say "not built".
AXON_STATUS=
detect_axon() {
    local port=$1 body
    if [ ! -x "$AXON_DEMO" ]; then
        AXON_STATUS="not built ($AXON_DEMO is missing)"
        return 1
    fi
    if ! start_server axon "$port" 20 2>/dev/null; then
        AXON_STATUS="not built ($AXON_DEMO --port $port --workers 1 does not listen: not an HTTP server yet)"
        return 1
    fi
    body=$(curl -s -m 3 "http://127.0.0.1:$port/" 2>/dev/null) || true
    stop_server
    if [ "$body" != "Hello, World!" ]; then
        AXON_STATUS="not built ($AXON_DEMO listens on --port but GET / does not answer Hello, World!)"
        return 1
    fi
    AXON_STATUS=ok
}

# proc_ticks PID: utime + stime (clock ticks) of PID and all its descendants.
proc_ticks() {
    local p=$1 s c sum=0
    s=$(cat "/proc/$p/stat" 2>/dev/null) || { echo 0; return; }
    s=${s##*) }
    # shellcheck disable=SC2086 # split the fields
    set -- $s
    sum=$((${12} + ${13}))
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null || true); do
        sum=$((sum + $(proc_ticks "$c")))
    done
    echo "$sum"
}
CLK_TCK=$(getconf CLK_TCK)

# rss_kib PID: Rss of PID in KiB (smaps_rollup; VmRSS when that is missing).
rss_kib() {
    local v
    v=$(awk '/^Rss:/ { print $2; exit }' "/proc/$1/smaps_rollup" 2>/dev/null) || true
    [ -n "$v" ] || v=$(awk '/^VmRSS:/ { print $2; exit }' "/proc/$1/status" 2>/dev/null) || true
    echo "${v:-NA}"
}
nfds() { { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null || true; } | wc -l; }

# to_us VALUE: wrk's "412.00us" / "1.23ms" / "2.01s" in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.1f", v }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.1f", v * 1000 }
        else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.1f", v * 60e6 }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.1f", v * 1e6 }
        else print "NA" }'
}

# wrk_run OUTFILE ARGS...: wrk pinned to CLIENT_CPU, its output in
# OUTFILE; prints what wrk_parse prints.
wrk_run() {
    local out=$1
    shift
    timeout 120 taskset -c "$CLIENT_CPU" wrk "$@" >"$out" 2>&1 || true
    wrk_parse "$out"
}

# wrk_parse OUTFILE: "requests secs rps p50_us p99_us errors" from wrk's
# output (NA where wrk did not say; errors = socket errors + non-2xx/3xx).
wrk_parse() {
    local out=$1
    local req secs rps p50 p99 errs
    req=$(awk '/requests in/ { print $1; exit }' "$out")
    secs=$(awk '/requests in/ { s = $4; sub(/,$/, "", s); print s; exit }' "$out")
    secs=$(to_us "${secs:-x}")
    [ "$secs" = NA ] || secs=$(awk -v u="$secs" 'BEGIN { printf "%.3f", u / 1e6 }')
    rps=$(awk '/^Requests\/sec:/ { print $2; exit }' "$out")
    p50=$(awk '$1 == "50%" { print $2; exit }' "$out")
    p99=$(awk '$1 == "99%" { print $2; exit }' "$out")
    errs=$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 }
                /Non-2xx or 3xx responses:/ { n += $5 }
                END { print n + 0 }' "$out")
    echo "${req:-NA} ${secs:-NA} ${rps:-NA} $(to_us "${p50:-x}") $(to_us "${p99:-x}") $errs"
}
