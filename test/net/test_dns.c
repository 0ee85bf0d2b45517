/* DNS: the stub resolver against a real dnsmasq the test starts on
 * 127.0.0.1 at a free port (A, AAAA, CNAME, NXDOMAIN, no data, truncation
 * to TCP, search list and ndots), and against small fake servers in a
 * thread of the test for what dnsmasq cannot be made to do (silence,
 * SERVFAIL, malformed answers, counting queries for the TTL cache and
 * for shared look-ups). Plus literals, bad names, the hosts file,
 * resolv.conf parsing, the runtime's default resolver and getaddrinfo. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "axon.h"
#include "axon/dns.h"
#include "test/executor/fixtures.h"
#include "test/started.h"

static void sleep_ms(unsigned ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts)) {
    }
}

static uint64_t ms_since(ax_instant t0) {
    return (ax_now() - t0) / 1000000u;
}

/* A port free on 127.0.0.1 for both UDP and TCP (a race with other
 * programs is possible but unlikely). */
static uint16_t free_port(void) {
    for (int tries = 0; tries < 50; tries++) {
        int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t l = sizeof sa;
        cr_assert_geq(u, 0);
        cr_assert_eq(bind(u, (struct sockaddr *)&sa, sizeof sa), 0);
        getsockname(u, (struct sockaddr *)&sa, &l);
        int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int ok = bind(t, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(t);
        close(u);
        if (ok) return ntohs(sa.sin_port);
    }
    cr_assert_fail("no free port");
    return 0;
}

/* --- a blocking query from the test thread (readiness of dnsmasq) --------------- */

static int raw_query(uint16_t port, const char *name, int timeout_ms) {
    uint8_t q[300] = {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0}, r[1500];
    size_t n = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t ll = dot ? (size_t)(dot - p) : strlen(p);
        q[n++] = (uint8_t)ll;
        memcpy(q + n, p, ll);
        n += ll;
        p += ll + (dot ? 1 : 0);
    }
    q[n++] = 0;
    q[n++] = 0, q[n++] = 1, q[n++] = 0, q[n++] = 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    sendto(fd, q, n, 0, (struct sockaddr *)&sa, sizeof sa);
    struct pollfd pfd = {fd, POLLIN, 0};
    int got = poll(&pfd, 1, timeout_ms) == 1 ? (int)recv(fd, r, sizeof r, 0) : -1;
    close(fd);
    return got;
}

/* --- dnsmasq ---------------------------------------------------------------------- */

static pid_t dnsmasq_pid;
static uint16_t dnsmasq_port;
static char addn_hosts[64];

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

/* Starts dnsmasq with static records for the test zone `test` (and `sub.test`):
 *   a.test        A 10.1.2.3, AAAA fd00::1
 *   v4.test       A 10.1.2.4 only
 *   c.test        CNAME a.test;  d.test CNAME c.test
 *   x.sub.test    A 10.1.2.5
 *   big.test      100 A records (too many for 512 bytes: truncated over UDP)
 * Everything else is answered NXDOMAIN (--local=/#/: no upstream). */
static void dnsmasq_start(void) {
    snprintf(addn_hosts, sizeof addn_hosts, "/tmp/axon-dns-big-%d", (int)getpid());
    FILE *f = fopen(addn_hosts, "w");
    cr_assert_not_null(f);
    for (int i = 0; i < 100; i++) fprintf(f, "10.7.%d.%d big.test\n", i / 50, i % 50 + 1);
    fclose(f);
    dnsmasq_port = free_port();
    char port[32], addn[96];
    snprintf(port, sizeof port, "--port=%u", dnsmasq_port);
    snprintf(addn, sizeof addn, "--addn-hosts=%s", addn_hosts);
    char *argv[] = {"dnsmasq",
                    "--keep-in-foreground",
                    "--conf-file=/dev/null",
                    "--no-resolv",
                    "--no-hosts",
                    "--no-poll",
                    "--pid-file=",
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    port,
                    addn,
                    "--local=/#/",
                    "--local-ttl=60",
                    "--host-record=a.test,10.1.2.3,fd00::1",
                    "--host-record=v4.test,10.1.2.4",
                    "--host-record=x.sub.test,10.1.2.5",
                    "--cname=c.test,a.test",
                    "--cname=d.test,c.test",
                    "--log-facility=/dev/null",
                    NULL};
    dnsmasq_pid = fork();
    cr_assert_geq(dnsmasq_pid, 0);
    if (dnsmasq_pid == 0) {
        execv("/usr/sbin/dnsmasq", argv);
        execvp("dnsmasq", argv);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        if (raw_query(dnsmasq_port, "a.test", 50) > 0) return;
        int st;
        if (waitpid(dnsmasq_pid, &st, WNOHANG) == dnsmasq_pid)
            cr_assert_fail("dnsmasq exited (status %d): is it installed? (make deps)", st);
    }
    cr_assert_fail("dnsmasq did not answer on port %u", dnsmasq_port);
}

