/* bench/echo/load.c - TCP echo load client (plain epoll, no Axon).
 *
 * Ping-pong mode (default): N connections to HOST:PORT; each sends a message
 * of S bytes, reads the S bytes back, checks them, and sends the next one.
 * After a warm-up of W seconds it measures for D seconds and prints one line
 * of key=value pairs:
 *
 *   msgs=M secs=T msgs_per_s=R p50_us=X p99_us=Y errors=E conns=N size=S
 *   client_cpu_util=U conn_msgs_min=A conn_msgs_max=B
 *   [server_cpu_s=C server_ns_per_msg=Z]
 *
 * With --pid PID it reads utime+stime of that process from /proc/PID/stat
 * at the start and at the end of the measured window, so the server's CPU
 * time per message covers exactly the messages counted.
 *
 * Idle mode (--idle N): opens N connections (optionally one 64-byte
 * round trip on each, --ping), prints "ready N" on stdout and holds them
 * until SIGINT/SIGTERM or until D seconds have passed.
 *
 * Latency is per message, from the first send to the last byte read back,
 * kept in a log-linear histogram (64 sub-buckets per power of two, < 1.6 %
 * error), so recording costs one clock read and one increment.
 *
 * Every run ends on its own: the connect phase has a 10 s timeout per
 * connection, the warm-up and the window are bounded, idle mode holds for D.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#define SUB_BITS       6
#define SUB            (1u << SUB_BITS)
#define NBUCKETS       (SUB * 40) /* up to ~2^45 ns: far beyond any run */
#define PATTERN_PERIOD 251        /* prime: message k of connection c starts at (c*31+k)%251 */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned bucket_of(uint64_t v) {
    if (v < SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* >= SUB_BITS */
    unsigned sub = (unsigned)(v >> (e - SUB_BITS)) & (SUB - 1);
    unsigned b = (e - SUB_BITS + 1) * SUB + sub;
    return b < NBUCKETS ? b : NBUCKETS - 1;
}

/* Middle of a bucket's range, in ns. */
static double bucket_value(unsigned b) {
    if (b < SUB) return b;
    unsigned e = b / SUB + SUB_BITS - 1, sub = b % SUB;
    double lo = (double)((uint64_t)(SUB + sub) << (e - SUB_BITS));
    double width = (double)(1ull << (e - SUB_BITS));
    return lo + width / 2;
}

struct conn {
    int fd;
    unsigned id;
    unsigned seq;      /* message number: selects the pattern offset */
    unsigned done;     /* messages completed inside the window */
    size_t sent, rcvd; /* bytes of the current message */
    uint64_t t0;       /* when its first byte was sent */
    unsigned char rd_ready, wr_ready, dead;
};

struct worker {
    pthread_t th;
    struct conn *conns;
    unsigned nconns;
    int ep;
    /* results of the measured window */
    uint64_t msgs, errors, hist[NBUCKETS];
};

static struct {
    const char *host, *port;
    unsigned conns, threads, idle;
    size_t size;
    double dur, warm;
    int ping;
    long pid;
    struct addrinfo *ai;
    unsigned char *pattern; /* PATTERN_PERIOD + size bytes */
} opt = {"127.0.0.1", NULL, 1, 1, 0, 64, 3.0, 0.5, 0, 0, NULL, NULL};

static _Atomic uint64_t g_start_ns, g_end_ns; /* window; workers read them */
static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static void die(const char *what) {
    fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void raise_nofile(void) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            fprintf(stderr, "load: setrlimit: %s\n", strerror(errno));
    }
}

