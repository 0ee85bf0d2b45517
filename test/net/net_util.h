/* test/net/net_util.h - helpers shared by the net/ tests: a runtime per
 * test, running a function as a task, and loopback listeners. */
#ifndef AX_TEST_NET_UTIL_H
#define AX_TEST_NET_UTIL_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <winsock2.h>
#else
#include <sys/resource.h>
#include <unistd.h>
#endif

#include "axon.h"
#include "test/executor/fixtures.h"
#include "test/win_skip.h"

/* A plain (not Axon) socket, for tests that play a raw peer: closed with
 * closesocket on Windows, close elsewhere. */
#ifdef _WIN32
typedef SOCKET raw_sock;
static inline void raw_close(raw_sock s) {
    closesocket(s);
}
static inline void raw_nonblocking(raw_sock s) {
    u_long on = 1;
    ioctlsocket(s, FIONBIO, &on);
}
#ifndef SOCK_NONBLOCK
#define SOCK_NONBLOCK 0
#define SOCK_CLOEXEC  0
#endif
#else
typedef int raw_sock;
static inline void raw_close(raw_sock s) {
    close(s);
}
static inline void raw_nonblocking(raw_sock s) {
    (void)s; /* opened with SOCK_NONBLOCK */
}
#endif

/* Runs fn(arg) as a task on rt and returns what it returned. */
static inline intptr_t run_task(void *(*fn)(void *), void *arg) {
    void *res = NULL;
    cr_assert_eq(ax_run(rt, fn, arg, &res), 0);
    return (intptr_t)res;
}

static inline ax_addr loopback(ax_family f, uint16_t port) {
    return ax_addr_loopback(f, port);
}

/* A listener on the loopback address of family f, ephemeral port. */
static inline ax_tcp_listener *listen_loopback(ax_family f, ax_addr *bound) {
    ax_addr a = loopback(f, 0);
    ax_tcp_listener *l;
    int err = ax_tcp_listen(&a, NULL, &l);
    cr_assert_eq(err, 0, "listen: %s", ax_strerror(err));
    cr_assert_eq(ax_tcp_listener_addr(l, bound), 0);
    return l;
}

#ifndef _WIN32
/* Raises the soft descriptor limit to the hard one; returns the new soft. */
static inline rlim_t raise_nofile(void) {
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
    return r.rlim_cur;
}
#endif

/* Resident set size of this process in KiB (VmRSS); -1 where /proc is
 * missing. */
static inline long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

#endif