static void dnsmasq_stop(void) {
    if (dnsmasq_pid > 0) {
        kill(dnsmasq_pid, SIGTERM);
        waitpid(dnsmasq_pid, NULL, 0);
        dnsmasq_pid = 0;
    }
    if (addn_hosts[0]) unlink(addn_hosts);
}

static void with_dnsmasq(void) {
    dnsmasq_start();
    rt_two();
}

static void without_dnsmasq(void) {
    rt_done();
    dnsmasq_stop();
}

/* A resolver that asks dnsmasq only. */
static ax_resolver *dnsmasq_resolver(unsigned timeout_ms, unsigned attempts) {
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    char ns[64];
    snprintf(ns, sizeof ns, "127.0.0.1:%u", dnsmasq_port);
    cr_assert_eq(ax_resolver_config_add_nameserver(&cfg, ns), 0);
    cfg.hosts_path[0] = 0;
    cfg.timeout_ms = timeout_ms;
    cfg.attempts = attempts;
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    return r;
}

/* --- running look-ups in a task ------------------------------------------------------ */

typedef struct lookup {
    ax_resolver *r; /* NULL: ax_resolve */
    const char *host;
    int family;
    unsigned deadline_ms;
    int res;
    ax_ip out[256];
    uint64_t took_ms;
} lookup;

static void *lookup_task(void *arg) {
    lookup *l = arg;
    ax_instant t0 = ax_now();
    ax_instant dl = l->deadline_ms ? ax_deadline_in_ms(l->deadline_ms) : AX_NO_DEADLINE;
    l->res = l->r ? ax_resolver_lookup(l->r, l->host, l->family, l->out, 256, dl)
                  : ax_resolve(l->host, l->family, l->out, 256, dl);
    l->took_ms = ms_since(t0);
    return NULL;
}

static lookup run_lookup(ax_resolver *r, const char *host, int family) {
    lookup l = {.r = r, .host = host, .family = family};
    cr_assert_eq(ax_run(rt, lookup_task, &l, NULL), 0);
    return l;
}

static void expect_ip(const ax_ip *ip, const char *text) {
    char buf[AX_IP_STRLEN];
    cr_assert_geq(ax_ip_format(ip, buf, sizeof buf), 0);
    cr_expect_str_eq(buf, text);
}

/* --- fake servers ----------------------------------------------------------------------- */

enum fake_mode {
    FAKE_SILENT,   /* reads and never answers */
    FAKE_A,        /* A: 10.0.0.1 with `ttl`; AAAA: no data */
    FAKE_SERVFAIL, /* rcode 2 */
    FAKE_BAD_ID,   /* a valid answer with another id */
    FAKE_SHORT,    /* the header and half the question */
    FAKE_LOOP,     /* an answer whose owner name is a pointer to itself */
    FAKE_RDLEN,    /* an A record claiming 200 bytes of data */
    FAKE_OTHER_Q,  /* answers a different question */
    FAKE_TC,       /* TC over UDP; the TCP listener answers A 10.0.0.2 */
};

typedef struct fake {
    int ufd, tfd;
    uint16_t port;
    enum fake_mode mode;
    unsigned delay_ms;
    uint32_t ttl;
    atomic_int queries, tcp_queries, stop;
    pthread_t th;
} fake;

