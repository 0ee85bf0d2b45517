/* The platform shims of reactor/os_unix.h, on the system the suite runs on:
 * descriptor flags from ax__socket / ax__socketpair / ax__pipe /
 * ax__accept_nb and from the fcntl emulation the other systems use,
 * sendfile's offset bookkeeping, the signal source, the monotonic timed
 * wait, and their failures on bad descriptors. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int is_cloexec(int fd) {
    int f = fcntl(fd, F_GETFD);
    cr_assert_geq(f, 0);
    return (f & FD_CLOEXEC) != 0;
}

static int is_nonblock(int fd) {
    int f = fcntl(fd, F_GETFL);
    cr_assert_geq(f, 0);
    return (f & O_NONBLOCK) != 0;
}

Test(os_unix, socket_flags) {
    int a = ax__socket(AF_INET, SOCK_STREAM, 0, 1);
    int b = ax__socket(AF_INET, SOCK_DGRAM, 0, 0);
    cr_assert_geq(a, 0);
    cr_assert_geq(b, 0);
    cr_assert(is_cloexec(a) && is_nonblock(a));
    cr_assert(is_cloexec(b) && !is_nonblock(b));
    close(a);
    close(b);
    cr_assert_eq(ax__socket(-1, SOCK_STREAM, 0, 1), -1, "a bad family fails");
    cr_assert_eq(errno, EAFNOSUPPORT);
}

/* The emulation macOS and the BSDs use, run here on a plain socket. */
Test(os_unix, sock_flags_emulation) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(fd, 0);
    cr_assert(!is_cloexec(fd) && !is_nonblock(fd));
    cr_assert_eq(ax__sock_flags(fd, 1), fd);
    cr_assert(is_cloexec(fd) && is_nonblock(fd));
    close(fd);
    cr_assert_eq(ax__sock_flags(-1, 1), -1, "a failed socket() passes through");
    int r = open("/dev/null", O_RDONLY);
    cr_assert_geq(r, 0);
    close(r);
    errno = 0;
    cr_assert_eq(ax__sock_flags(r, 0), -1, "a closed descriptor fails");
    cr_assert_eq(errno, EBADF);
}

Test(os_unix, pipe_and_socketpair_flags) {
    int p[2], q[2], sv[2];
    cr_assert_eq(ax__pipe(p, 0), 0);
    cr_assert_eq(ax__pipe(q, 1), 0);
    cr_assert_eq(ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 1), 0);
    for (int i = 0; i < 2; i++) {
        cr_assert(is_cloexec(p[i]) && !is_nonblock(p[i]));
        cr_assert(is_cloexec(q[i]) && is_nonblock(q[i]));
        cr_assert(is_cloexec(sv[i]) && is_nonblock(sv[i]));
    }
    char c;
    cr_assert_eq(read(q[0], &c, 1), -1, "an empty nonblocking pipe does not block");
    cr_assert_eq(errno, EAGAIN);
    for (int i = 0; i < 2; i++) {
        close(p[i]);
        close(q[i]);
        close(sv[i]);
    }
    cr_assert_eq(ax__socketpair(AF_INET, SOCK_STREAM, 0, sv, 0), -1, "no AF_INET pairs");
}

