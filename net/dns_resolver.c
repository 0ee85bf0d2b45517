/* net/dns_resolver.c - the stub resolver's transport.
 *
 * One exchange asks one or two questions (A and AAAA) about one name. It
 * goes in rounds: `attempts` passes over the nameservers, each try a fresh
 * UDP socket connected to that server (so the kernel picks a new random
 * source port, drops datagrams from anyone else, and reports an ICMP
 * "port unreachable" as ECONNREFUSED at once), carrying every question not
 * yet answered, each with a new random id. The try ends when every
 * question sent has had its answer or timeout_ms passes. An answer counts
 * only if it comes from the server's address, carries a pending id and
 * repeats our question; anything else is ignored (and remembered, so that
 * a server sending only garbage gives AX_EBADRESP rather than a timeout).
 * An answer with TC set is asked again over TCP to the same server, within
 * the same try's time.
 *
 * NOERROR and NXDOMAIN are final; SERVFAIL, REFUSED and the rest send the
 * question on to the next server.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
errno_t __cdecl rand_s(unsigned int *v); /* stdlib.h declares it under _CRT_RAND_S only */
#else
#include <sys/socket.h>
#endif

#include "axon/time.h"
#include "net/dns_internal.h"
#include "net/sock.h"

typedef struct ax__dns_q {
    uint16_t qtype, id;
    bool done;     /* final answer in answers[i] */
    bool answered; /* answered (finally or not) in the current try */
    int len;
    uint8_t msg[12 + AX__DNS_WIRE_MAX + 4];
} ax__dns_q;

typedef struct ax__dns_xchg {
    ax_resolver *r;
    const uint8_t *name;
    size_t name_len;
    ax__dns_q q[2];
    size_t nq;
    ax__dns_answer *answers;
    bool servfail, bad, refused, timed_out;
    uint8_t buf[AX__DNS_UDP_MAX];
} ax__dns_xchg;

static uint16_t ax__dns_random16(void) {
#ifdef _WIN32
    unsigned int r;
    if (rand_s(&r) == 0) return (uint16_t)r;
#else
    uint16_t v;
    if (ax__random_bytes(&v, sizeof v) == (ssize_t)sizeof v) return v;
#endif
    /* No entropy yet (early boot): the clock's low bits are better than a
     * constant. */
    ax_instant t = ax_now();
    return (uint16_t)(t ^ (t >> 16) ^ (t >> 32));
}

struct ax__dns_io_arg {
    void *buf;
    size_t len;
    struct sockaddr_storage from;
    socklen_t from_len;
};

static ssize_t ax__dns_send_op(ax__fd fd, void *arg) {
    struct ax__dns_io_arg *a = arg;
    return send(fd, a->buf, (int)a->len, MSG_NOSIGNAL);
}

static ssize_t ax__dns_recv_op(ax__fd fd, void *arg) {
    struct ax__dns_io_arg *a = arg;
    a->from_len = sizeof a->from;
    return recvfrom(fd, a->buf, a->len, 0, (struct sockaddr *)&a->from, &a->from_len);
}

/* Asks one question over TCP (RFC 7766: a two-byte length before each
 * message) and parses the answer into *ans. */
static int ax__dns_tcp(ax__dns_xchg *x, ax_runtime *rt, const ax_addr *ns, ax__dns_q *q,
                       ax__dns_answer *ans, ax_instant deadline) {
    struct sockaddr_storage ss;
    socklen_t sl;
    ax__sock s;
    int err = ax_addr_to_sockaddr(ns, &ss, &sl);
    if (err) return err;
    if ((err = ax__sock_open(rt, ss.ss_family, SOCK_STREAM, 0, &s))) return err;
    if ((err = ax__sock_connect(&s, (struct sockaddr *)&ss, sl, deadline))) return err;
    s.stream.vtable = &ax__sock_stream_vtable;
    uint8_t out[2 + sizeof q->msg], hdr[2] = {0, 0};
    out[0] = (uint8_t)(q->len >> 8);
    out[1] = (uint8_t)q->len;
    memcpy(out + 2, q->msg, (size_t)q->len);
    uint8_t *resp = NULL;
    err = ax_stream_write_all(&s.stream, out, (size_t)q->len + 2, deadline);
    if (!err) err = ax_stream_read_exact(&s.stream, hdr, 2, deadline);
    size_t rlen = (size_t)(hdr[0] << 8 | hdr[1]);
    if (!err && rlen < 12) err = AX_EBADRESP;
    if (!err && !(resp = malloc(rlen))) err = AX_ENOMEM;
    if (!err) err = ax_stream_read_exact(&s.stream, resp, rlen, deadline);
    ax__sock_close(&s);
    if (err == AX_EOF) err = AX_EBADRESP; /* the server hung up mid-answer */
    if (!err) {
        err = ax__dns_parse_answer(resp, rlen, q->id, x->name, x->name_len, q->qtype, ans);
        if (!err && ans->truncated) err = AX_EBADRESP; /* TC over TCP makes no sense */
    }
    free(resp);
    return err;
}