/* Builds the reply to query q (n bytes) into r; returns its length. */
static size_t fake_reply(const fake *f, const uint8_t *q, size_t n, uint8_t *r, int tcp) {
    size_t qend = 12;
    while (qend < n && q[qend]) qend += q[qend] + 1u;
    qend += 5;
    if (qend > n) return 0;
    uint16_t qtype = (uint16_t)(q[qend - 4] << 8 | q[qend - 3]);
    memcpy(r, q, qend);
    r[2] = 0x81; /* QR RD */
    r[3] = 0x80; /* RA */
    r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
    size_t len = qend;
    enum fake_mode m = f->mode;
    if (m == FAKE_TC && !tcp) {
        r[2] |= 0x02;
        return len;
    }
    if (m == FAKE_SERVFAIL) {
        r[3] |= 2;
        return len;
    }
    if (m == FAKE_SHORT) return 12 + (qend - 12) / 2;
    if (m == FAKE_OTHER_Q) r[13] ^= 0x01; /* first letter of the name changes */
    if (m == FAKE_BAD_ID) r[1] ^= 0x5a;
    if (qtype != 1) return len; /* AAAA: no data */
    r[7] = 1;
    uint8_t rr[16] = {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 0, 0, tcp ? 2 : 1};
    if (m == FAKE_LOOP) rr[1] = (uint8_t)len; /* points at itself */
    if (m == FAKE_RDLEN) rr[11] = 200;
    rr[6] = (uint8_t)(f->ttl >> 24), rr[7] = (uint8_t)(f->ttl >> 16);
    rr[8] = (uint8_t)(f->ttl >> 8), rr[9] = (uint8_t)f->ttl;
    memcpy(r + len, rr, sizeof rr);
    return len + sizeof rr;
}

static void *fake_main(void *arg) {
    fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p[2] = {{f->ufd, POLLIN, 0}, {f->tfd, POLLIN, 0}};
        if (poll(p, f->tfd >= 0 ? 2 : 1, 20) <= 0) continue;
        uint8_t q[1500], r[1600];
        if (p[0].revents & POLLIN) {
            struct sockaddr_storage from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(f->ufd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
            if (n <= 0) continue;
            atomic_fetch_add(&f->queries, 1);
            if (f->mode == FAKE_SILENT) continue;
            if (f->delay_ms) sleep_ms(f->delay_ms);
            size_t rl = fake_reply(f, q, (size_t)n, r, 0);
            if (rl) sendto(f->ufd, r, rl, 0, (struct sockaddr *)&from, fl);
        }
        if (f->tfd >= 0 && (p[1].revents & POLLIN)) {
            int c = accept(f->tfd, NULL, NULL);
            if (c < 0) continue;
            uint8_t hdr[2];
            if (recv(c, hdr, 2, MSG_WAITALL) == 2) {
                size_t ql = (size_t)(hdr[0] << 8 | hdr[1]);
                if (ql <= sizeof q && recv(c, q, ql, MSG_WAITALL) == (ssize_t)ql) {
                    atomic_fetch_add(&f->tcp_queries, 1);
                    size_t rl = fake_reply(f, q, ql, r + 2, 1);
                    r[0] = (uint8_t)(rl >> 8), r[1] = (uint8_t)rl;
                    send(c, r, rl + 2, MSG_NOSIGNAL);
                }
            }
            close(c);
        }
    }
    return NULL;
}