/* Blocking connect with a 10 s timeout, then non-blocking, TCP_NODELAY. */
static int open_conn(void) {
    int fd = socket(opt.ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, opt.ai->ai_addr, opt.ai->ai_addrlen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static const unsigned char *msg_bytes(const struct conn *c) {
    return opt.pattern + (c->id * 31u + c->seq) % PATTERN_PERIOD;
}

static void conn_fail(struct worker *w, struct conn *c, const char *why) {
    if (c->dead) return;
    w->errors++;
    if (w->errors <= 5)
        fprintf(stderr, "load: connection %u: %s\n", c->id, why ? why : strerror(errno));
    epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->dead = 1;
}

/* Make as much progress on one connection as the socket allows. Edge-
 * triggered: rd_ready / wr_ready are cleared only when the kernel says the
 * socket is drained / full (EAGAIN or a short transfer), so no edge is lost. */
static void drive(struct worker *w, struct conn *c, unsigned char *scratch) {
    size_t S = opt.size;
    for (;;) {
        int progress = 0;
        if (c->sent < S && c->wr_ready) {
            if (c->sent == 0) c->t0 = now_ns();
            ssize_t n = send(c->fd, msg_bytes(c) + c->sent, S - c->sent, MSG_NOSIGNAL);
            if (n > 0) {
                c->sent += (size_t)n;
                if (c->sent < S) c->wr_ready = 0; /* short write: send buffer full */
                progress = 1;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                c->wr_ready = 0;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                conn_fail(w, c, NULL);
                return;
            }
        }
        if (c->rcvd < c->sent && c->rd_ready) {
            ssize_t n = recv(c->fd, scratch, S - c->rcvd, 0);
            if (n > 0) {
                if (memcmp(scratch, msg_bytes(c) + c->rcvd, (size_t)n) != 0) {
                    conn_fail(w, c, "echoed bytes differ from the bytes sent");
                    return;
                }
                if ((size_t)n < S - c->rcvd)
                    c->rd_ready = 0; /* short read: receive queue drained */
                c->rcvd += (size_t)n;
                progress = 1;
            } else if (n == 0) {
                conn_fail(w, c, "server closed the connection");
                return;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                c->rd_ready = 0;
            } else if (errno == EINTR) {
                continue;
            } else {
                conn_fail(w, c, NULL);
                return;
            }
        }
        if (c->rcvd == S) {
            uint64_t t = now_ns();
            uint64_t start = atomic_load_explicit(&g_start_ns, memory_order_relaxed);
            if (start && t >= start && t < atomic_load_explicit(&g_end_ns, memory_order_relaxed)) {
                w->msgs++;
                c->done++;
                w->hist[bucket_of(t - c->t0)]++;
            }
            c->seq++;
            c->sent = c->rcvd = 0;
            /* The whole echo was read and the server sends nothing else, so
             * the receive queue is empty: wait for the next edge. */
            c->rd_ready = 0;
            progress = 1;
        }
        if (!progress) return;
    }
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    unsigned char *scratch = malloc(opt.size);
    struct epoll_event *evs = malloc(sizeof *evs * 1024);
    if (!scratch || !evs) die("malloc");
    for (unsigned i = 0; i < w->nconns; i++) drive(w, &w->conns[i], scratch); /* first send */
    for (;;) {
        uint64_t end = atomic_load_explicit(&g_end_ns, memory_order_relaxed);
        if (g_stop || (end && now_ns() >= end)) break;
        int n = epoll_wait(w->ep, evs, 1024, 20);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) c->rd_ready = 1;
            if (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) c->wr_ready = 1;
            drive(w, c, scratch);
        }
    }
    free(scratch);
    free(evs);
    return NULL;
}

/* utime + stime of a process, in seconds; -1 when unreadable. */
static double proc_cpu_s(long pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p) return -1;
    /* After ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15). */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU time of this process (all threads), in seconds. */
static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void sleep_until(uint64_t t) {
    for (;;) {
        uint64_t n = now_ns();
        if (n >= t) return;
        uint64_t d = t - n;
        struct timespec ts = {(time_t)(d / 1000000000u), (long)(d % 1000000000u)};
        nanosleep(&ts, NULL);
    }
}

