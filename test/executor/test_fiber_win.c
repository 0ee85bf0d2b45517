/* Windows only: a fiber that overflows its stack is reported, not silent.
 * The Linux tests (test_fiber.c) fork a child for this; here the test runs
 * a second copy of this executable with --run on a disabled helper test,
 * collects its stderr, and checks both the report line and that the
 * process died of the overflow. Also: the Win64 switch keeps the
 * callee-saved xmm registers and the TIB stack words per fiber. */
#include <criterion/criterion.h>

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"
#include "axon/error.h"
#include "executor/fiber.h"

static volatile int keep_recursing = 1;

__attribute__((noinline)) static int recurse(volatile char *up, int depth) {
    volatile char pad[256];
    pad[0] = (char)depth;
    pad[1] = up ? up[0] : 0;
    if (keep_recursing) return recurse(pad, depth + 1) + pad[1];
    return pad[1];
}

static ax__fiber main_f, f;

static void recurse_entry(void *arg) {
    (void)arg;
    recurse(NULL, 0);
    ax__fiber_switch_final(&f, &main_f);
}

/* The host's last-chance handler: the reporter must chain to it (it
 * returns EXCEPTION_CONTINUE_SEARCH), and it ends the process with the
 * exception's code, as Windows error reporting would (wine would start
 * its debugger instead). */
static LONG WINAPI host_filter(EXCEPTION_POINTERS *ep) {
    TerminateProcess(GetCurrentProcess(), ep->ExceptionRecord->ExceptionCode);
    return EXCEPTION_EXECUTE_HANDLER;
}

/* Run only as the child of the test below (disabled in the suite). */
Test(overflow_win, child_overflows, .disabled = true) {
    ax__stack_pool pool;
    ax__stack *s;
    ax__stack_pool_init(&pool, 64 * 1024, 0);
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    SetUnhandledExceptionFilter(host_filter);
    cr_assert_eq(ax__overflow_install(), 0);
    cr_assert_eq(ax__overflow_thread_init(), 0);
    /* The expected line, printed first so the parent can compare. */
    fprintf(stderr, "want: axon: stack overflow in task 42 (stack 0x%llx-0x%llx)\n",
            (unsigned long long)(uintptr_t)ax__stack_lo(s),
            (unsigned long long)(uintptr_t)ax__stack_hi(s));
    fflush(stderr);
    ax__fiber_init_thread(&main_f);
    ax__fiber_init(&f, s, recurse_entry, NULL);
    ax__overflow_set_current(s, 42);
    ax__fiber_switch(&main_f, &f);
    cr_assert_fail("the overflowing fiber came back");
}