static void fake_start(fake *f, enum fake_mode mode) {
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->ttl = 60;
    f->tfd = -1;
    f->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof sa;
    cr_assert_eq(bind(f->ufd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(f->ufd, (struct sockaddr *)&sa, &l);
    f->port = ntohs(sa.sin_port);
    if (mode == FAKE_TC) { /* UDP and TCP on one port */
        close(f->ufd);
        f->port = free_port();
        sa.sin_port = htons(f->port);
        f->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        cr_assert_eq(bind(f->ufd, (struct sockaddr *)&sa, sizeof sa), 0);
        f->tfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(f->tfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        cr_assert_eq(bind(f->tfd, (struct sockaddr *)&sa, sizeof sa), 0);
        cr_assert_eq(listen(f->tfd, 16), 0);
    }
    cr_assert_eq(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(fake *f) {
    atomic_store(&f->stop, 1);
    pthread_join(f->th, NULL);
    close(f->ufd);
    if (f->tfd >= 0) close(f->tfd);
}

static ax_resolver *fake_resolver(const fake *f, unsigned timeout_ms, unsigned attempts,
                                  bool cache) {
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cfg.nameservers[0] = ax_addr_make(ax_ip_v4(127, 0, 0, 1), f->port);
    cfg.n_nameservers = 1;
    cfg.hosts_path[0] = 0;
    cfg.timeout_ms = timeout_ms;
    cfg.attempts = attempts;
    cfg.cache = cache;
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    return r;
}

/* ======================================================================== */

Test(dns, literals_need_no_query) {
    ax_ip out[4];
    /* Outside any task and runtime: a literal never reaches the resolver. */
    cr_assert_eq(ax_resolve("127.0.0.1", 0, out, 4, AX_NO_DEADLINE), 1);
    expect_ip(&out[0], "127.0.0.1");
    cr_assert_eq(ax_resolve("::1", 0, out, 4, AX_NO_DEADLINE), 1);
    expect_ip(&out[0], "::1");
    cr_assert_eq(ax_resolve("[2001:db8::5]", AX_INET6, out, 4, AX_NO_DEADLINE), 1);
    expect_ip(&out[0], "2001:db8::5");
    cr_assert_eq(ax_resolve("127.0.0.1", AX_INET6, out, 4, AX_NO_DEADLINE), AX_ENOADDR);
    cr_assert_eq(ax_resolve("[127.0.0.1]", 0, out, 4, AX_NO_DEADLINE), AX_EINVAL);
    cr_assert_eq(ax_resolve("127.0.0.1", 5, out, 4, AX_NO_DEADLINE), AX_EINVAL);
    cr_assert_eq(ax_resolve("127.0.0.1", 0, out, 0, AX_NO_DEADLINE), AX_EINVAL);
    /* A name outside a task. */
    cr_assert_eq(ax_resolve("example.test", 0, out, 4, AX_NO_DEADLINE), AX_ENOTASK);
}

Test(dns, bad_names_are_einval, .init = rt_one, .fini = rt_done) {
    static const char *bad[] = {
        "",         ".",
        "a..b",     ".a",
        "bad name", "a/b",
        "x\n",      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        lookup l = run_lookup(NULL, bad[i], 0);
        cr_expect_eq(l.res, AX_EINVAL, "\"%s\": %s", bad[i], ax_err_name(l.res));
    }
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (int i = 1; i < 299; i += 2) longname[i] = '.';
    longname[299] = 0;
    cr_expect_eq(run_lookup(NULL, longname, 0).res, AX_EINVAL);
}

Test(dns, a_aaaa_and_both, .init = with_dnsmasq, .fini = without_dnsmasq) {
    ax_resolver *r = dnsmasq_resolver(1000, 2);
    lookup l = run_lookup(r, "a.test", 0);
    cr_assert_eq(l.res, 2, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "fd00::1"); /* IPv6 first */
    expect_ip(&l.out[1], "10.1.2.3");
    l = run_lookup(r, "A.Test.", AX_INET);
    cr_assert_eq(l.res, 1);
    expect_ip(&l.out[0], "10.1.2.3");
    l = run_lookup(r, "a.test", AX_INET6);
    cr_assert_eq(l.res, 1);
    expect_ip(&l.out[0], "fd00::1");
    ax_resolver_free(r);
}

Test(dns, cname_chain, .init = with_dnsmasq, .fini = without_dnsmasq) {
    ax_resolver *r = dnsmasq_resolver(1000, 2);
    lookup l = run_lookup(r, "d.test", AX_INET); /* d -> c -> a */
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.1.2.3");
    ax_resolver_free(r);
}

Test(dns, nxdomain_and_no_address, .init = with_dnsmasq, .fini = without_dnsmasq) {
    ax_resolver *r = dnsmasq_resolver(1000, 2);
    cr_expect_eq(run_lookup(r, "nope.test", 0).res, AX_ENXDOMAIN);
    cr_expect_eq(run_lookup(r, "nope.test", AX_INET).res, AX_ENXDOMAIN); /* cached */
    cr_expect_eq(run_lookup(r, "v4.test", AX_INET6).res, AX_ENOADDR);
    lookup l = run_lookup(r, "v4.test", 0);
    cr_assert_eq(l.res, 1);
    expect_ip(&l.out[0], "10.1.2.4");
    ax_resolver_free(r);
}

Test(dns, truncated_answer_goes_to_tcp, .init = with_dnsmasq, .fini = without_dnsmasq) {
    cr_assert_gt(raw_query(dnsmasq_port, "big.test", 1000), 0);
    ax_resolver *r = dnsmasq_resolver(1000, 2);
    lookup l = run_lookup(r, "big.test", AX_INET);
    cr_assert_eq(l.res, 100, "%s", ax_err_name(l.res));
    bool seen[100] = {0};
    for (int i = 0; i < 100; i++) {
        cr_assert_eq(l.out[i].family, AX_INET);
        int k = l.out[i].bytes[2] * 50 + l.out[i].bytes[3] - 1;
        cr_assert(k >= 0 && k < 100 && !seen[k]);
        seen[k] = true;
    }
    ax_resolver_free(r);
}

Test(dns, tc_bit_from_a_fake_server, .init = rt_one, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_TC);
    ax_resolver *r = fake_resolver(&f, 1000, 1, true);
    lookup l = run_lookup(r, "t.example", AX_INET);
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.0.0.2"); /* the TCP answer */
    cr_expect_eq(atomic_load(&f.tcp_queries), 1);
    ax_resolver_free(r);
    fake_stop(&f);
}

Test(dns, silent_server_times_out, .init = rt_one, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_SILENT);
    ax_resolver *r = fake_resolver(&f, 150, 2, true);
    lookup l = run_lookup(r, "quiet.example", 0);
    cr_expect_eq(l.res, AX_ETIMEDOUT, "%s", ax_err_name(l.res));
    cr_expect_geq(l.took_ms, 290);
    cr_expect_lt(l.took_ms, 3000);
    cr_expect_eq(atomic_load(&f.queries), 4); /* A and AAAA, twice */
    /* The caller's deadline cuts the attempts short. */
    ax_resolver_free(r);
    r = fake_resolver(&f, 5000, 2, true);
    l = (lookup){.r = r, .host = "quiet.example", .family = AX_INET, .deadline_ms = 100};
    cr_assert_eq(ax_run(rt, lookup_task, &l, NULL), 0);
    cr_expect_eq(l.res, AX_ETIMEDOUT);
    cr_expect_lt(l.took_ms, 2000);
    ax_resolver_free(r);
    fake_stop(&f);
}

Test(dns, next_server_after_a_silent_one, .init = with_dnsmasq, .fini = without_dnsmasq) {
    fake f;
    fake_start(&f, FAKE_SILENT);
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cfg.nameservers[0] = ax_addr_make(ax_ip_v4(127, 0, 0, 1), f.port);
    cfg.nameservers[1] = ax_addr_make(ax_ip_v4(127, 0, 0, 1), dnsmasq_port);
    cfg.n_nameservers = 2;
    cfg.timeout_ms = 200;
    cfg.hosts_path[0] = 0;
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    lookup l = run_lookup(r, "a.test", AX_INET);
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    cr_expect_geq(l.took_ms, 190);
    cr_expect_eq(atomic_load(&f.queries), 1);
    ax_resolver_free(r);
    fake_stop(&f);
}

Test(dns, servfail, .init = rt_one, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_SERVFAIL);
    ax_resolver *r = fake_resolver(&f, 1000, 2, true);
    lookup l = run_lookup(r, "fail.example", 0);
    cr_expect_eq(l.res, AX_ESERVFAIL, "%s", ax_err_name(l.res));
    cr_expect_lt(l.took_ms, 900); /* SERVFAIL moves on at once */
    ax_resolver_free(r);
    fake_stop(&f);
}

Test(dns, malformed_answers_never_crash, .init = rt_one, .fini = rt_done) {
    static const struct {
        enum fake_mode mode;
        int want;
    } cases[] = {
        {FAKE_BAD_ID, AX_ETIMEDOUT}, /* ignored, as a forgery would be */
        {FAKE_SHORT, AX_EBADRESP},   {FAKE_LOOP, AX_EBADRESP},
        {FAKE_RDLEN, AX_EBADRESP},   {FAKE_OTHER_Q, AX_EBADRESP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        fake f;
        fake_start(&f, cases[i].mode);
        ax_resolver *r = fake_resolver(&f, 150, 1, true);
        lookup l = run_lookup(r, "evil.example", AX_INET);
        cr_expect_eq(l.res, cases[i].want, "mode %d: %s", (int)cases[i].mode, ax_err_name(l.res));
        ax_resolver_free(r);
        fake_stop(&f);
    }
}

Test(dns, ttl_expiry_asks_again, .init = rt_one, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_A);
    f.ttl = 1;
    ax_resolver *r = fake_resolver(&f, 1000, 2, true);
    cr_assert_eq(run_lookup(r, "ttl.example", AX_INET).res, 1);
    cr_assert_eq(run_lookup(r, "ttl.example", AX_INET).res, 1);
    cr_expect_eq(atomic_load(&f.queries), 1); /* the second came from the cache */
    sleep_ms(1500);
    lookup l = run_lookup(r, "ttl.example", AX_INET);
    cr_assert_eq(l.res, 1);
    expect_ip(&l.out[0], "10.0.0.1");
    cr_expect_eq(atomic_load(&f.queries), 2);
    /* Flushing forgets, and a resolver without a cache always asks. */
    ax_resolver_flush(r);
    cr_assert_eq(run_lookup(r, "ttl.example", AX_INET).res, 1);
    cr_expect_eq(atomic_load(&f.queries), 3);
    ax_resolver_free(r);
    r = fake_resolver(&f, 1000, 2, false);
    cr_assert_eq(run_lookup(r, "ttl.example", AX_INET).res, 1);
    cr_assert_eq(run_lookup(r, "ttl.example", AX_INET).res, 1);
    cr_expect_eq(atomic_load(&f.queries), 5);
    ax_resolver_free(r);
    fake_stop(&f);
}

#define SHARERS 100
static ax_resolver *share_r;
static atomic_int share_ok;

static void *share_task(void *arg) {
    ax_ip out[4];
    int n = ax_resolver_lookup(share_r, "shared.example", AX_INET, out, 4, AX_NO_DEADLINE);
    if (n == 1 && out[0].bytes[3] == 1) atomic_fetch_add(&share_ok, 1);
    return NULL;
}

static void *share_main(void *arg) {
    ax_task *t[SHARERS];
    for (int i = 0; i < SHARERS; i++) cr_assert_eq(ax_spawn(&t[i], share_task, NULL), 0);
    for (int i = 0; i < SHARERS; i++) ax_join(t[i], NULL);
    return NULL;
}

Test(dns, concurrent_lookups_share_one_query, .init = rt_two, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_A);
    f.delay_ms = 200; /* every task arrives while the first query is out */
    share_r = fake_resolver(&f, 2000, 1, false); /* no cache: sharing alone */
    atomic_store(&share_ok, 0);
    cr_assert_eq(ax_run(rt, share_main, NULL, NULL), 0);
    cr_expect_eq(atomic_load(&share_ok), SHARERS);
    cr_expect_eq(atomic_load(&f.queries), 1, "%d queries", atomic_load(&f.queries));
    ax_resolver_free(share_r);
    fake_stop(&f);
}

/* The first caller is cancelled: the one waiting on it asks again itself. */
static void *leader_task(void *arg) {
    ax_ip out[4];
    *(int *)arg = ax_resolver_lookup(share_r, "lead.example", AX_INET, out, 4, AX_NO_DEADLINE);
    return NULL;
}

static void *abandon_main(void *arg) {
    int *res = arg;
    ax_task *lead, *follow;
    cr_assert_eq(ax_spawn(&lead, leader_task, &res[0]), 0);
    wait_started(lead);
    ax_sleep(30);
    cr_assert_eq(ax_spawn(&follow, leader_task, &res[1]), 0);
    wait_started(follow);
    ax_sleep(30);
    ax_abort(lead);
    ax_join(lead, NULL);
    ax_join(follow, NULL);
    return NULL;
}

Test(dns, cancelled_leader_hands_over, .init = rt_two, .fini = rt_done) {
    fake f;
    fake_start(&f, FAKE_A);
    f.delay_ms = 150;
    share_r = fake_resolver(&f, 2000, 1, true);
    int res[2] = {0, 0};
    cr_assert_eq(ax_run(rt, abandon_main, res, NULL), 0);
    cr_expect_eq(res[0], AX_ECANCELED);
    cr_expect_eq(res[1], 1, "%s", ax_err_name(res[1]));
    ax_resolver_free(share_r);
    fake_stop(&f);
}

Test(dns, hosts_file_first, .init = rt_one, .fini = rt_done) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/axon-dns-hosts-%d", (int)getpid());
    write_file(path, "# test hosts\n"
                     "10.9.8.7   myhost  alias.example   # comment\n"
                     "::2 myhost\n"
                     "not-an-ip  broken\n"
                     "10.9.8.8\tMyHost\n");
    fake f;
    fake_start(&f, FAKE_SILENT); /* any query would time out */
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cfg.nameservers[0] = ax_addr_make(ax_ip_v4(127, 0, 0, 1), f.port);
    cfg.n_nameservers = 1;
    cfg.timeout_ms = 5000;
    strcpy(cfg.hosts_path, path);
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    lookup l = run_lookup(r, "myhost", 0);
    cr_assert_eq(l.res, 3);
    expect_ip(&l.out[0], "10.9.8.7"); /* the file's order */
    expect_ip(&l.out[1], "::2");
    expect_ip(&l.out[2], "10.9.8.8");
    l = run_lookup(r, "ALIAS.example.", AX_INET);
    cr_assert_eq(l.res, 1);
    expect_ip(&l.out[0], "10.9.8.7");
    l = run_lookup(r, "myhost", AX_INET6);
    cr_assert_eq(l.res, 1);
    l = run_lookup(r, "localhost", 0); /* not in this file: loopback anyway */
    cr_assert_eq(l.res, 2);
    expect_ip(&l.out[0], "::1");
    expect_ip(&l.out[1], "127.0.0.1");
    cr_expect_eq(atomic_load(&f.queries), 0);
    ax_resolver_free(r);
    fake_stop(&f);
    unlink(path);
}

