/* reactor/os_unix.h - internal (reactor/ and the layers above): the seams
 * between Linux and the other Unix systems Axon builds on (macOS, the BSDs).
 *
 * Each shim is a static inline function or a macro. On Linux it is the very
 * call the code made before (accept4, SOCK_NONBLOCK | SOCK_CLOEXEC, pipe2,
 * getrandom, signalfd, ...), so the Linux build gains no indirection; the
 * other branches emulate it with the portable calls (fcntl after socket,
 * SO_NOSIGPIPE, arc4random_buf, a kqueue of EVFILT_SIGNAL filters, ...).
 *
 * What cannot be emulated exactly is said next to the shim: on macOS and
 * the BSDs without the atomic flags, a descriptor is briefly inheritable
 * between its creation and the fcntl that marks it close-on-exec, so a
 * concurrent fork+exec in another thread may leak it (libuv has the same
 * window there).
 *
 * Only the macOS branches are compiled (make check-macos-compile, against
 * Zig's bundled macOS headers); none of them has run.
 *
 * Thread-safety: every shim is as thread-safe as the calls it makes.
 */
#ifndef AX_REACTOR_OS_UNIX_H
#define AX_REACTOR_OS_UNIX_H

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/signalfd.h>
#else
#include <stdlib.h> /* arc4random_buf */
#include <sys/event.h>
#include <sys/time.h>
#include <sys/uio.h> /* sendfile on macOS and FreeBSD */
#endif

/* O_PATH (Linux): a descriptor that names a file without opening it for
 * reading. Elsewhere a read-only open stands in; O_NONBLOCK keeps it from
 * blocking on a FIFO. Such a descriptor needs read permission, which
 * O_PATH does not. */
#ifndef O_PATH
#define O_PATH (O_RDONLY | O_NONBLOCK)
#endif

/* MSG_CMSG_CLOEXEC (Linux): received descriptors arrive close-on-exec.
 * Elsewhere it is 0 and ax__fd_cloexec marks each after recvmsg. */
#ifndef MSG_CMSG_CLOEXEC
#define MSG_CMSG_CLOEXEC 0
#endif

/* MSG_NOSIGNAL: where the system lacks it, every socket Axon creates or
 * accepts carries SO_NOSIGPIPE instead (see ax__sock_flags). */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* TCP keep-alive idle time: TCP_KEEPIDLE on Linux and the BSDs,
 * TCP_KEEPALIVE on macOS. */
#if !defined(TCP_KEEPIDLE) && defined(TCP_KEEPALIVE)
#define TCP_KEEPIDLE TCP_KEEPALIVE
#endif

/* The timestamps of a struct stat: st_atim etc. (POSIX.1-2008) on Linux
 * and the BSDs, st_atimespec etc. on macOS. */
#if defined(__APPLE__)
#define AX__ST_ATIM(st) ((st)->st_atimespec)
#define AX__ST_MTIM(st) ((st)->st_mtimespec)
#define AX__ST_CTIM(st) ((st)->st_ctimespec)
#else
#define AX__ST_ATIM(st) ((st)->st_atim)
#define AX__ST_MTIM(st) ((st)->st_mtim)
#define AX__ST_CTIM(st) ((st)->st_ctim)
#endif

static inline int ax__fd_cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    return f < 0 ? -1 : fcntl(fd, F_SETFD, f | FD_CLOEXEC);
}

static inline int ax__fd_nonblock(int fd) {
    int f = fcntl(fd, F_GETFL);
    return f < 0 ? -1 : fcntl(fd, F_SETFL, f | O_NONBLOCK);
}

/* Close-on-exec, nonblocking (if asked) and, where it exists, SO_NOSIGPIPE
 * on a fresh socket: what the flags of socket(2) do on Linux, for the
 * systems without them (defined everywhere, so Linux tests it too).
 * Returns fd, or -1 with errno set and fd closed. */
static inline int ax__sock_flags(int fd, int nonblock) {
    if (fd < 0) return -1;
    int one = 1;
    (void)one;
    if (ax__fd_cloexec(fd) < 0 || (nonblock && ax__fd_nonblock(fd) < 0)
#ifdef SO_NOSIGPIPE
        || setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one) < 0
#endif
    ) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* socket(2), close-on-exec, nonblocking when nonblock != 0. */
