/* idle_client.c - holds N idle HTTP/1.1 keep-alive connections, for the
 * resident-memory-per-connection figure of bench/http (issue 8).
 *
 * Opens N connections to 127.0.0.1:PORT (at most 256 connects in flight),
 * sends one `GET PATH HTTP/1.1` on each, reads the whole response (status
 * line, headers, Content-Length body), and then leaves the connection open
 * and silent. When all N have their answer it prints `ready N` (or
 * `failed K of N` and exits 1 when some could not connect or got no 200),
 * then holds them until SIGTERM/SIGINT or -d SECS have passed.
 * The server must run in another process: each side holds N descriptors and
 * the open-file hard limit here is 20,000; this raises its own soft limit.
 *
 *   idle_client -p PORT [-n N] [-d SECS] [--path /]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define INFLIGHT 256

enum { CONNECTING, READING, DONE, FAILED };

typedef struct {
    int fd;
    int state;
    size_t got; /* response bytes read so far */
    char head[1024];
} slot;

static volatile sig_atomic_t stop;
static void on_signal(int s) {
    (void)s;
    stop = 1;
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* True once head[0..got) holds a whole response; *ok tells whether it is a 200. */
static int response_complete(slot *s, int *ok) {
    char *e = memmem(s->head, s->got, "\r\n\r\n", 4);
    if (!e) return 0;
    size_t hlen = (size_t)(e - s->head) + 4;
    size_t clen = 0;
    for (char *q = s->head; q < e; q++) {
        if (*q == '\n' && strncasecmp(q + 1, "content-length:", 15) == 0) {
            clen = strtoul(q + 16, NULL, 10);
            break;
        }
    }
    *ok = s->got >= 12 && memcmp(s->head + 9, "200", 3) == 0;
    return s->got >= hlen + clen;
}

int main(int argc, char **argv) {
    int port = 0, n = 10000;
    double hold = 60;
    const char *path = "/";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-n") == 0)
            n = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-d") == 0)
            hold = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--path") == 0)
            path = argv[i + 1];
        else {
            fprintf(stderr, "usage: %s -p PORT [-n N] [-d SECS] [--path /]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0 || n <= 0) {
        fprintf(stderr, "usage: %s -p PORT [-n N] [-d SECS] [--path /]\n", argv[0]);
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    char req[512];
    int rlen =
        snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
    slot *s = calloc((size_t)n, sizeof *s);
    if (!s) return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int next = 0, inflight = 0, done = 0, failed = 0;
    double deadline = now_s() + 60; /* to get every connection its answer */
    struct epoll_event evs[256];
    while (done + failed < n && !stop && now_s() < deadline) {
        while (next < n && inflight < INFLIGHT) {
            slot *c = &s[next];
            c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c->fd < 0) {
                perror("idle_client: socket");
                c->state = FAILED;
                failed++;
                next++;
                continue;
            }
            int r = connect(c->fd, (struct sockaddr *)&a, sizeof a);
            if (r < 0 && errno != EINPROGRESS) {
                c->state = FAILED;
                failed++;
                close(c->fd);
                next++;
                continue;
            }
            c->state = CONNECTING;
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (unsigned)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            inflight++;
            next++;
        }
        int k = epoll_wait(ep, evs, 256, 100);
        for (int i = 0; i < k; i++) {
            slot *c = &s[evs[i].data.u32];
            if (c->state == CONNECTING && (evs[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || write(c->fd, req, (size_t)rlen) != rlen) {
                    c->state = FAILED;
                } else {
                    c->state = READING;
                    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[i].data.u32};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                    continue;
                }
            } else if (c->state == READING) {
                ssize_t r = read(c->fd, c->head + c->got, sizeof c->head - c->got);
                if (r < 0 && errno == EAGAIN) continue;
                int ok = 0;
                if (r > 0) {
                    c->got += (size_t)r;
                    if (!response_complete(c, &ok)) {
                        if (c->got < sizeof c->head) continue;
                    } else if (ok) {
                        c->state = DONE;
                    }
                }
                if (c->state != DONE) c->state = FAILED;
            } else {
                continue;
            }
            /* DONE or FAILED: off epoll; a done connection stays open and idle. */
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            inflight--;
            if (c->state == DONE) {
                done++;
            } else {
                failed++;
                close(c->fd);
            }
        }
    }
    if (done < n) {
        printf("failed %d of %d (%d answered)\n", n - done, n, done);
        fflush(stdout);
        return 1;
    }
    printf("ready %d\n", n);
    fflush(stdout);
    double end = now_s() + hold;
    while (!stop && now_s() < end) usleep(50000);
    return 0;
}