Test(dns, localhost_with_the_default_resolver, .init = rt_one, .fini = rt_done) {
    lookup l = run_lookup(NULL, "localhost", AX_INET);
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "127.0.0.1");
}

Test(dns, resolv_conf_parsing) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/axon-resolv-%d", (int)getpid());
    write_file(path, "# generated\n"
                     "domain old.example\n"
                     "nameserver 192.0.2.53   # first\n"
                     "nameserver 2001:db8::35\n"
                     "nameserver not-an-address\n"
                     "; a comment\n"
                     "search Corp.Example. lab.example\n"
                     "options ndots:3 timeout:2 attempts:9 rotate debug\n"
                     "sortlist 130.155.160.0/255.255.240.0\n"
                     "nameserver 192.0.2.54");
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cr_assert_eq(ax_resolver_config_load(&cfg, path), 0);
    cr_assert_eq(cfg.n_nameservers, 3);
    char buf[AX_ADDR_STRLEN];
    ax_addr_format(&cfg.nameservers[0], buf, sizeof buf);
    cr_expect_str_eq(buf, "192.0.2.53:53");
    ax_addr_format(&cfg.nameservers[1], buf, sizeof buf);
    cr_expect_str_eq(buf, "[2001:db8::35]:53");
    ax_addr_format(&cfg.nameservers[2], buf, sizeof buf);
    cr_expect_str_eq(buf, "192.0.2.54:53");
    cr_assert_eq(cfg.n_search, 2); /* search replaced domain */
    cr_expect_str_eq(cfg.search[0], "Corp.Example");
    cr_expect_str_eq(cfg.search[1], "lab.example");
    cr_expect_eq(cfg.ndots, 3);
    cr_expect_eq(cfg.timeout_ms, 2000);
    cr_expect_eq(cfg.attempts, 5); /* capped */
    cr_expect(cfg.rotate);
    cr_expect_eq(ax_resolver_config_load(&cfg, "/nonexistent/resolv.conf"), AX_ENOENT);
    /* Nine nameservers: the ninth is dropped. */
    write_file(path, "nameserver 10.0.0.1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n"
                     "nameserver 10.0.0.4\nnameserver 10.0.0.5\nnameserver 10.0.0.6\n"
                     "nameserver 10.0.0.7\nnameserver 10.0.0.8\nnameserver 10.0.0.9\n");
    ax_resolver_config_init(&cfg);
    cr_assert_eq(ax_resolver_config_load(&cfg, path), 0);
    cr_expect_eq(cfg.n_nameservers, AX_RESOLVER_MAX_NAMESERVERS);
    cr_expect_eq(ax_resolver_config_add_nameserver(&cfg, "10.0.0.10"), AX_ENOSPC);
    ax_resolver_config_init(&cfg);
    cr_expect_eq(ax_resolver_config_add_nameserver(&cfg, "[::1]:5353"), 0);
    cr_expect_eq(cfg.nameservers[0].port, 5353);
    cr_expect_eq(ax_resolver_config_add_nameserver(&cfg, "nonsense"), AX_EINVAL);
    cr_expect_eq(ax_resolver_config_add_search(&cfg, "bad..domain"), AX_EINVAL);
    unlink(path);
}

