/* net/tcp_connect.c - connecting to the first of several addresses that
 * answers, Happy Eyeballs style (RFC 8305, section 5).
 *
 * One future drives every attempt: each attempt is a nonblocking connect
 * registered with the reactor, and a timer paces the start of the next.
 * No task is spawned, so an attempt that loses is simply closed.
 */
#include <stdlib.h>
#include <string.h>

#include "axon/dns.h"
#include "axon/time.h"
#include "net/tcp_internal.h"

#define AX__HE_DEFAULT_DELAY_MS 250

/* Lists this long live in the future itself: the common connect (one
 * address, or a name's few) allocates nothing. */
#define AX__HE_INLINE 16

typedef struct ax__he_future {
    ax_future base;
    ax_runtime *rt;
    ax_addr *order; /* addresses in the order to try them */
    ax_tcp **att;   /* attempt i's socket while it connects, else NULL */
    size_t n, next, active;
    uint64_t delay_ns;
    ax_sleep_future timer;
    int timer_armed;
    int check_policy; /* 0: the caller checked the host name already */
    int last_err;
    ax_tcp *winner;
    ax_addr order_inline[AX__HE_INLINE];
    ax_tcp *att_inline[AX__HE_INLINE];
} ax__he_future;

/* RFC 8305 4: alternate the families, starting with the first address's. */
static void ax__he_interleave(const ax_addr *in, size_t n, ax_addr *out) {
    /* cppcheck follows a caller's n == 1 into the inline array it fills. */
    ax_family first = in[0].ip.family; // cppcheck-suppress uninitvar
    size_t a = 0, b = 0, k = 0;
    while (k < n) {
        while (a < n && in[a].ip.family != first) a++;
        if (a < n) out[k++] = in[a++];
        while (b < n && in[b].ip.family == first) b++;
        if (b < n) out[k++] = in[b++];
    }
}

static void ax__he_close_attempt(ax__he_future *h, size_t i) {
    if (!h->att[i]) return;
    ax_tcp_close(h->att[i]);
    h->att[i] = NULL;
    h->active--;
}

/* Starts the next allowed address. Returns 1 when an attempt is under way
 * (or won at once), 0 when none is left. */
/* Opens a socket for a and issues its connect: 0 (connected at once),
 * AX_EINPROGRESS (*out is under way), or AX_E* (nothing left open). */
static int ax__he_open(ax__he_future *h, const ax_addr *a, ax_tcp **out) {
    int err = h->check_policy ? ax__sock_check_addr(h->rt, AX__POLICY_OP_CONNECT, a) : 0;
    struct sockaddr_storage ss;
    socklen_t len;
    if (err || (err = ax_addr_to_sockaddr(a, &ss, &len))) return err;
    ax_tcp *c = malloc(sizeof *c);
    if (!c) return AX_ENOMEM;
    if ((err = ax__sock_open(h->rt, ss.ss_family, SOCK_STREAM, 0, &c->s))) {
        free(c);
        return err;
    }
    c->s.stream.vtable = &ax__sock_stream_vtable;
    err = ax__sock_connect_start(&c->s, (struct sockaddr *)&ss, len);
    if (err && err != AX_EINPROGRESS) {
        free(c); /* connect_start closed the socket */
        return err;
    }
    *out = c;
    return err;
}

static int ax__he_start_next(ax__he_future *h) {
    while (h->next < h->n) {
        size_t i = h->next++;
        ax_tcp *c = NULL;
        int err = ax__he_open(h, &h->order[i], &c);
        if (err == 0) {
            h->winner = c;
            return 1;
        }
        if (err == AX_EINPROGRESS) {
            h->att[i] = c;
            h->active++;
            return 1;
        }
        h->last_err = err;
    }
    return 0;
}

static void ax__he_arm_timer(ax__he_future *h) {
    if (h->timer_armed) ax_future_drop(&h->timer.base);
    ax_sleep_future_init(&h->timer, ax_now() + h->delay_ns);
    h->timer_armed = 1;
}