static inline int ax__socket(int domain, int type, int proto, int nonblock) {
#if defined(__linux__)
    return socket(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), proto);
#else
    return ax__sock_flags(socket(domain, type, proto), nonblock);
#endif
}

/* socketpair(2), both ends close-on-exec, nonblocking when asked. */
static inline int ax__socketpair(int domain, int type, int proto, int sv[2], int nonblock) {
#if defined(__linux__)
    return socketpair(domain, type | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), proto, sv);
#else
    if (socketpair(domain, type, proto, sv) < 0) return -1;
    if (ax__sock_flags(sv[0], nonblock) < 0) {
        int e = errno;
        close(sv[1]);
        errno = e;
        return -1;
    }
    if (ax__sock_flags(sv[1], nonblock) < 0) {
        int e = errno;
        close(sv[0]);
        errno = e;
        return -1;
    }
    return 0;
#endif
}

/* accept(2) whose result is nonblocking and close-on-exec (accept4 on
 * Linux). */
static inline int ax__accept_nb(int fd, struct sockaddr *sa, socklen_t *len) {
#if defined(__linux__)
    return accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
#else
    return ax__sock_flags(accept(fd, sa, len), 1);
#endif
}

/* pipe(2), both ends close-on-exec, nonblocking when asked. */
static inline int ax__pipe(int fds[2], int nonblock) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC | (nonblock ? O_NONBLOCK : 0));
#else
    if (pipe(fds) < 0) return -1;
    for (int i = 0; i < 2; i++) {
        if (ax__fd_cloexec(fds[i]) < 0 || (nonblock && ax__fd_nonblock(fds[i]) < 0)) {
            int e = errno;
            close(fds[0]);
            close(fds[1]);
            errno = e;
            return -1;
        }
    }
    return 0;
#endif
}

/* Sends up to count bytes of the file in_fd from *offset to the socket
 * out_sock and advances *offset by what was sent, as Linux's sendfile(2)
 * does. Returns the bytes sent (0 at end of file) or -1 with errno set
 * (EAGAIN when the socket is full and nothing was sent). macOS and FreeBSD
 * report a partial send as EAGAIN with the count filled in: that is a
 * success here. Other systems: ENOSYS. */
static inline ssize_t ax__sendfile(int out_sock, int in_fd, off_t *offset, size_t count) {
#if defined(__linux__)
    return sendfile(out_sock, in_fd, offset, count);
#elif defined(__APPLE__)
    off_t len = (off_t)count;
    int r = sendfile(in_fd, out_sock, *offset, &len, NULL, 0);
    if (r < 0 && !((errno == EAGAIN || errno == EINTR) && len > 0)) return -1;
    *offset += len;
    return (ssize_t)len;
#elif defined(__FreeBSD__) || defined(__DragonFly__)
    off_t sent = 0;
    int r = sendfile(in_fd, out_sock, *offset, count, NULL, &sent, 0);
    if (r < 0 && !((errno == EAGAIN || errno == EINTR || errno == EBUSY) && sent > 0)) return -1;
    *offset += sent;
    return (ssize_t)sent;
#else
    (void)out_sock;
    (void)in_fd;
    (void)offset;
    (void)count;
    errno = ENOSYS;
    return -1;
#endif
}

/* Fills buf with len random bytes without blocking. Returns len, or -1
 * when the kernel has no entropy yet (Linux, early boot). */
static inline ssize_t ax__random_bytes(void *buf, size_t len) {
#if defined(__linux__)
    return getrandom(buf, len, GRND_NONBLOCK);
#else
    arc4random_buf(buf, len);
    return (ssize_t)len;
#endif
}

/* fdatasync(2); on macOS, where fsync does not reach the disk's cache and
 * fdatasync is not declared, F_FULLFSYNC (falling back to fsync on file
 * systems that refuse it). */
static inline int ax__fdatasync(int fd) {
#if defined(__APPLE__)
    if (fcntl(fd, F_FULLFSYNC) == 0) return 0;
    return fsync(fd);
#else
    return fdatasync(fd);
#endif
}

