/* bench/echo/epoll_echo.c - minimal hand-written epoll echo server: the
 * practical floor for the echo benchmark.
 *
 * One thread, edge-triggered epoll, one shared 64 KiB read buffer. Whatever
 * a read returns is written straight back; if the socket takes only part of
 * it, the rest goes into that connection's pending buffer and the
 * connection stops reading until EPOLLOUT has flushed it (backpressure).
 * A connection costs a 24-byte struct while it has nothing pending.
 *
 * usage: epoll_echo --port P [--workers 1] [--timeout SECS]
 * Listens on 127.0.0.1:P; serves until SIGINT/SIGTERM or until SECS
 * (default 3600) have passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    unsigned pend_len, pend_off;
    char *pend; /* bytes read but not yet written back; NULL when none */
};

static volatile sig_atomic_t g_stop;
static char g_buf[65536];

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void conn_close(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->pend);
    free(c);
}

/* Returns 0 when everything was written, 1 when bytes remain, -1 on error. */
static int flush_pending(struct conn *c) {
    while (c->pend_off < c->pend_len) {
        ssize_t n = send(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off, MSG_NOSIGNAL);
        if (n > 0)
            c->pend_off += (unsigned)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 1;
        else
            return -1;
    }
    free(c->pend);
    c->pend = NULL;
    c->pend_len = c->pend_off = 0;
    return 0;
}

/* Edge-triggered: read until EAGAIN (or until a write backs up). */
static void serve(int ep, struct conn *c) {
    if (c->pend) {
        int r = flush_pending(c);
        if (r < 0) goto fail;
        if (r > 0) return; /* wait for EPOLLOUT */
    }
    for (;;) {
        ssize_t n = recv(c->fd, g_buf, sizeof g_buf, 0);
        if (n == 0) goto fail;
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            goto fail;
        }
        size_t off = 0;
        while (off < (size_t)n) {
            ssize_t w = send(c->fd, g_buf + off, (size_t)n - off, MSG_NOSIGNAL);
            if (w > 0) {
                off += (size_t)w;
            } else if (w < 0 && errno == EINTR) {
                continue;
            } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->pend_len = (unsigned)((size_t)n - off);
                c->pend_off = 0;
                c->pend = malloc(c->pend_len);
                if (!c->pend) goto fail;
                memcpy(c->pend, g_buf + off, c->pend_len);
                return; /* stop reading until EPOLLOUT drains it */
            } else {
                goto fail;
            }
        }
    }
fail:
    conn_close(ep, c);
}

int main(int argc, char **argv) {
    int port = 0;
    long timeout_s = 3600;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--workers")) {
            if (atoi(argv[i + 1]) != 1)
                fprintf(stderr, "epoll_echo: one worker only; ignoring --workers %s\n",
                        argv[i + 1]);
        } else if (!strcmp(argv[i], "--timeout"))
            timeout_s = atol(argv[i + 1]);
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: epoll_echo --port P [--workers 1] [--timeout SECS]\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, SOMAXCONN) != 0) {
        fprintf(stderr, "epoll_echo: listen on port %d: %s\n", port, strerror(errno));
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);

    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct epoll_event evs[256];
    while (!g_stop) {
        int n = epoll_wait(ep, evs, 256, 1000);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c) {
                serve(ep, c);
                continue;
            }
            for (;;) { /* accept all pending connections */
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED) continue;
                    if (errno != EAGAIN && errno != EWOULDBLOCK) perror("epoll_echo: accept4");
                    break;
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c) {
                    close(fd);
                    continue;
                }
                c->fd = fd;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                         .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
                    close(fd);
                    free(c);
                }
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec >= timeout_s) break;
    }
    close(lfd);
    close(ep);
    return 0;
}
