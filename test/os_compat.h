/* test/os_compat.h - the few OS-specific calls the tests make, so the same
 * test sources compile for Linux, (make check-macos-compile) macOS and
 * (make check-windows) Windows.
 * On Unix, descriptor set-up goes through the library's own shims
 * (reactor/os_unix.h: ax__pipe, ax__socket, ax__socketpair); this adds the
 * kernel thread id, which the tests use to tell threads apart (a joined
 * thread's pthread_t may be reused, a live thread's id is unique).
 * On Windows: the thread id, and setenv / unsetenv (there _putenv_s). */
#ifndef AX_TEST_OS_COMPAT_H
#define AX_TEST_OS_COMPAT_H

#ifdef _WIN32
#include <stdlib.h>
#include <windows.h>
/* Windows 10 1607+; older mingw-w64 headers do not declare it. */
HRESULT WINAPI GetThreadDescription(HANDLE thread, PWSTR *description);
static inline long test_thread_id(void) {
    return (long)GetCurrentThreadId();
}
/* The C runtime's environment (what getenv reads); "" removes a name. */
static inline int setenv(const char *name, const char *value, int overwrite) {
    if (!overwrite && getenv(name)) return 0;
    return _putenv_s(name, value) == 0 ? 0 : -1;
}
static inline int unsetenv(const char *name) {
    return _putenv_s(name, "") == 0 ? 0 : -1;
}
#else
#include "reactor/os_unix.h"

#if defined(__linux__)
#include <sys/syscall.h>
#endif

static inline long test_thread_id(void) {
#if defined(__linux__)
    return syscall(SYS_gettid);
#elif defined(__APPLE__)
    uint64_t id = 0;
    pthread_threadid_np(NULL, &id);
    return (long)id;
#else
    return (long)(uintptr_t)pthread_self();
#endif
}
#endif

#endif
