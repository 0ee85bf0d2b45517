/* axon/error.h - error codes shared by every Axon module.
 *
 * Every public function that can fail returns an int: 0 (or a non-negative
 * count) on success, a negative AX_E* code on failure. A code means the same
 * thing on every operating system. On Unix the codes are the negated errno
 * values, so converting an OS error costs nothing; the Windows build maps its
 * own error numbers onto the same names.
 *
 * Thread-safety: everything here is pure and may be called from any thread.
 */
#ifndef AXON_ERROR_H
#define AXON_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The list is an X-macro so that names, messages and values cannot drift
 * apart: X(name, errno value, message). */
#define AX_ERRNO_MAP(X)                                                                            \
    X(EPERM, EPERM, "operation not permitted")                                                     \
    X(ENOENT, ENOENT, "no such file or directory")                                                 \
    X(EINTR, EINTR, "interrupted system call")                                                     \
    X(EIO, EIO, "i/o error")                                                                       \
    X(EBADF, EBADF, "bad file descriptor")                                                         \
    X(EAGAIN, EAGAIN, "resource temporarily unavailable")                                          \
    X(ENOMEM, ENOMEM, "not enough memory")                                                         \
    X(EACCES, EACCES, "permission denied")                                                         \
    X(EFAULT, EFAULT, "bad address in system call argument")                                       \
    X(EBUSY, EBUSY, "resource busy or locked")                                                     \
    X(EEXIST, EEXIST, "file already exists")                                                       \
    X(ENOTDIR, ENOTDIR, "not a directory")                                                         \
    X(EISDIR, EISDIR, "illegal operation on a directory")                                          \
    X(EINVAL, EINVAL, "invalid argument")                                                          \
    X(EMFILE, EMFILE, "too many open files")                                                       \
    X(ENOSPC, ENOSPC, "no space left on device")                                                   \
    X(EPIPE, EPIPE, "broken pipe")                                                                 \
    X(ERANGE, ERANGE, "result out of range")                                                       \
    X(ENAMETOOLONG, ENAMETOOLONG, "name too long")                                                 \
    X(ENOSYS, ENOSYS, "function not implemented")                                                  \
    X(ENOTEMPTY, ENOTEMPTY, "directory not empty")                                                 \
    X(ELOOP, ELOOP, "too many symbolic links encountered")                                         \
    X(ENOTSUP, ENOTSUP, "operation not supported")                                                 \
    X(EADDRINUSE, EADDRINUSE, "address already in use")                                            \
    X(EADDRNOTAVAIL, EADDRNOTAVAIL, "address not available")                                       \
    X(ENETUNREACH, ENETUNREACH, "network is unreachable")                                          \
    X(ECONNABORTED, ECONNABORTED, "software caused connection abort")                              \
    X(ECONNRESET, ECONNRESET, "connection reset by peer")                                          \
    X(ENOBUFS, ENOBUFS, "no buffer space available")                                               \
    X(EISCONN, EISCONN, "socket is already connected")                                             \
    X(ENOTCONN, ENOTCONN, "socket is not connected")                                               \
    X(ETIMEDOUT, ETIMEDOUT, "operation timed out")                                                 \
    X(ECONNREFUSED, ECONNREFUSED, "connection refused")                                            \
    X(EHOSTUNREACH, EHOSTUNREACH, "host is unreachable")                                           \
    X(EALREADY, EALREADY, "operation already in progress")                                         \
    X(EINPROGRESS, EINPROGRESS, "operation in progress")                                           \
    X(ECANCELED, ECANCELED, "operation canceled")                                                  \
    X(EMSGSIZE, EMSGSIZE, "message too long")                                                      \
    X(EAFNOSUPPORT, EAFNOSUPPORT, "address family not supported")                                  \
    X(ENOTSOCK, ENOTSOCK, "socket operation on non-socket")                                        \
    X(EPROTO, EPROTO, "protocol error")

/* Axon's own conditions that have no errno counterpart. They sit far below
 * any errno value so they never collide. */
#define AX_OWN_ERROR_MAP(X)                                                                        \
    X(EOF, -4095, "end of file")                                                                   \
    X(ECLOSED, -4094, "channel or handle closed")                                                  \
    X(EPOLICY, -4093, "denied by the runtime's permission policy")                                 \
    X(ESHUTDOWN, -4092, "runtime is shutting down")                                                \
    X(ENOTASK, -4091, "called outside an Axon task")                                               \
    X(EFAILED, -4090, "task failed")                                                               \
    X(ENXDOMAIN, -4089, "host name does not exist (NXDOMAIN)")                                     \
    X(ESERVFAIL, -4088, "name server failed (SERVFAIL or refused)")                                \
    X(ENOADDR, -4087, "host name has no address of the requested family")                          \
    X(EBADRESP, -4086, "malformed answer from the name server")                                    \
    X(EBADUTF8, -4085, "text is not valid UTF-8")                                                  \
    X(ETLS, -4084, "TLS protocol error")                                                           \
    X(ETLSALERT, -4083, "TLS peer sent a fatal alert")                                             \
    X(ETLSVERSION, -4082, "no TLS version in common")                                              \
    X(ETLSCIPHER, -4081, "no TLS cipher suite in common")                                          \
    X(ETLSALPN, -4080, "no application protocol (ALPN) in common")                                 \
    X(ETLSTRUNC, -4079, "TLS stream ended without close_notify")                                   \
    X(ECERTUNTRUSTED, -4078, "certificate not issued by a trusted authority")                      \
    X(ECERTEXPIRED, -4077, "certificate expired or not yet valid")                                 \
    X(ECERTNAME, -4076, "certificate does not match the host name or address")                     \
    X(ECERTSELF, -4075, "self-signed certificate")                                                 \
    X(ECERTREQUIRED, -4074, "peer sent no certificate")                                            \
    X(ECERT, -4073, "certificate rejected")                                                        \
    X(EREDIRECTS, -4072, "too many HTTP redirects")

enum {
#define AX__ERRNO_ENUM(name, val, msg) AX_##name = -(val),
    AX_ERRNO_MAP(AX__ERRNO_ENUM)
#undef AX__ERRNO_ENUM
#define AX__OWN_ENUM(name, val, msg) AX_##name = (val),
        AX_OWN_ERROR_MAP(AX__OWN_ENUM)
#undef AX__OWN_ENUM
};

/* A short English description of err ("operation timed out"). Never NULL:
 * unknown codes give "unknown error". The string is static. */
const char *ax_strerror(int err);

/* The symbolic name of err ("AX_ETIMEDOUT"), or "AX_UNKNOWN". Static. */
const char *ax_err_name(int err);

/* Converts an OS error number (errno on Unix) into an AX_E* code. */
int ax_translate_sys_error(int sys_errno);

#ifdef __cplusplus
}
#endif
#endif