static int run_idle(void) {
    int *fds = malloc(sizeof *fds * opt.idle);
    if (!fds) die("malloc");
    unsigned n = 0;
    unsigned char buf[64];
    for (; n < opt.idle && !g_stop; n++) {
        fds[n] = open_conn();
        if (fds[n] < 0) {
            fprintf(stderr, "load: idle connect %u: %s\n", n, strerror(errno));
            break;
        }
        if (opt.ping) { /* one blocking 64-byte round trip */
            struct timeval tv = {10, 0};
            setsockopt(fds[n], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            memset(buf, 'x', sizeof buf);
            size_t got = 0;
            if (send(fds[n], buf, sizeof buf, MSG_NOSIGNAL) != (ssize_t)sizeof buf)
                die("idle ping send");
            while (got < sizeof buf) {
                ssize_t r = recv(fds[n], buf, sizeof buf - got, 0);
                if (r <= 0) die("idle ping recv");
                got += (size_t)r;
            }
        }
    }
    printf("ready %u\n", n);
    fflush(stdout);
    uint64_t end = now_ns() + (uint64_t)(opt.dur * 1e9);
    while (!g_stop && now_ns() < end) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < n; i++) close(fds[i]);
    free(fds);
    return n == opt.idle ? 0 : 1;
}

static void usage(void) {
    fprintf(stderr,
            "usage: load -p PORT [-H HOST] [-c CONNS] [-s SIZE] [-d SECS] [-w WARMUP_SECS]\n"
            "            [-t THREADS] [--pid SERVER_PID]\n"
            "       load -p PORT [-H HOST] --idle N [--ping] [-d HOLD_SECS]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE()                                                                                     \
    do {                                                                                           \
        if (!v) usage();                                                                           \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "-H") || !strcmp(a, "--host")) {
            TAKE();
            opt.host = v;
        } else if (!strcmp(a, "-p") || !strcmp(a, "--port")) {
            TAKE();
            opt.port = v;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--conns")) {
            TAKE();
            opt.conns = (unsigned)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "-s") || !strcmp(a, "--size")) {
            TAKE();
            opt.size = strtoul(v, NULL, 10);
        } else if (!strcmp(a, "-d") || !strcmp(a, "--duration")) {
            TAKE();
            opt.dur = strtod(v, NULL);
        } else if (!strcmp(a, "-w") || !strcmp(a, "--warmup")) {
            TAKE();
            opt.warm = strtod(v, NULL);
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            TAKE();
            opt.threads = (unsigned)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "--pid")) {
            TAKE();
            opt.pid = strtol(v, NULL, 10);
        } else if (!strcmp(a, "--idle")) {
            TAKE();
            opt.idle = (unsigned)strtoul(v, NULL, 10);
        } else if (!strcmp(a, "--ping"))
            opt.ping = 1;
        else
            usage();
