/* epoll_http.c - the floor for bench/http: a minimal hand-written HTTP/1.1
 * responder. One thread, edge-triggered epoll, one shared 64 KiB read
 * buffer. Every complete request in what was read is answered, and all the
 * answers of one read go out in one write. It knows two paths: /json
 * answers {"message":"Hello, World!"} as application/json, anything else
 * "Hello, World!" as text/plain, whatever the method (TechEmpower's bytes,
 * with Server and a Date refreshed once a second). A request body announced
 * by Content-Length is skipped. It parses only what it needs (no
 * validation): a reference for speed, not a server.
 *
 * A connection holds a small record (fd, leftover input only when a request
 * was cut in two by a read, unsent output only when a write was short), so
 * an idle keep-alive connection costs a few dozen bytes.
 *
 *   epoll_http --port P [--workers N]   (N is accepted and ignored: one thread)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF     (64 * 1024)
#define MAX_HEAD 8192

typedef struct conn {
    char *in; /* leftover bytes of a partial request, or NULL */
    size_t in_len;
    size_t skip; /* body bytes still to discard */
    char *out;   /* unsent output, or NULL */
    size_t out_len, out_off;
} conn;

static conn **conns; /* by fd */
static size_t nconns;
static char rbuf[RBUF];
static char date_hdr[64]; /* "Date: ...\r\n" */
static time_t date_sec;
static volatile sig_atomic_t stop;

static char *obuf;
static size_t ocap, olen;

static void on_signal(int s) {
    (void)s;
    stop = 1;
}

static void refresh_date(void) {
    time_t now = time(NULL);
    if (now == date_sec) return;
    date_sec = now;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date_hdr, sizeof date_hdr, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

static void out_put(const char *p, size_t n) {
    if (olen + n > ocap) {
        while (olen + n > ocap) ocap = ocap ? ocap * 2 : RBUF;
        obuf = realloc(obuf, ocap);
        if (!obuf) abort();
    }
    memcpy(obuf + olen, p, n);
    olen += n;
}

static void respond(int json) {
    static const char plain[] = "Hello, World!";
    static const char js[] = "{\"message\":\"Hello, World!\"}";
    static const char head[] = "HTTP/1.1 200 OK\r\nServer: epoll\r\n";
    char tail[96];
    int n =
        snprintf(tail, sizeof tail, "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
                 json ? "application/json" : "text/plain", json ? sizeof js - 1 : sizeof plain - 1);
    out_put(head, sizeof head - 1);
    out_put(date_hdr, strlen(date_hdr));
    out_put(tail, (size_t)n);
    if (json)
        out_put(js, sizeof js - 1);
    else
        out_put(plain, sizeof plain - 1);
}

/* The value of Content-Length in the header block [p, end), or 0. */
static size_t content_length(const char *p, const char *end) {
    static const char name[] = "\r\ncontent-length:";
    for (const char *q = p; q + sizeof name - 1 < end; q++) {
        if (*q == '\r' && strncasecmp(q, name, sizeof name - 1) == 0) {
            q += sizeof name - 1;
            while (q < end && *q == ' ') q++;
            size_t v = 0;
            while (q < end && *q >= '0' && *q <= '9') v = v * 10 + (size_t)(*q++ - '0');
            return v;
        }
    }
    return 0;
}

/* Answers every complete request in [p, p+n); returns how many bytes were
 * consumed (the rest is a partial request), or -1 for a hopeless one. */
static long handle(conn *c, const char *p, size_t n) {
    size_t off = 0;
    for (;;) {
        if (c->skip) {
            size_t k = n - off < c->skip ? n - off : c->skip;
            c->skip -= k;
            off += k;
            if (c->skip) return (long)off;
        }
        const char *s = p + off;
        size_t left = n - off;
        if (left == 0) return (long)off;
        const char *e = memmem(s, left, "\r\n\r\n", 4);
        if (!e) return left > MAX_HEAD ? -1 : (long)off;
        size_t head = (size_t)(e - s) + 4;
        const char *sp = memchr(s, ' ', head);
        int json = sp && (size_t)(e - sp) > 6 && memcmp(sp, " /json ", 7) == 0;
        respond(json);
        c->skip = content_length(s, e + 2);
        off += head;
    }
}

static void drop(int ep, int fd) {
    conn *c = conns[fd];
    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    close(fd);
    if (c) {
        free(c->in);
        free(c->out);
        free(c);
        conns[fd] = NULL;
    }
}

/* Writes obuf (and any earlier unsent output first); keeps what the socket
 * does not take. Returns -1 when the connection failed. */
static int flush(conn *c, int fd) {
    if (c->out) { /* earlier output waits: queue behind it */
        size_t pend = c->out_len - c->out_off;
        char *m = malloc(pend + olen);
        if (!m) abort();
        memcpy(m, c->out + c->out_off, pend);
        memcpy(m + pend, obuf, olen);
        free(c->out);
        c->out = m;
        c->out_len = pend + olen;
        c->out_off = 0;
        olen = 0;
    } else if (olen) {
        ssize_t w = write(fd, obuf, olen);
        if (w < 0 && errno != EAGAIN) return -1;
        if (w < 0) w = 0;
        if ((size_t)w < olen) {
            c->out = malloc(olen - (size_t)w);
            if (!c->out) abort();
            memcpy(c->out, obuf + w, olen - (size_t)w);
            c->out_len = olen - (size_t)w;
            c->out_off = 0;
        }
        olen = 0;
        return 0;
    }
    while (c->out && c->out_off < c->out_len) {
        ssize_t w = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0) return errno == EAGAIN ? 0 : -1;
        c->out_off += (size_t)w;
    }
    free(c->out);
    c->out = NULL;
    return 0;
}