/* A condition variable whose timed waits measure CLOCK_MONOTONIC (a wall
 * clock step must not stretch or cut a wait). macOS has no
 * pthread_condattr_setclock: there the wait is relative
 * (pthread_cond_timedwait_relative_np), computed from the monotonic clock. */
static inline int ax__cond_init_mono(pthread_cond_t *c) {
#if defined(__APPLE__)
    return pthread_cond_init(c, NULL);
#else
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    int e = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return e;
#endif
}

/* Waits on c (initialised by ax__cond_init_mono) until *abs, a
 * CLOCK_MONOTONIC time. Returns 0 or ETIMEDOUT, like
 * pthread_cond_timedwait. */
static inline int ax__cond_timedwait_mono(pthread_cond_t *c, pthread_mutex_t *m,
                                          const struct timespec *abs) {
#if defined(__APPLE__)
    struct timespec now, rel;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ns = ((int64_t)abs->tv_sec - (int64_t)now.tv_sec) * 1000000000 +
                 ((int64_t)abs->tv_nsec - (int64_t)now.tv_nsec);
    if (ns <= 0) return ETIMEDOUT;
    rel.tv_sec = (time_t)(ns / 1000000000);
    rel.tv_nsec = (long)(ns % 1000000000);
    return pthread_cond_timedwait_relative_np(c, m, &rel);
#else
    return pthread_cond_timedwait(c, m, abs);
#endif
}

/* A descriptor that becomes readable when one of the (blocked) signals in
 * set arrives: a signalfd on Linux; elsewhere a kqueue holding an
 * EVFILT_SIGNAL filter per signal (a kqueue descriptor is itself readable
 * while it has events). Returns the descriptor or -1 with errno set. */
static inline int ax__sigsrc_open(const sigset_t *set) {
#if defined(__linux__)
    return signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
#else
    int kq = kqueue();
    if (kq < 0) return -1;
    if (ax__fd_cloexec(kq) < 0) goto fail;
    for (int s = 1; s < NSIG; s++) {
        if (sigismember(set, s) != 1) continue;
        struct kevent ev;
        EV_SET(&ev, (uintptr_t)s, EVFILT_SIGNAL, EV_ADD | EV_CLEAR, 0, 0, NULL);
        if (kevent(kq, &ev, 1, NULL, 0, NULL) < 0) goto fail;
    }
    return kq;
fail:;
    int e = errno;
    close(kq);
    errno = e;
    return -1;
#endif
}

/* Reads up to max arrived signal numbers from a descriptor made by
 * ax__sigsrc_open, without blocking. Returns how many (0: none), or -1.
 * On kqueue the filter records every delivery attempt, and the blocked
 * signal stays pending in the process; it is taken with sigwait (which
 * returns at once for a pending signal), so that none is left pending for
 * the host to receive once it unblocks the signal. macOS may report the
 * attempt a moment before the signal is pending; such a signal is taken
 * at its next arrival (non-real-time signals merge while pending, and the
 * filter reports each attempt, so nothing is lost). */
static inline int ax__sigsrc_read(int fd, int *signos, int max) {
#if defined(__linux__)
    struct signalfd_siginfo si[16];
    if (max > 16) max = 16;
    ssize_t n = read(fd, si, sizeof(si[0]) * (size_t)max);
    if (n <= 0) return n < 0 && errno != EAGAIN ? -1 : 0;
    int k = (int)((size_t)n / sizeof(si[0]));
    for (int i = 0; i < k; i++) signos[i] = (int)si[i].ssi_signo;
    return k;
#else
    struct kevent evs[16];
    struct timespec zero = {0, 0};
    if (max > 16) max = 16;
    int n = kevent(fd, NULL, 0, evs, max, &zero);
    if (n <= 0) return n < 0 && errno != EINTR ? -1 : 0;
    for (int i = 0; i < n; i++) {
        int s = (int)evs[i].ident;
        sigset_t pending, one;
        if (sigpending(&pending) == 0 && sigismember(&pending, s) == 1) {
            int got;
            sigemptyset(&one);
            sigaddset(&one, s);
            (void)sigwait(&one, &got);
        }
        signos[i] = s;
    }
    return n;
#endif
}

#endif