Test(os_unix, accept_nb) {
    int l = ax__socket(AF_INET, SOCK_STREAM, 0, 1);
    cr_assert_geq(l, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    cr_assert_eq(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
    cr_assert_eq(listen(l, 4), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);
    cr_assert_eq(ax__accept_nb(l, NULL, NULL), -1, "nothing pending");
    cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    int c = ax__socket(AF_INET, SOCK_STREAM, 0, 0);
    cr_assert_eq(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int a = -1;
    /* The connection is queued once connect returned; accept may still
     * race the kernel's handshake bookkeeping, so poll for it. */
    for (int i = 0; i < 1000 && a < 0; i++) {
        a = ax__accept_nb(l, (struct sockaddr *)&peer, &plen);
        if (a < 0) usleep(1000);
    }
    cr_assert_geq(a, 0);
    cr_assert(is_cloexec(a) && is_nonblock(a));
    cr_assert_eq(peer.ss_family, AF_INET);
    close(a);
    close(c);
    close(l);
    cr_assert_eq(ax__accept_nb(l, NULL, NULL), -1);
    cr_assert_eq(errno, EBADF);
}

Test(os_unix, random_bytes) {
    unsigned char a[32], b[32];
    cr_assert_eq(ax__random_bytes(a, sizeof a), (ssize_t)sizeof a);
    cr_assert_eq(ax__random_bytes(b, sizeof b), (ssize_t)sizeof b);
    cr_assert_neq(memcmp(a, b, sizeof a), 0, "two draws of 256 bits differ");
}

Test(os_unix, sendfile_advances_offset) {
    char path[] = "/tmp/axon_os_unix_XXXXXX";
    int f = mkstemp(path);
    cr_assert_geq(f, 0);
    unlink(path);
    char data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)('a' + i % 26);
    cr_assert_eq(write(f, data, sizeof data), (ssize_t)sizeof data);
    int sv[2];
    cr_assert_eq(ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 0), 0);
    off_t off = 1000;
    cr_assert_eq(ax__sendfile(sv[0], f, &off, 1500), 1500);
    cr_assert_eq(off, 2500);
    cr_assert_eq(ax__sendfile(sv[0], f, &off, 1500), 500, "stops at the end of the file");
    cr_assert_eq(off, 3000);
    cr_assert_eq(ax__sendfile(sv[0], f, &off, 100), 0, "end of file");
    char got[2000];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t k = read(sv[1], got + n, sizeof got - n);
        cr_assert_gt(k, 0);
        n += (size_t)k;
    }
    cr_assert_eq(memcmp(got, data + 1000, sizeof got), 0);
    cr_assert_eq(ax__sendfile(sv[0], -1, &off, 10), -1, "a bad file");
    cr_assert_eq(off, 3000, "a failure leaves the offset alone");
    close(sv[0]);
    close(sv[1]);
    close(f);
    cr_assert_eq(ax__fdatasync(f), -1);
    cr_assert_eq(errno, EBADF);
}

Test(os_unix, signal_source) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    cr_assert_eq(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
    int fd = ax__sigsrc_open(&set);
    cr_assert_geq(fd, 0);
    cr_assert(is_cloexec(fd));
    int signos[4];
    cr_assert_eq(ax__sigsrc_read(fd, signos, 4), 0, "nothing arrived yet");
    cr_assert_eq(raise(SIGUSR1), 0); /* to this thread, which blocks it */
    int n = 0;
    for (int i = 0; i < 1000 && n == 0; i++) {
        n = ax__sigsrc_read(fd, signos, 4);
        if (n == 0) usleep(1000);
    }
    cr_assert_eq(n, 1);
    cr_assert_eq(signos[0], SIGUSR1);
    cr_assert_eq(ax__sigsrc_read(fd, signos, 4), 0, "taken once");
    close(fd);
    cr_assert_eq(ax__sigsrc_read(fd, signos, 4), -1, "a closed source fails");
}

Test(os_unix, cond_timedwait_mono_times_out) {
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t c;
    cr_assert_eq(ax__cond_init_mono(&c), 0);
    struct timespec t0, abs, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    abs = t0;
    abs.tv_nsec += 20 * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m);
    int rc;
    do rc = ax__cond_timedwait_mono(&c, &m, &abs);
    while (rc == 0); /* spurious wake-ups */
    pthread_mutex_unlock(&m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cr_assert_eq(rc, ETIMEDOUT);
    int64_t ms = ((int64_t)t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    cr_assert_geq(ms, 19, "waited %lld ms of 20", (long long)ms);
    /* A deadline already past times out at once. */
    pthread_mutex_lock(&m);
    cr_assert_eq(ax__cond_timedwait_mono(&c, &m, &t0), ETIMEDOUT);
    pthread_mutex_unlock(&m);
    pthread_cond_destroy(&c);
}
