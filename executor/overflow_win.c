/* executor/overflow_win.c - the Windows stack overflow reporter (the
 * counterpart of overflow.c, same interface).
 *
 * A vectored exception handler, first in the chain, looks at every
 * EXCEPTION_STACK_OVERFLOW, EXCEPTION_GUARD_PAGE and
 * EXCEPTION_ACCESS_VIOLATION. When the thread runs a fiber and the fault
 * lies in that fiber's guard area (or is a stack overflow at all while a
 * fiber runs), it writes "axon: stack overflow in task <id> (stack
 * <lo>-<hi>)\n" to stderr once and returns EXCEPTION_CONTINUE_SEARCH: the
 * host's handlers run next, and without one the process dies with the
 * exception's code (0xC00000FD or 0xC0000005). Other exceptions are not
 * touched. The handler runs on the faulting stack, in the guard pages
 * stack_win.c leaves for it, so it only formats into a small buffer and
 * calls WriteFile.
 *
 * Global state: the handler registration, a reference count and its lock
 * (the handler belongs to the process; two runtimes share it).
 */
#include "executor/fiber.h"

#include "axon/error.h"

#include <windows.h>

struct running {
    const ax__stack *stack;
    uint64_t task;
};
static __thread struct running current;
static __thread int reported;

static SRWLOCK install_lock = SRWLOCK_INIT;
static unsigned install_refs;
static void *handler_handle;

void ax__overflow_set_current(const ax__stack *s, uint64_t task_id) {
    current.stack = s;
    current.task = task_id;
}

static char *put_str(char *p, const char *s) {
    while (*s) *p++ = *s++;
    return p;
}

static char *put_dec(char *p, uint64_t v) {
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* The same digits as printf's %p in mingw-w64's C99 printf: 0x, lowercase. */
static char *put_hex(char *p, uintptr_t v) {
    static const char digits[] = "0123456789abcdef";
    char tmp[2 * sizeof v];
    int n = 0;
    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v);
    p = put_str(p, "0x");
    while (n) *p++ = tmp[--n];
    return p;
}

static void report(const ax__stack *s, uint64_t task) {
    char buf[160];
    char *p = put_str(buf, "axon: stack overflow in task ");
    p = put_dec(p, task);
    p = put_str(p, " (stack ");
    p = put_hex(p, (uintptr_t)ax__stack_lo(s));
    p = put_str(p, "-");
    p = put_hex(p, (uintptr_t)ax__stack_hi(s));
    p = put_str(p, ")\n");
    DWORD done;
    HANDLE err = GetStdHandle(STD_ERROR_HANDLE);
    if (err && err != INVALID_HANDLE_VALUE) WriteFile(err, buf, (DWORD)(p - buf), &done, NULL);
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *ep) {
    DWORD code = ep->ExceptionRecord->ExceptionCode;
    if (code != EXCEPTION_STACK_OVERFLOW && code != EXCEPTION_ACCESS_VIOLATION &&
        code != EXCEPTION_GUARD_PAGE)
        return EXCEPTION_CONTINUE_SEARCH;
    const ax__stack *s = current.stack;
    if (!s || reported) return EXCEPTION_CONTINUE_SEARCH;
    int ours = code == EXCEPTION_STACK_OVERFLOW;
    if (!ours && ep->ExceptionRecord->NumberParameters >= 2) {
        uintptr_t addr = (uintptr_t)ep->ExceptionRecord->ExceptionInformation[1];
        ours = addr >= (uintptr_t)s->map && addr < (uintptr_t)ax__stack_lo(s);
    }
    if (!ours) return EXCEPTION_CONTINUE_SEARCH;
    reported = 1;
    report(s, current.task);
    return EXCEPTION_CONTINUE_SEARCH;
}

int ax__overflow_install(void) {
    int err = 0;
    AcquireSRWLockExclusive(&install_lock);
    if (install_refs == 0) {
        handler_handle = AddVectoredExceptionHandler(1, on_exception);
        if (!handler_handle) err = AX_ENOMEM;
    }
    if (err == 0) install_refs++;
    ReleaseSRWLockExclusive(&install_lock);
    return err;
}

void ax__overflow_uninstall(void) {
    AcquireSRWLockExclusive(&install_lock);
    if (install_refs > 0 && --install_refs == 0) {
        RemoveVectoredExceptionHandler(handler_handle);
        handler_handle = NULL;
    }
    ReleaseSRWLockExclusive(&install_lock);
}

/* Exceptions are dispatched on the faulting stack on Windows: no alternate
 * stack to set up. */
int ax__overflow_thread_init(void) {
    return 0;
}

void ax__overflow_thread_exit(void) {
    ax__overflow_set_current(NULL, 0);
}