Test(dns, search_list_and_ndots, .init = with_dnsmasq, .fini = without_dnsmasq) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/axon-resolv-%d", (int)getpid());
    write_file(path, "nameserver 127.0.0.1\nsearch sub.test test\noptions ndots:2 timeout:1\n");
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cr_assert_eq(ax_resolver_config_load(&cfg, path), 0);
    unlink(path);
    cr_assert_eq(cfg.n_nameservers, 1);
    cfg.nameservers[0].port = dnsmasq_port; /* resolv.conf cannot say a port */
    cfg.hosts_path[0] = 0;
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    lookup l = run_lookup(r, "x", AX_INET); /* x.sub.test */
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.1.2.5");
    l = run_lookup(r, "a", AX_INET); /* a.sub.test: no; a.test: yes */
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.1.2.3");
    l = run_lookup(r, "x.sub", AX_INET); /* 1 dot < ndots 2: x.sub.sub.test, x.sub.test */
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.1.2.5");
    cr_expect_eq(run_lookup(r, "x.", AX_INET).res, AX_ENXDOMAIN); /* absolute: no search */
    cr_expect_eq(run_lookup(r, "v4", AX_INET6).res, AX_ENOADDR);  /* exists, no AAAA */
    cr_expect_eq(run_lookup(r, "nowhere", 0).res, AX_ENXDOMAIN);
    ax_resolver_free(r);
}