static char *run_child(const char *name, DWORD *code) {
    char exe[MAX_PATH], dir[MAX_PATH], out_path[MAX_PATH];
    cr_assert(GetModuleFileNameA(NULL, exe, sizeof exe));
    cr_assert(GetTempPathA(sizeof dir, dir));
    cr_assert(GetTempFileNameA(dir, "ovf", 0, out_path));
    SECURITY_ATTRIBUTES sa = {sizeof sa, NULL, TRUE};
    HANDLE out = CreateFileA(out_path, GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                             CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    cr_assert_neq(out, INVALID_HANDLE_VALUE);
    char cmd[2 * MAX_PATH];
    snprintf(cmd, sizeof cmd, "\"%s\" --run %s", exe, name);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = out;
    si.hStdError = out;
    cr_assert(CreateProcessA(exe, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi));
    CloseHandle(out);
    cr_assert_eq(WaitForSingleObject(pi.hProcess, 60000), WAIT_OBJECT_0);
    GetExitCodeProcess(pi.hProcess, code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    FILE *fp = fopen(out_path, "rb");
    cr_assert_not_null(fp);
    char *text = calloc(1, 8192);
    size_t n = fread(text, 1, 8191, fp);
    text[n] = 0;
    fclose(fp);
    remove(out_path);
    return text;
}

Test(overflow_win, reports_task_and_dies, .timeout = 90) {
    DWORD code = 0;
    char *out = run_child("overflow_win::child_overflows", &code);
    const char *want = strstr(out, "want: ");
    cr_assert_not_null(want, "child output: %s", out);
    want += 6;
    /* The C runtime's stderr is in text mode (\r\n); the report is not. */
    size_t len = strcspn(want, "\r\n");
    const char *eol = want + len;
    char line[200];
    cr_assert_lt(len + 1, sizeof line);
    memcpy(line, want, len);
    line[len] = '\n';
    line[len + 1] = 0;
    /* The report, once, after the expectation line. */
    const char *got = strstr(eol + 1, line);
    cr_assert_not_null(got, "no report line in the child's output:\n%s", out);
    cr_assert_null(strstr(got + 1, "axon: stack overflow"), "reported twice:\n%s", out);
    /* Died of it, through the host's handler: the overflow's own code. */
    cr_assert_eq(code, EXCEPTION_STACK_OVERFLOW, "exit code 0x%lx\n%s", (unsigned long)code, out);
    free(out);
}

/* The same through the public API: a task of a runtime overflows. */
static void *overflow_task(void *arg) {
    (void)arg;
    return (void *)(intptr_t)recurse(NULL, 0);
}

Test(overflow_win, child_runtime_task_overflows, .disabled = true) {
    SetUnhandledExceptionFilter(host_filter);
    ax_runtime *rt;
    cr_assert_eq(ax_runtime_new(&rt, &(ax_runtime_opts){.workers = 1, .stack_size = 65536}), 0);
    ax_run(rt, overflow_task, NULL, NULL);
    cr_assert_fail("the overflowing task came back");
}

Test(overflow_win, runtime_task_overflow_is_reported_with_its_id, .timeout = 90) {
    DWORD code = 0;
    char *out = run_child("overflow_win::child_runtime_task_overflows", &code);
    const char *line = strstr(out, "axon: stack overflow in task 1 (stack 0x");
    cr_assert_not_null(line, "no report in the child's output:\n%s", out);
    cr_assert_null(strstr(line + 1, "axon: stack overflow"), "reported twice:\n%s", out);
    cr_assert_eq(code, EXCEPTION_STACK_OVERFLOW, "exit code 0x%lx\n%s", (unsigned long)code, out);
    free(out);
}

/* ---- the switch keeps what the Windows ABI says it must ----------------- */

/* TIB words of the running thread (gs:0x08 StackBase, gs:0x10 StackLimit). */
static void *tib_word(uintptr_t off) {
    void *v;
    __asm__ volatile("movq %%gs:(%1), %0" : "=r"(v) : "r"(off));
    return v;
}

static volatile double seen_in_fiber;
static void *volatile fiber_base, *volatile fiber_limit;

static void xmm_entry(void *arg) {
    (void)arg;
    /* Clobber the FP registers the compiler might keep values in. */
    volatile double a = 1.5, b = 2.5;
    fiber_base = tib_word(0x08);
    fiber_limit = tib_word(0x10);
    seen_in_fiber = a * b;
    ax__fiber_switch(&f, &main_f);
    seen_in_fiber = a + b;
    ax__fiber_switch_final(&f, &main_f);
}

__attribute__((noinline)) static double keep_in_xmm(double x) {
    /* Values live across the calls must survive them: callee-saved
     * xmm6-xmm15 under optimisation. */
    double s = x * 3.0, t = x * 5.0, u = x * 7.0;
    ax__fiber_switch(&main_f, &f);
    double r = s + t + u;
    ax__fiber_switch(&main_f, &f);
    return r + s * t * u;
}

Test(fiber_win, switch_keeps_xmm_and_tib_stack_words) {
    ax__stack_pool pool;
    ax__stack *s;
    ax__stack_pool_init(&pool, 64 * 1024, 1);
    cr_assert_eq(ax__stack_get(&pool, &s), 0);
    void *base = tib_word(0x08), *limit = tib_word(0x10);
    ax__fiber_init_thread(&main_f);
    ax__fiber_init(&f, s, xmm_entry, NULL);
    double r = keep_in_xmm(2.0);
    cr_assert_float_eq(r, 2.0 * 15 + 6.0 * 10.0 * 14.0, 1e-9);
    cr_assert_float_eq(seen_in_fiber, 4.0, 1e-9);
    cr_assert_eq(fiber_base, (void *)ax__stack_hi(s), "the fiber ran with its own StackBase");
    cr_assert_eq(fiber_limit, (void *)ax__stack_lo(s), "and its own StackLimit");
    cr_assert_eq(tib_word(0x08), base, "the thread's StackBase is back");
    cr_assert_eq(tib_word(0x10), limit, "the thread's StackLimit is back");
    ax__fiber_destroy(&f);
    ax__stack_put(&pool, s);
    ax__stack_pool_destroy(&pool);
}
