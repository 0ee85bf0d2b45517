#!/usr/bin/env bash
# Self-test of the project's Criterion stand-in (test/runner).
# Builds the sample tests (selftest.c) against the runner with gcc, clang,
# clang + ThreadSanitizer and aarch64-linux-gnu-gcc -static (run under
# qemu-aarch64-static), and against real Criterion; runs each and checks
# the verdicts, the counts and the exit status, which must agree across
# runners. Also checks the runner's options and that runner.c and the
# sample compile with mingw-w64. A missing optional tool is reported and
# skipped. Usage: test/runner/selftest.sh   (exit status 0: all checks hold)
set -u
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
flags=(-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -g -pthread)
own=(-I"$here/include" selftest.c runner.c)
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
have() { command -v "$1" >/dev/null || { echo "skip: $1 not installed"; return 1; }; }
# Compiles in $here so that messages say selftest.c:LINE, as in CI logs.
build() { local out=$1; shift; (cd "$here" && "$@" -o "$tmp/$out") || fail "build $out"; }
# run NAME CMD...: runs a sample binary, keeps its stdout, stderr and status.
run() { local name=$1; shift; "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"; echo $? >"$tmp/$name.rc"; }
status() { [ "$(cat "$tmp/$1.rc")" = "$2" ] || fail "$1: exit status $(cat "$tmp/$1.rc"), expected $2"; }
has() { grep -qF -- "$2" "$tmp/$1.${3:-err}" || fail "$1: no line with '$2'"; }
lacks() { ! grep -qF -- "$2" "$tmp/$1.err" || fail "$1: unexpected '$2'"; }

# Verdicts both runners must agree on (Criterion prints them the same way).
check_common() {
    local r=$1
    status "$r" 1
    grep -qxF '[====] Synthesis: Tested: 15 | Passing: 5 | Failing: 10 | Crashing: 1 ' \
        "$tmp/$r.err" || fail "$r: wrong or missing Synthesis line"
    has "$r" '[FAIL] sample::crash: CRASH!'
    grep -q '^\[----\] selftest.c:[0-9]*: Assertion Failed$' "$tmp/$r.err" ||
        fail "$r: no file:line of a failed assertion"
    has "$r" '[----]   math is broken'
    has "$r" '[----]   The expression (as strings) ("abc") == ("abd") is false'
    has "$r" '[----]   The conditions for this assertion were not met.'
    has "$r" '[----]   failed on another thread'
    has "$r" '[FAIL] sample::timeout: Timed out.'
    has "$r" '[FAIL] suited::suite_timeout: Timed out.'
    has "$r" '[FAIL] sample::signal_missing:'
    has "$r" '[FAIL] sample::exit_code_wrong:'
    has "$r" '[WARN] carried on after 2 failed expects'
    has "$r" '[WARN] fini ran after a failed assert'
    has "$r" '[WARN] fini ran with state 43'
    lacks "$r" 'unreachable line ran'
    lacks "$r" 'disabled test ran'
    lacks "$r" '[FAIL] sample::pass'
    lacks "$r" '[FAIL] sample::signal:'
    lacks "$r" '[FAIL] sample::exit_code:'
    lacks "$r" '[FAIL] sample::fixtures'
    lacks "$r" '[FAIL] suited::init_order'
}

# What only the project's runner prints.
check_own() {
    local r=$1
    check_common "$r"
    [ "$(cat "$tmp/$r.out")" = "5 passed, 10 failed" ] || fail "$r: stdout is not exactly '5 passed, 10 failed'"
    has "$r" '[FAIL] sample::crash: CRASH! (signal SIGSEGV)'
    has "$r" '[SKIP] sample::skip: no network here'
    has "$r" '[SKIP] sample::disabled: Test is disabled'
    has "$r" 'stdout of fail_expect'
    has "$r" 'sample::exit_code_wrong: exited with code 4, expected 3'
    has "$r" 'sample::signal_missing: expected signal SIGABRT'
    echo "ran:  $r"
}

# gcc, and every option of the runner.
build own gcc "${flags[@]}" -O2 "${own[@]}"
run own "$tmp/own"
check_own own
run own_j1 "$tmp/own" -j 1
check_own own_j1
run own_env env CRITERION_JOBS=1 "$tmp/own" --verbose
check_common own_env
has own_env '[====] Running 17 tests, 1 at a time'
has own_env '[PASS] sample::pass:'
has own_env '[----] info from sample::pass'
run list "$tmp/own" --list
[ "$(wc -l <"$tmp/list.out")" -eq 17 ] || fail "--list: not 17 tests"
has list 'suited::init_order' out
run filter "$tmp/own" --filter 'sample/pass'
status filter 0
has filter '1 passed, 0 failed' out
run glob "$tmp/own" --filter 'sample/[ef]*_[!a]*'
has glob '[====] Synthesis: Tested: 4 | Passing: 1 | Failing: 3 | Crashing: 0 '
run nomatch "$tmp/own" --filter 'nomatch/*'
status nomatch 1
has nomatch 'no test ran'
has nomatch '0 passed, 0 failed' out
run skipped_only "$tmp/own" --filter '*/*disabled'
status skipped_only 1
run run_pass "$tmp/own" --run sample::pass
status run_pass 0
run run_fail "$tmp/own" --run sample::fail_assert
status run_fail 1
has run_fail '[----]   math is broken'
run run_exit "$tmp/own" --run sample::exit_code
status run_exit 3
run run_report "$tmp/own" --run sample::fail_expect --report "$tmp/report"
status run_report 1
grep -q '^F\[----\] selftest.c:[0-9]*: Assertion Failed$' "$tmp/report" || fail "--report: no F line"
grep -qxF 'W[WARN] carried on after 2 failed expects' "$tmp/report" || fail "--report: no W line"
run badopt "$tmp/own" --bogus
status badopt 2
echo "ran:  options"

if have clang; then
    build clang clang "${flags[@]}" -O2 "${own[@]}"
    run clang "$tmp/clang"
    check_own clang
    # The whole point: Criterion cannot run under TSan. handle_segv=0 keeps
    # the crash test a real SIGSEGV (TSan's handler would exit with 66).
    build tsan clang "${flags[@]}" -O1 -fsanitize=thread -fno-omit-frame-pointer "${own[@]}"
    run tsan env TSAN_OPTIONS=halt_on_error=1:handle_segv=0 "$tmp/tsan"
    check_own tsan
    lacks tsan 'WARNING: ThreadSanitizer'
fi

if have aarch64-linux-gnu-gcc && have qemu-aarch64-static; then
    build a64 aarch64-linux-gnu-gcc "${flags[@]}" -O2 -static "${own[@]}"
    run a64 qemu-aarch64-static "$tmp/a64"
    check_own a64
fi

# Same source against real Criterion: same verdicts and counts.
if [ -e /usr/include/criterion/criterion.h ]; then
    build criterion gcc "${flags[@]}" -O2 selftest.c -lcriterion
    run criterion "$tmp/criterion"
    check_common criterion
    echo "ran:  criterion"
else
    echo "skip: libcriterion-dev not installed"
fi

# Windows: compile and link only (no wine run here).
if have x86_64-w64-mingw32-gcc; then
    build win.exe x86_64-w64-mingw32-gcc "${flags[@]}" -O2 "${own[@]}"
    echo "built: mingw-w64"
fi

if [ "$fails" -ne 0 ]; then
    echo "selftest: $fails check(s) failed (outputs kept in $tmp)"
    trap - EXIT
    exit 1
fi
echo "selftest: all checks passed"
