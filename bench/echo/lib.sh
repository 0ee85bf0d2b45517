# shellcheck shell=bash
# bench/echo/lib.sh - shared by run.sh and idle_mem.sh (sourced, not run).
#
# Builds the load client and the peer echo servers into $OUT
# ($BUILD/bench/echo), knows how to start each server and how to stop it.
# Servers: axon (build/examples/echo, built elsewhere: skipped when missing),
# epoll (epoll_echo.c), uv (uv_echo.c), go (go/echo.go), tokio (tokio/).

BUILD=${BUILD:-build}
mkdir -p "$BUILD/bench/echo/logs" || exit 1
OUT=$(cd "$BUILD/bench/echo" && pwd) # absolute: cargo builds from its own folder
AXON_ECHO=${AXON_ECHO:-$BUILD/examples/echo}
CFLAGS_ECHO=(-std=c11 -O2 -Wall -Wextra -Werror)

note() { printf 'echo-bench: %s\n' "$*" >&2; }

find_cargo() {
    local c
    for c in "$(command -v cargo 2>/dev/null)" "$HOME/.cargo/bin/cargo" /root/.cargo/bin/cargo /usr/bin/cargo; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}

# build_all: a peer that fails to build is skipped later (its binary is
# missing), only a failing load client stops the run.
build_all() {
    local pkgs=(libuv1-dev golang-go librust-tokio-dev)
    find_cargo >/dev/null || pkgs+=(cargo)
    bash .ci/deps.sh "${pkgs[@]}" >&2 || note "could not install some of: ${pkgs[*]} (continuing)"

    gcc "${CFLAGS_ECHO[@]}" -pthread bench/echo/load.c -o "$OUT/load" || { note "load client failed to build"; return 1; }
    gcc "${CFLAGS_ECHO[@]}" bench/echo/epoll_echo.c -o "$OUT/epoll_echo" || { note "epoll_echo failed to build"; rm -f "$OUT/epoll_echo"; }
    if pkg-config --exists libuv; then
        # shellcheck disable=SC2046
        gcc "${CFLAGS_ECHO[@]}" bench/echo/uv_echo.c -o "$OUT/uv_echo" $(pkg-config --cflags --libs libuv) ||
            { note "uv_echo failed to build"; rm -f "$OUT/uv_echo"; }
    else
        note "no libuv; skipping uv"; rm -f "$OUT/uv_echo"
    fi
    if command -v go >/dev/null; then
        (cd bench/echo/go && GOFLAGS="" GOPROXY=off GO111MODULE=off go build -o "$OUT/echo_go" echo.go) >&2 ||
            { note "Go echo failed to build"; rm -f "$OUT/echo_go"; }
    else
        note "no go; skipping go"; rm -f "$OUT/echo_go"
    fi
    local cargo
    if cargo=$(find_cargo); then
        # cargo reads .cargo/config.toml (the offline Debian registry) from
        # the working directory, so build from inside the crate.
        (cd bench/echo/tokio && PATH="$(dirname "$cargo"):$PATH" CARGO_TARGET_DIR="$OUT/tokio-target" \
            "$cargo" build --release --offline --quiet) >&2 ||
            { note "tokio echo failed to build"; rm -f "$OUT/tokio-target/release/axon-echo-tokio"; }
    else
        note "no cargo; skipping tokio"
    fi
    return 0
}

# server_bin NAME: the server's binary (which may not exist).
server_bin() {
    case $1 in
        axon) echo "$AXON_ECHO" ;;
        epoll) echo "$OUT/epoll_echo" ;;
        uv) echo "$OUT/uv_echo" ;;
        go) echo "$OUT/echo_go" ;;
        tokio) echo "$OUT/tokio-target/release/axon-echo-tokio" ;;
        *) return 1 ;;
    esac
}

# versions: one line per peer toolchain/library, for the report.
versions() {
    echo "gcc: $(gcc --version | head -n1)"
    echo "libuv: $(pkg-config --modversion libuv 2>/dev/null || echo -)"
    echo "go: $(go version 2>/dev/null || echo -)"
    local lock=bench/echo/tokio/Cargo.lock tv=-
    [ -f "$lock" ] && tv=$(awk '/^name = "tokio"$/ { getline; gsub(/"/, "", $3); print $3 }' "$lock")
    local cargo rv=-
    cargo=$(find_cargo) && rv="$(PATH="$(dirname "$cargo"):$PATH" rustc --version)"
    echo "tokio: $tv (Debian librust-tokio-dev, offline); $rv"
    echo "axon: $([ -x "$AXON_ECHO" ] && echo "$AXON_ECHO" || echo "missing ($AXON_ECHO)")"
}

# port_answers PORT: true when something accepts connections on it.
port_answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# start_server NAME PORT CPU LIFETIME_SECS: starts the server pinned to CPU,
# under `timeout` (so it ends on its own), with the open-file limit raised to
# the hard limit. Sets SRV_TPID (timeout's pid) and SRV_PID (the server's).
# Fails when the port already answers (a stale server would fake results),
# when the server does not answer within 10 s, or when it dies.
SRV_TPID=
SRV_PID=
start_server() {
    local name=$1 port=$2 cpu=$3 life=$4 bin
    bin=$(server_bin "$name") || return 1
    SRV_TPID='' SRV_PID=''
    if port_answers "$port"; then
        note "port $port already answers: refusing to start $name (stale server?)"
        return 1
    fi
    local hard
    hard=$(ulimit -Hn)
    (
        ulimit -n "$hard" 2>/dev/null
        exec timeout -k 5 "$life" taskset -c "$cpu" "$bin" --port "$port" --workers 1
    ) >>"$OUT/logs/$name.log" 2>&1 &
    SRV_TPID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        if ! kill -0 "$SRV_TPID" 2>/dev/null; then
            note "$name exited at start; see $OUT/logs/$name.log"
            wait "$SRV_TPID" 2>/dev/null
            SRV_TPID=
            return 1
        fi
        if port_answers "$port"; then
            # Only now is $SRV_TPID surely `timeout` (the subshell has
            # exec'd), and its one child the server (taskset exec'd too).
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
    kill -TERM "$SRV_TPID" 2>/dev/null
    wait "$SRV_TPID" 2>/dev/null
    SRV_TPID='' SRV_PID=''
}

# kv KEY LINE: the value of KEY=value in LINE, or NA.
kv() {
    local k=$1 w
    for w in $2; do
        case $w in "$k"=*) echo "${w#*=}"; return ;; esac
    done
    echo NA
}
