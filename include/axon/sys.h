/* axon/sys.h - the few operating-system types the public headers use
 * (struct iovec, ssize_t, sigset_t, uid_t/gid_t), so they read the same on
 * Unix and on Windows (mingw-w64).
 *
 * On Unix this only includes the system headers that define them. On
 * Windows, where they do not exist, it defines them: struct iovec with the
 * POSIX field names (the reactor converts to WSABUF itself), sigset_t as
 * mingw-w64's _sigset_t (signal waiting is not supported there and returns
 * AX_ENOTSUP), uid_t and gid_t as unsigned int (Windows has no Unix
 * credentials; see axon/unix.h).
 *
 * Thread-safety: declarations only.
 */
#ifndef AXON_SYS_H
#define AXON_SYS_H

#include <stddef.h>
#include <sys/types.h>

#ifdef _WIN32
#include <signal.h>
#ifndef AX_HAVE_STRUCT_IOVEC
#define AX_HAVE_STRUCT_IOVEC 1
struct iovec {
    void *iov_base;
    size_t iov_len;
};
#endif
#ifndef _POSIX
typedef _sigset_t sigset_t;
#endif
#ifndef AX_HAVE_UID_T
#define AX_HAVE_UID_T 1
typedef unsigned int uid_t;
typedef unsigned int gid_t;
#endif
#else
#include <signal.h>
#include <sys/uio.h>
#endif

#endif
