/* test/os_compat.h - the few OS-specific calls the tests make, so the same
 * test sources compile for Linux and (make check-macos-compile) macOS.
 * Descriptor set-up goes through the library's own shims
 * (reactor/os_unix.h: ax__pipe, ax__socket, ax__socketpair); this adds the
 * kernel thread id, which the tests use to tell threads apart (a joined
 * thread's pthread_t may be reused, a live thread's id is unique). */
#ifndef AX_TEST_OS_COMPAT_H
#define AX_TEST_OS_COMPAT_H

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