/* Takes one datagram: matches it to a question and records the outcome. */
static void ax__dns_take(ax__dns_xchg *x, ax_runtime *rt, const ax_addr *ns, size_t n,
                         const struct ax__dns_io_arg *io, size_t *outstanding, ax_instant rd,
                         int *fatal) {
    ax_addr from;
    if (ax_addr_from_sockaddr((const struct sockaddr *)&io->from, io->from_len, &from) ||
        !ax_addr_equal(&from, ns) || n < 12)
        return; /* not from our server, or too short to hold an id */
    uint16_t id = ax__dns_msg_id(x->buf);
    ax__dns_q *q = NULL;
    size_t i;
    for (i = 0; i < x->nq; i++)
        if (!x->q[i].done && !x->q[i].answered && x->q[i].id == id) {
            q = &x->q[i];
            break;
        }
    if (!q) return; /* a late answer to an earlier try, or a forgery */
    ax__dns_answer *ans = &x->answers[i];
    if (ax__dns_parse_answer(x->buf, n, id, x->name, x->name_len, q->qtype, ans)) {
        x->bad = true; /* keep listening: the real answer may still come */
        return;
    }
    if (ans->truncated) {
        int err = ax__dns_tcp(x, rt, ns, q, ans, rd);
        if (err == AX_ECANCELED || err == AX_ENOMEM) {
            *fatal = err;
            return;
        }
        if (err) {
            if (err == AX_EBADRESP)
                x->bad = true;
            else if (err == AX_ETIMEDOUT)
                x->timed_out = true;
            else
                x->servfail = true; /* TCP refused or reset: this server failed us */
            q->answered = true;
            (*outstanding)--;
            return;
        }
    }
    q->answered = true;
    (*outstanding)--;
    if (ans->rcode == AX__DNS_RCODE_NOERROR || ans->rcode == AX__DNS_RCODE_NXDOMAIN)
        q->done = true;
    else
        x->servfail = true;
}

/* One try against one server, until every question sent is answered or
 * rd. Returns 0, or an error that ends the exchange (AX_ECANCELED,
 * AX_ENOMEM, ...); a timeout or refusal of this try is recorded in x. */