static ax_poll ax__he_poll(ax_future *f, ax_context *cx) {
    ax__he_future *h = (ax__he_future *)f;
    if (h->winner) return AX_READY;
    for (;;) {
        int started = 0;
        /* Start the first attempt, and another whenever none is running. */
        if (h->active == 0 && h->next < h->n) {
            if (!ax__he_start_next(h) && !h->winner) break;
            started = 1;
        }
        if (h->winner) break;
        for (size_t i = 0; i < h->next && !h->winner; i++) {
            if (!h->att[i]) continue;
            int res;
            if (ax__sock_poll_connected(&h->att[i]->s, cx, &res) == AX_PENDING) continue;
            if (res == 0) {
                h->winner = h->att[i];
                h->att[i] = NULL;
                h->active--;
            } else {
                h->last_err = res;
                ax__he_close_attempt(h, i);
            }
        }
        if (h->winner) break;
        if (h->active == 0) {
            if (h->next < h->n) continue; /* a failure starts the next at once */
            break;
        }
        if (started && h->next < h->n) ax__he_arm_timer(h); /* paces the next attempt */
        if (h->next < h->n && h->timer_armed) {
            if (ax_future_poll(&h->timer.base, cx) == AX_READY) {
                ax_future_drop(&h->timer.base);
                h->timer_armed = 0;
                if (ax__he_start_next(h)) {
                    if (h->winner) break;
                    ax__he_arm_timer(h);
                    continue; /* poll the new attempt once, to register it */
                }
            }
        }
        return AX_PENDING;
    }
    for (size_t i = 0; i < h->n; i++) ax__he_close_attempt(h, i);
    if (h->timer_armed) {
        ax_future_drop(&h->timer.base);
        h->timer_armed = 0;
    }
    h->base.result = h->winner ? 0 : h->last_err;
    return AX_READY;
}

static void ax__he_drop(ax_future *f) {
    ax__he_future *h = (ax__he_future *)f;
    for (size_t i = 0; i < h->n; i++) ax__he_close_attempt(h, i);
    if (h->timer_armed) ax_future_drop(&h->timer.base);
    h->timer_armed = 0;
}

static const ax_future_vtable ax__he_vtable = {ax__he_poll, ax__he_drop};

static int ax__connect_addrs(ax_runtime *rt, const ax_addr *addrs, size_t n, unsigned delay_ms,
                             ax_instant deadline, int check_policy, ax_tcp **out) {
    ax__he_future h;
    memset(&h, 0, sizeof h);
    h.base.vtable = &ax__he_vtable;
    h.rt = rt;
    h.n = n;
    h.check_policy = check_policy;
    h.delay_ns = (uint64_t)(delay_ms ? delay_ms : AX__HE_DEFAULT_DELAY_MS) * 1000000u;
    h.last_err = AX_ECONNREFUSED;
    if (n <= AX__HE_INLINE) {
        h.order = h.order_inline;
        h.att = h.att_inline;
    } else {
        h.order = malloc(n * sizeof *h.order);
        h.att = calloc(n, sizeof *h.att);
        if (!h.order || !h.att) {
            free(h.order);
            free(h.att);
            return AX_ENOMEM;
        }
    }
    ax__he_interleave(addrs, n, h.order);
    int r = (int)ax_await_until(&h.base, deadline);
    if (r == 0 && h.winner) {
        *out = h.winner;
    } else if (h.winner) { /* won, but the await was cut short after it */
        ax_tcp_close(h.winner);
    }
    if (h.order != h.order_inline) {
        free(h.order);
        free(h.att);
    }
    return r;
}

/* One address is Happy Eyeballs with a list of one: the same attempt
 * machinery, no second connect path to keep in step. */
int ax__tcp_connect_addr(ax_runtime *rt, const ax_addr *addr, ax_instant deadline, ax_tcp **out) {
    return ax__connect_addrs(rt, addr, 1, 0, deadline, 1, out);
}

int ax_tcp_connect_addrs(const ax_addr *addrs, size_t n, unsigned delay_ms, ax_instant deadline,
                         ax_tcp **out) {
    if (!addrs || n == 0 || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    return ax__connect_addrs(rt, addrs, n, delay_ms, deadline, 1, out);
}

#define AX__HOST_ADDRS_MAX 16

int ax_tcp_connect_host(const char *host, uint16_t port, ax_instant deadline, ax_tcp **out) {
    if (!host || !*host || !out) return AX_EINVAL;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    /* The policy sees the host as the program wrote it: allowing a name
     * allows whatever it resolves to (axon/policy.h). */
    int err = ax__policy_check_rt(rt, AX__POLICY_OP_CONNECT, host, port, NULL, 0);
    if (err) return err;
    ax_ip ips[AX__HOST_ADDRS_MAX];
    int n = ax_resolve(host, 0, ips, AX__HOST_ADDRS_MAX, deadline);
    if (n < 0) return n;
    ax_addr addrs[AX__HOST_ADDRS_MAX];
    for (int i = 0; i < n; i++) addrs[i] = ax_addr_make(ips[i], port);
    return ax__connect_addrs(rt, addrs, (size_t)n, 0, deadline, 0, out);
}
