/* test/os_compat.h - the few OS calls tests make that differ on Windows:
 * the calling thread's id, and setenv / unsetenv (Windows: _putenv_s). */
#ifndef AX_TEST_OS_COMPAT_H
#define AX_TEST_OS_COMPAT_H

#ifdef _WIN32
#include <stdlib.h>
#include <windows.h>
/* Windows 10 1607+; older mingw-w64 headers do not declare it. */
HRESULT WINAPI GetThreadDescription(HANDLE thread, PWSTR *description);
static inline long ax_test_tid(void) {
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
#include <sys/syscall.h>
#include <unistd.h>
static inline long ax_test_tid(void) {
    return (long)syscall(SYS_gettid);
}
#endif

#endif