static void on_readable(int ep, int fd) {
    conn *c = conns[fd];
    for (;;) {
        size_t have = 0;
        if (c->in) { /* a partial request from the last read goes first */
            memcpy(rbuf, c->in, c->in_len);
            have = c->in_len;
            free(c->in);
            c->in = NULL;
            c->in_len = 0;
        }
        ssize_t r = read(fd, rbuf + have, RBUF - have);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            drop(ep, fd);
            return;
        }
        if (r < 0) r = 0;
        size_t n = have + (size_t)r;
        long used = handle(c, rbuf, n);
        if (used < 0) {
            drop(ep, fd);
            return;
        }
        if ((size_t)used < n) {
            c->in_len = n - (size_t)used;
            c->in = malloc(c->in_len);
            if (!c->in) abort();
            memcpy(c->in, rbuf + used, c->in_len);
        }
        if (flush(c, fd) < 0) {
            drop(ep, fd);
            return;
        }
        if (r == 0 || (size_t)r < RBUF - have) return; /* drained: wait for the next edge */
    }
}

static void on_accept(int ep, int lfd) {
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if ((size_t)fd >= nconns) {
            size_t m = nconns ? nconns : 1024;
            while (m <= (size_t)fd) m *= 2;
            conns = realloc(conns, m * sizeof *conns);
            if (!conns) abort();
            memset(conns + nconns, 0, (m - nconns) * sizeof *conns);
            nconns = m;
        }
        conns[fd] = calloc(1, sizeof(conn));
        if (!conns[fd]) abort();
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
}

int main(int argc, char **argv) {
    int port = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") != 0) {
            fprintf(stderr, "usage: %s --port P [--workers N]\n", argv[0]);
            return 2;
        }
    }
    if (port <= 0) {
        fprintf(stderr, "usage: %s --port P [--workers N]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((unsigned short)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0) {
        perror("epoll_http: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.fd = lfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    refresh_date();

    struct epoll_event evs[512];
    while (!stop) {
        int n = epoll_wait(ep, evs, 512, 1000);
        refresh_date();
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                on_accept(ep, lfd);
                continue;
            }
            conn *c = (size_t)fd < nconns ? conns[fd] : NULL;
            if (!c) continue;
            if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
                on_readable(ep, fd);
            else if ((evs[i].events & EPOLLOUT) && c->out && flush(c, fd) < 0)
                drop(ep, fd);
        }
    }
    return 0;
}