static int ax__dns_try(ax__dns_xchg *x, ax_runtime *rt, const ax_addr *ns, ax_instant rd) {
    struct sockaddr_storage ss;
    socklen_t sl;
    ax__sock s;
    int err = ax_addr_to_sockaddr(ns, &ss, &sl);
    if (err) return 0; /* a nameserver we cannot address: skip it */
    if ((err = ax__sock_open(rt, ss.ss_family, SOCK_DGRAM, 0, &s))) return err;
    if (connect(s.fd, (struct sockaddr *)&ss, sl) < 0) {
        /* EAFNOSUPPORT / ENETUNREACH: no IPv6 here, say. Not fatal. */
        err = ax__sock_last_error();
        ax__sock_close(&s);
        x->refused = x->refused || err == AX_ECONNREFUSED;
        return 0;
    }
    if ((err = ax__sock_register(&s))) return err;

    size_t outstanding = 0;
    for (size_t i = 0; i < x->nq; i++) {
        ax__dns_q *q = &x->q[i];
        q->answered = false;
        if (q->done) continue;
        do q->id = ax__dns_random16();
        while (i == 1 && q->id == x->q[0].id);
        q->len = ax__dns_build_query(q->msg, sizeof q->msg, q->id, x->name, x->name_len, q->qtype);
        struct ax__dns_io_arg io = {q->msg, (size_t)q->len, {0}, 0};
        ssize_t n = ax__sock_await_op(&s, AX__DIR_WRITE, ax__dns_send_op, &io, rd);
        if (n < 0) {
            err = (int)n;
            goto out;
        }
        outstanding++;
    }
    while (outstanding > 0) {
        struct ax__dns_io_arg io = {x->buf, sizeof x->buf, {0}, 0};
        ssize_t n = ax__sock_await_op(&s, AX__DIR_READ, ax__dns_recv_op, &io, rd);
        if (n < 0) {
            err = (int)n;
            goto out;
        }
        int fatal = 0;
        ax__dns_take(x, rt, ns, (size_t)n, &io, &outstanding, rd, &fatal);
        if (fatal) {
            err = fatal;
            goto out;
        }
    }
out:
    ax__sock_close(&s);
    if (err == AX_ETIMEDOUT) {
        x->timed_out = true;
        return 0;
    }
    if (err == AX_ECONNREFUSED) {
        x->refused = true;
        return 0;
    }
    if (err == AX_ENETUNREACH || err == AX_EHOSTUNREACH || err == AX_EADDRNOTAVAIL ||
        err == AX_EAFNOSUPPORT)
        return 0;
    return err;
}

int ax__dns_exchange(ax_resolver *r, const uint8_t *name, size_t name_len, const uint16_t *qtypes,
                     size_t nq, ax__dns_answer *answers, ax_instant deadline) {
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    if (nq == 0 || nq > 2) return AX_EINVAL;
    ax__dns_xchg *x = calloc(1, sizeof *x);
    if (!x) return AX_ENOMEM;
    x->r = r;
    x->name = name;
    x->name_len = name_len;
    x->nq = nq;
    x->answers = answers;
    for (size_t i = 0; i < nq; i++) x->q[i].qtype = qtypes[i];

    const ax_resolver_config *c = &r->cfg;
    ax_addr defaults[2];
    const ax_addr *servers = c->nameservers;
    size_t ns = c->n_nameservers;
    if (ns == 0) { /* what the libc resolvers do without a nameserver line */
        defaults[0] = ax_addr_loopback(AX_INET, 53);
        defaults[1] = ax_addr_loopback(AX_INET6, 53);
        servers = defaults;
        ns = 2;
    }
    size_t start = c->rotate ? atomic_fetch_add(&r->rotate_next, 1) % ns : 0;
    unsigned attempts = c->attempts ? c->attempts : 1;
    uint64_t per_try = (uint64_t)(c->timeout_ms ? c->timeout_ms : 1) * 1000000ull;

    int err = 0;
    bool all_done = false;
    for (unsigned a = 0; a < attempts && !all_done && !err; a++) {
        for (size_t k = 0; k < ns && !all_done; k++) {
            ax_instant now = ax_now();
            if (deadline != AX_NO_DEADLINE && now >= deadline) {
                err = AX_ETIMEDOUT;
                break;
            }
            ax_instant rd = now + per_try;
            if (deadline != AX_NO_DEADLINE && deadline < rd) rd = deadline;
            if ((err = ax__dns_try(x, rt, &servers[(start + k) % ns], rd))) break;
            all_done = true;
            for (size_t i = 0; i < nq; i++) all_done = all_done && x->q[i].done;
        }
    }
    int why = AX_ETIMEDOUT; /* why the questions still open have no answer */
    if (deadline != AX_NO_DEADLINE && ax_now() >= deadline)
        why = AX_ETIMEDOUT;
    else if (x->servfail)
        why = AX_ESERVFAIL;
    else if (x->bad)
        why = AX_EBADRESP;
    else if (x->refused && !x->timed_out)
        why = AX_ECONNREFUSED;
    bool any_done = false;
    for (size_t i = 0; i < nq; i++) {
        answers[i].err = x->q[i].done ? 0 : err ? err : why;
        any_done = any_done || x->q[i].done;
    }
    free(x);
    if (err) return err;
    return any_done ? 0 : why;
}