#undef TAKE
    }
    if (!opt.port || opt.size == 0 || opt.conns == 0 || opt.threads == 0 || opt.dur <= 0 ||
        opt.warm < 0)
        usage();
    if (opt.threads > opt.conns) opt.threads = opt.conns;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
    int gai = getaddrinfo(opt.host, opt.port, &hints, &opt.ai);
    if (gai != 0) {
        fprintf(stderr, "load: %s:%s: %s\n", opt.host, opt.port, gai_strerror(gai));
        return 2;
    }
    if (opt.idle) return run_idle();

    opt.pattern = malloc(PATTERN_PERIOD + opt.size);
    if (!opt.pattern) die("malloc");
    for (size_t i = 0; i < PATTERN_PERIOD + opt.size; i++)
        opt.pattern[i] = (unsigned char)(i % PATTERN_PERIOD);

    struct worker *ws = calloc(opt.threads, sizeof *ws);
    if (!ws) die("calloc");
    unsigned id = 0;
    for (unsigned t = 0; t < opt.threads; t++) {
        struct worker *w = &ws[t];
        w->nconns = opt.conns / opt.threads + (t < opt.conns % opt.threads);
        w->conns = calloc(w->nconns, sizeof *w->conns);
        w->ep = epoll_create1(EPOLL_CLOEXEC);
        if (!w->conns || w->ep < 0) die("setup");
        for (unsigned i = 0; i < w->nconns; i++) {
            struct conn *c = &w->conns[i];
            c->id = id++;
            c->fd = open_conn();
            if (c->fd < 0) {
                fprintf(stderr, "load: connect %u: %s\n", c->id, strerror(errno));
                return 2;
            }
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
            c->wr_ready = 1;
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
            if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) die("epoll_ctl");
        }
    }

    /* The window: [t0 + warm, t0 + warm + dur). */
    uint64_t t0 = now_ns();
    uint64_t start = t0 + (uint64_t)(opt.warm * 1e9);
    uint64_t end = start + (uint64_t)(opt.dur * 1e9);
    for (unsigned t = 0; t < opt.threads; t++)
        if (pthread_create(&ws[t].th, NULL, worker_main, &ws[t]) != 0) die("pthread_create");
    sleep_until(start);
    double cpu0 = opt.pid ? proc_cpu_s(opt.pid) : -1, self0 = self_cpu_s();
    atomic_store(&g_start_ns, start);
    atomic_store(&g_end_ns, end);
    sleep_until(end);
    double cpu1 = opt.pid ? proc_cpu_s(opt.pid) : -1, self1 = self_cpu_s();
    for (unsigned t = 0; t < opt.threads; t++) pthread_join(ws[t].th, NULL);

    uint64_t msgs = 0, errors = 0, hist[NBUCKETS] = {0};
    unsigned alive = 0, cmin = ~0u, cmax = 0;
    for (unsigned t = 0; t < opt.threads; t++) {
        msgs += ws[t].msgs;
        errors += ws[t].errors;
        for (unsigned b = 0; b < NBUCKETS; b++) hist[b] += ws[t].hist[b];
        for (unsigned i = 0; i < ws[t].nconns; i++) {
            alive += !ws[t].conns[i].dead;
            unsigned d = ws[t].conns[i].done;
            cmin = d < cmin ? d : cmin;
            cmax = d > cmax ? d : cmax;
            if (!ws[t].conns[i].dead) close(ws[t].conns[i].fd);
        }
    }
    double p50 = 0, p99 = 0;
    uint64_t acc = 0, r50 = (msgs + 1) / 2, r99 = (msgs * 99 + 99) / 100;
    for (unsigned b = 0; b < NBUCKETS && msgs; b++) {
        uint64_t before = acc;
        acc += hist[b];
        if (before < r50 && acc >= r50) p50 = bucket_value(b);
        if (before < r99 && acc >= r99) {
            p99 = bucket_value(b);
            break;
        }
    }
    double secs = opt.dur;
    printf("msgs=%llu secs=%.3f msgs_per_s=%.0f p50_us=%.1f p99_us=%.1f errors=%llu conns=%u "
           "alive=%u size=%zu",
           (unsigned long long)msgs, secs, (double)msgs / secs, p50 / 1e3, p99 / 1e3,
           (unsigned long long)errors, opt.conns, alive, opt.size);
    /* Client CPU per thread near 1.0 means the client was the bottleneck. */
    printf(" client_cpu_util=%.2f", (self1 - self0) / secs / opt.threads);
    /* Fairness: the fewest and the most messages one connection completed. */
    printf(" conn_msgs_min=%u conn_msgs_max=%u", cmin, cmax);
    if (opt.pid) {
        if (cpu0 >= 0 && cpu1 >= 0 && msgs)
            printf(" server_cpu_s=%.2f server_ns_per_msg=%.0f", cpu1 - cpu0,
                   (cpu1 - cpu0) * 1e9 / (double)msgs);
        else
            printf(" server_cpu_s=NA server_ns_per_msg=NA");
    }
    printf("\n");
    freeaddrinfo(opt.ai);
    return errors ? 1 : 0;
}