Test(dns, runtime_resolver_can_be_replaced, .init = with_dnsmasq, .fini = without_dnsmasq) {
    ax_resolver *r = dnsmasq_resolver(1000, 2);
    cr_assert_eq(ax_runtime_set_resolver(rt, r), 0);
    ax_resolver_free(r); /* the runtime keeps its own reference */
    lookup l = run_lookup(NULL, "a.test", AX_INET);
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "10.1.2.3");
    cr_assert_eq(ax_runtime_set_resolver(rt, NULL), 0); /* back to the system's */
    l = run_lookup(NULL, "localhost", AX_INET);
    cr_assert_eq(l.res, 1);
}

static void *gai_task(void *arg) {
    lookup *l = arg;
    l->res = ax_resolve_getaddrinfo(l->host, l->family, l->out, 256, AX_NO_DEADLINE);
    return NULL;
}

Test(dns, getaddrinfo_on_the_blocking_pool, .init = rt_one, .fini = rt_done) {
    lookup l = {.host = "localhost", .family = AX_INET};
    cr_assert_eq(ax_run(rt, gai_task, &l, NULL), 0);
    cr_assert_eq(l.res, 1, "%s", ax_err_name(l.res));
    expect_ip(&l.out[0], "127.0.0.1");
    l = (lookup){.host = "bad name", .family = 0};
    cr_assert_eq(ax_run(rt, gai_task, &l, NULL), 0);
    cr_expect_eq(l.res, AX_EINVAL);
    /* A resolver configured to use it. */
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cfg.use_getaddrinfo = true;
    cfg.hosts_path[0] = 0;
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    l = run_lookup(r, "localhost", AX_INET);
    cr_assert_eq(l.res, 1);
    ax_resolver_free(r);
}
