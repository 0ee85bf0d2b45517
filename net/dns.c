/* net/dns.c - the resolver's public face: literals, the hosts file, the
 * search list, the cache, shared in-flight look-ups, the per-runtime
 * default resolver and the getaddrinfo alternative.
 *
 * Sharing. A look-up that must go to the network registers a "flight"
 * keyed by (resolver, name as given, family). A caller that finds a flight
 * for its key waits on the flight's ax_notify instead of asking again, and
 * copies the first caller's result. The first caller (the leader) does the
 * work under its own deadline and cancellation; if it gives up for its own
 * reasons (cancelled, or its deadline passed) the flight is marked
 * abandoned and each waiter starts over, so one impatient caller never
 * hands its timeout to the others. The flight list's mutex is held only to
 * find, add or remove a flight, never across a suspension.
 */
#include <limits.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netdb.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "axon/blocking.h"
#include "axon/error.h"
#include "axon/runtime.h"
#include "axon/time.h"
#include "executor/runtime_internal.h"
#include "net/dns_internal.h"

#define AX__DNS_ABANDONED INT_MIN /* a flight's result: start over (no count, no AX_E*) */

struct ax__dns_flight {
    ax__dns_flight *next;
    int refs; /* under flights_lock */
    int family;
    bool done;
    int result; /* count, AX_E*, or AX__DNS_ABANDONED */
    ax_notify notify;
    uint8_t key[AX__DNS_WIRE_MAX + 1]; /* wire name, then 1 if it was absolute */
    size_t key_len;
    ax_ip addrs[AX__DNS_MAX_RESULT];
};

/* --- resolver objects -------------------------------------------------------- */

int ax_resolver_new(const ax_resolver_config *cfg, ax_resolver **out) {
    if (!out) return AX_EINVAL;
    ax_resolver *r = calloc(1, sizeof *r);
    if (!r) return AX_ENOMEM;
    if (cfg) {
        r->cfg = *cfg;
    } else {
        ax_resolver_config_init(&r->cfg);
        (void)ax_resolver_config_load(&r->cfg, NULL); /* none: the defaults */
    }
    ax_resolver_config *c = &r->cfg;
    if (c->n_nameservers > AX_RESOLVER_MAX_NAMESERVERS || c->n_search > AX_RESOLVER_MAX_SEARCH) {
        free(r);
        return AX_EINVAL;
    }
    for (size_t i = 0; i < c->n_search; i++) c->search[i][AX_RESOLVER_NAME_MAX - 1] = 0;
    c->hosts_path[AX_RESOLVER_PATH_MAX - 1] = 0;
    if (c->ndots > 15) c->ndots = 15;
    if (c->attempts == 0) c->attempts = 1;
    if (c->attempts > 5) c->attempts = 5;
    if (c->timeout_ms == 0) c->timeout_ms = 1;
    int err = ax__dns_hosts_load(&r->hosts, c->hosts_path);
    if (err == AX_ENOMEM) {
        free(r);
        return err;
    }
    if ((err = ax__dns_cache_init(&r->cache, c->cache ? c->cache_size : 0))) {
        ax__dns_hosts_free(&r->hosts);
        free(r);
        return err;
    }
    atomic_init(&r->refs, 1);
    atomic_init(&r->rotate_next, 0);
    pthread_mutex_init(&r->flights_lock, NULL);
    *out = r;
    return 0;
}

static ax_resolver *ax__dns_ref(ax_resolver *r) {
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void ax_resolver_free(ax_resolver *r) {
    if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1) return;
    /* No look-up holds a reference, so no flight is left. */
    ax__dns_cache_destroy(&r->cache);
    ax__dns_hosts_free(&r->hosts);
    pthread_mutex_destroy(&r->flights_lock);
    free(r);
}

void ax_resolver_flush(ax_resolver *r) {
    if (r) ax__dns_cache_clear(&r->cache);
}

/* --- literals and names -------------------------------------------------------- */

/* 1 with out[0] when host is an address literal of an acceptable family,
 * AX_ENOADDR for a literal of the other family, 0 when it is no literal. */
static int ax__dns_literal(const char *host, int family, ax_ip *out) {
    char buf[AX_IP_STRLEN];
    size_t n = strlen(host);
    ax_ip ip;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof buf) return AX_EINVAL;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = 0;
        if (ax_ip_parse(buf, &ip) != 0 || ip.family != AX_INET6) return AX_EINVAL;
    } else if (ax_ip_parse(host, &ip) != 0) {
        return 0;
    }
    if (family && (int)ip.family != family) return AX_ENOADDR;
    out[0] = ip;
    return 1;
}

/* "localhost" and "*.localhost" are loopback (RFC 6761 6.3), whatever the
 * hosts file says, so they never reach a nameserver. */
static int ax__dns_localhost(const uint8_t *wire, size_t wl, int family, ax_ip *out, size_t cap) {
    static const uint8_t lh[] = "\x09localhost";
    size_t l = sizeof lh; /* with its final zero */
    if (wl < l || memcmp(wire + wl - l, lh, l) != 0) return 0;
    size_t n = 0;
    if ((family == 0 || family == AX_INET6) && n < cap) out[n++] = ax_addr_loopback(AX_INET6, 0).ip;
    if ((family == 0 || family == AX_INET) && n < cap) out[n++] = ax_addr_loopback(AX_INET, 0).ip;
    return (int)n;
}

/* --- one name, from the cache or the network ------------------------------------ */

static uint32_t ax__dns_neg_ttl(uint32_t soa_ttl) {
    uint32_t t = soa_ttl == UINT32_MAX ? AX__DNS_DEF_NEG_TTL : soa_ttl;
    return t > AX__DNS_MAX_NEG_TTL ? AX__DNS_MAX_NEG_TTL : t;
}

/* Resolves one fully qualified wire name: count, AX_ENXDOMAIN, AX_ENOADDR
 * or a transport error. */
static int ax__dns_resolve_name(ax_resolver *r, const uint8_t *wire, size_t wl, int family,
                                ax_ip *out, size_t cap, ax_instant deadline) {
    uint16_t types[2];
    size_t nt = 0;
    if (family == 0 || family == AX_INET6) types[nt++] = AX__DNS_T_AAAA;
    if (family == 0 || family == AX_INET) types[nt++] = AX__DNS_T_A;
    ax__dns_answer *ans = malloc(2 * sizeof *ans);
    if (!ans) return AX_ENOMEM;

    uint16_t ask[2];
    size_t nask = 0, where[2];
    ax_instant now = ax_now();
    for (size_t i = 0; i < nt; i++) {
        ax__dns_cached hit;
        if (ax__dns_cache_get(&r->cache, wire, wl, types[i], now, &hit, ans[i].addrs,
                              AX__DNS_MAX_ADDRS)) {
            ans[i].err = 0;
            ans[i].rcode = hit.rcode;
            ans[i].n = hit.n;
        } else {
            where[nask] = i;
            ask[nask++] = types[i];
        }
    }
    if (nask) {
        ax__dns_answer got[2];
        ax__dns_answer *g = nask == nt ? ans : got;
        int err = ax__dns_exchange(r, wire, wl, ask, nask, g, deadline);
        if (err) {
            free(ans);
            return err;
        }
        now = ax_now();
        for (size_t k = 0; k < nask; k++) {
            if (g != ans) ans[where[k]] = g[k];
            ax__dns_answer *a = &ans[where[k]];
            if (a->err) continue;
            uint32_t ttl = a->n ? a->ttl : ax__dns_neg_ttl(a->ttl);
            ax__dns_cache_put(&r->cache, wire, wl, ask[k], a->rcode, a->addrs, a->n, ttl, now);
        }
    }

    size_t n = 0;
    int err = 0;
    bool all_nx = true;
    for (size_t i = 0; i < nt; i++) {
        for (size_t k = 0; k < ans[i].n && n < cap; k++) out[n++] = ans[i].addrs[k];
        if (ans[i].err && !err) err = ans[i].err;
        all_nx = all_nx && !ans[i].err && ans[i].rcode == AX__DNS_RCODE_NXDOMAIN;
    }
    free(ans);
    if (n) return (int)n;
    if (err) return err;
    return all_nx ? AX_ENXDOMAIN : AX_ENOADDR;
}

/* The search list: a relative name with fewer than ndots dots tries the
 * search domains first and itself last; otherwise itself first. The
 * result: the first candidate with addresses, else AX_ENOADDR if some
 * candidate exists, else AX_ESERVFAIL if some server failed, else
 * AX_ENXDOMAIN. */
static int ax__dns_search(ax_resolver *r, const char *host, int family, ax_ip *out, size_t cap,
                          ax_instant deadline) {
    size_t hl = strlen(host);
    bool absolute = hl && host[hl - 1] == '.';
    const ax_resolver_config *c = &r->cfg;
    size_t ns = absolute ? 0 : c->n_search;
    bool as_is_first = absolute || ax__dns_name_dots(host) >= c->ndots;
    int neg = AX_ENXDOMAIN;
    for (size_t step = 0; step <= ns; step++) {
        char text[2 * AX_RESOLVER_NAME_MAX + 2];
        bool as_is = as_is_first ? step == 0 : step == ns;
        size_t si = as_is_first ? step - 1 : step;
        if (as_is) {
            memcpy(text, host, hl + 1);
        } else {
            memcpy(text, host, hl);
            text[hl] = '.';
            memcpy(text + hl + 1, c->search[si], strlen(c->search[si]) + 1);
        }
        uint8_t wire[AX__DNS_WIRE_MAX];
        int wl = ax__dns_name_to_wire(text, wire);
        if (wl < 0) continue; /* too long with this domain */
        int res = ax__dns_resolve_name(r, wire, (size_t)wl, family, out, cap, deadline);
        if (res > 0) return res;
        /* Not here: try the next candidate. A server failing on one
         * candidate (glibc does the same) does not stop the search, but
         * is reported if nothing is found; a timeout or cancellation
         * does stop it. */
        if (res == AX_ENOADDR)
            neg = res;
        else if (res == AX_ESERVFAIL && neg == AX_ENXDOMAIN)
            neg = res;
        else if (res != AX_ENXDOMAIN && res != AX_ESERVFAIL)
            return res;
    }
    return neg;
}

/* --- shared in-flight look-ups ---------------------------------------------------- */

static void ax__dns_flight_release(ax_resolver *r, ax__dns_flight *f) {
    pthread_mutex_lock(&r->flights_lock);
    bool last = --f->refs == 0;
    pthread_mutex_unlock(&r->flights_lock);
    if (last) free(f);
}

static int ax__dns_copy_result(const ax__dns_flight *f, int res, ax_ip *out, size_t cap) {
    if (res <= 0) return res;
    size_t n = (size_t)res < cap ? (size_t)res : cap;
    memcpy(out, f->addrs, n * sizeof *out);
    return (int)n;
}

static int ax__dns_shared(ax_resolver *r, const char *host, const uint8_t *wire, size_t wl,
                          int family, ax_ip *out, size_t cap, ax_instant deadline) {
    uint8_t key[AX__DNS_WIRE_MAX + 1];
    size_t hl = strlen(host);
    memcpy(key, wire, wl);
    key[wl] = hl && host[hl - 1] == '.'; /* "a." and "a" may differ (search list) */
    size_t kl = wl + 1;
    for (;;) {
        pthread_mutex_lock(&r->flights_lock);
        ax__dns_flight *f = r->flights;
        while (f && (f->family != family || f->key_len != kl || memcmp(f->key, key, kl) != 0))
            f = f->next;
        if (!f) {
            f = malloc(sizeof *f);
            if (!f) {
                pthread_mutex_unlock(&r->flights_lock);
                return AX_ENOMEM;
            }
            f->refs = 1;
            f->family = family;
            f->done = false;
            f->result = 0;
            ax_notify_init(&f->notify);
            memcpy(f->key, key, kl);
            f->key_len = kl;
            f->next = r->flights;
            r->flights = f;
            pthread_mutex_unlock(&r->flights_lock);

            int res = ax__dns_search(r, host, family, f->addrs, AX__DNS_MAX_RESULT, deadline);
            bool gave_up =
                res == AX_ECANCELED ||
                (res == AX_ETIMEDOUT && deadline != AX_NO_DEADLINE && ax_now() >= deadline);
            pthread_mutex_lock(&r->flights_lock);
            for (ax__dns_flight **l = &r->flights; *l; l = &(*l)->next)
                if (*l == f) {
                    *l = f->next;
                    break;
                }
            f->done = true;
            f->result = gave_up ? AX__DNS_ABANDONED : res;
            pthread_mutex_unlock(&r->flights_lock);
            ax_notify_waiters(&f->notify);
            res = ax__dns_copy_result(f, res, out, cap);
            ax__dns_flight_release(r, f);
            return res;
        }
        /* A waiter counts from its future's init: the leader's
         * notify_waiters, which follows its setting `done` under this
         * lock, cannot miss it. */
        f->refs++;
        ax_notify_future nf;
        ax_notify_future_init(&nf, &f->notify);
        pthread_mutex_unlock(&r->flights_lock);
        int w = (int)ax_await_until(&nf.base, deadline);
        pthread_mutex_lock(&r->flights_lock);
        bool done = f->done;
        int res = f->result;
        pthread_mutex_unlock(&r->flights_lock);
        if (w == AX_ECANCELED)
            res = AX_ECANCELED;
        else if (done && res != AX__DNS_ABANDONED)
            res = ax__dns_copy_result(f, res, out, cap); /* even if our deadline just passed */
        else if (w < 0)
            res = w;
        else
            res = AX__DNS_ABANDONED; /* the leader gave up: start over */
        ax__dns_flight_release(r, f);
        if (res != AX__DNS_ABANDONED) return res;
        if (deadline != AX_NO_DEADLINE && ax_now() >= deadline) return AX_ETIMEDOUT;
    }
}

/* --- the public look-ups ---------------------------------------------------------- */

static int ax__dns_check_args(const char *host, int family, ax_ip *out, size_t cap) {
    if (!host || !out || cap == 0) return AX_EINVAL;
    if (family != 0 && family != AX_INET && family != AX_INET6) return AX_EINVAL;
    return 0;
}

int ax_resolver_lookup(ax_resolver *r, const char *host, int family, ax_ip *out, size_t cap,
                       ax_instant deadline) {
    int res = ax__dns_check_args(host, family, out, cap);
    if (res) return res;
    if (!r) return AX_EINVAL;
    if ((res = ax__dns_literal(host, family, out)) != 0) return res;
    uint8_t wire[AX__DNS_WIRE_MAX];
    int wl = ax__dns_name_to_wire(host, wire);
    if (wl < 0) return AX_EINVAL;
    size_t n = ax__dns_hosts_find(&r->hosts, wire, (size_t)wl, family, out, cap);
    if (n) return (int)n;
    if ((res = ax__dns_localhost(wire, (size_t)wl, family, out, cap)) != 0) return res;
    if (r->cfg.use_getaddrinfo) return ax_resolve_getaddrinfo(host, family, out, cap, deadline);
    if (!ax_current_runtime()) return AX_ENOTASK;
    if (ax_is_cancelled()) return AX_ECANCELED;
    ax__dns_ref(r);
    res = ax__dns_shared(r, host, wire, (size_t)wl, family, out, cap, deadline);
    ax_resolver_free(r);
    return res;
}

/* --- the runtime's resolver ---------------------------------------------------------- */

typedef struct ax__dns_slot {
    pthread_mutex_t lock; /* guards r; held for a pointer swap */
    ax_resolver *r;       /* the runtime's reference, or NULL: make the default */
} ax__dns_slot;

static void ax__dns_slot_free(void *obj) {
    ax__dns_slot *s = obj;
    ax_resolver_free(s->r);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static ax__dns_slot *ax__dns_slot_of(ax_runtime *rt) {
    ax__dns_slot *s = ax__runtime_slot(rt, AX__RT_SLOT_RESOLVER);
    if (s) return s;
    ax__dns_slot *mine = calloc(1, sizeof *mine);
    if (!mine) return NULL;
    pthread_mutex_init(&mine->lock, NULL);
    s = ax__runtime_slot_install(rt, AX__RT_SLOT_RESOLVER, mine, ax__dns_slot_free);
    if (s != mine) ax__dns_slot_free(mine);
    return s;
}

/* rt's resolver, as a new reference (made from the system files on first
 * use), or NULL without memory. */
static ax_resolver *ax__dns_runtime_resolver(ax_runtime *rt) {
    ax__dns_slot *s = ax__dns_slot_of(rt);
    if (!s) return NULL;
    pthread_mutex_lock(&s->lock);
    ax_resolver *r = s->r ? ax__dns_ref(s->r) : NULL;
    pthread_mutex_unlock(&s->lock);
    if (r) return r;
    ax_resolver *made;
    if (ax_resolver_new(NULL, &made)) return NULL;
    pthread_mutex_lock(&s->lock);
    if (!s->r)
        s->r = made; /* the runtime's reference is the one new gave */
    else
        ax_resolver_free(made);
    r = ax__dns_ref(s->r);
    pthread_mutex_unlock(&s->lock);
    return r;
}

int ax_runtime_set_resolver(ax_runtime *rt, ax_resolver *r) {
    if (!rt) return AX_EINVAL;
    ax__dns_slot *s = ax__dns_slot_of(rt);
    if (!s) return AX_ENOMEM;
    if (r) ax__dns_ref(r);
    pthread_mutex_lock(&s->lock);
    ax_resolver *old = s->r;
    s->r = r;
    pthread_mutex_unlock(&s->lock);
    ax_resolver_free(old);
    return 0;
}

int ax_resolve(const char *host, int family, ax_ip *out, size_t cap, ax_instant deadline) {
    int res = ax__dns_check_args(host, family, out, cap);
    if (res) return res;
    if ((res = ax__dns_literal(host, family, out)) != 0) return res;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    ax_resolver *r = ax__dns_runtime_resolver(rt);
    if (!r) return AX_ENOMEM;
    res = ax_resolver_lookup(r, host, family, out, cap, deadline);
    ax_resolver_free(r);
    return res;
}

/* --- getaddrinfo on the blocking pool -------------------------------------------------- */

typedef struct ax__gai_job {
    int family;
    char host[]; /* NUL-terminated */
} ax__gai_job;

typedef struct ax__gai_result {
    int err;
    size_t n;
    ax_ip addrs[AX__DNS_MAX_RESULT];
} ax__gai_result;

static int ax__gai_error(int e) {
    switch (e) {
    case EAI_NONAME:
        return AX_ENXDOMAIN;
#ifdef EAI_NODATA
    case EAI_NODATA:
        return AX_ENOADDR;
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
        return AX_ENOADDR;
#endif
    case EAI_MEMORY:
        return AX_ENOMEM;
    case EAI_FAIL:
    case EAI_AGAIN:
        return AX_ESERVFAIL;
    default:
        return AX_EINVAL;
    }
}

/* Runs on a pool thread; owns nothing but what it returns. */
static void *ax__gai_fn(void *arg) {
    const ax__gai_job *j = arg;
    ax__gai_result *res = calloc(1, sizeof *res);
    if (!res) return NULL;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = j->family == AX_INET ? AF_INET : j->family == AX_INET6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM; /* one entry per address, not one per socket type */
    int e = getaddrinfo(j->host, NULL, &hints, &ai);
    if (e) {
        res->err = ax__gai_error(e);
        return res;
    }
    for (struct addrinfo *p = ai; p && res->n < AX__DNS_MAX_RESULT; p = p->ai_next) {
        ax_addr a;
        if (ax_addr_from_sockaddr(p->ai_addr, p->ai_addrlen, &a)) continue;
        bool dup = false;
        for (size_t k = 0; k < res->n && !dup; k++) dup = ax_ip_equal(&res->addrs[k], &a.ip);
        if (!dup) res->addrs[res->n++] = a.ip;
    }
    freeaddrinfo(ai);
    if (res->n == 0) res->err = AX_ENOADDR;
    return res;
}

int ax_resolve_getaddrinfo(const char *host, int family, ax_ip *out, size_t cap,
                           ax_instant deadline) {
    int res = ax__dns_check_args(host, family, out, cap);
    if (res) return res;
    if ((res = ax__dns_literal(host, family, out)) != 0) return res;
    uint8_t wire[AX__DNS_WIRE_MAX];
    if (ax__dns_name_to_wire(host, wire) < 0) return AX_EINVAL;
    if (!ax_current_runtime()) return AX_ENOTASK;
    size_t hl = strlen(host);
    ax__gai_job *j = malloc(sizeof *j + hl + 1);
    if (!j) return AX_ENOMEM;
    j->family = family;
    memcpy(j->host, host, hl + 1);
    /* The detachable form: at the deadline or on cancellation we return at
     * once, and the job frees its argument and its result alone. */
    ax_blocking_future bf;
    int err = ax_blocking_start(&bf, NULL, ax__gai_fn, j, free, free);
    if (err) {
        free(j);
        ax_future_drop(&bf.base);
        return err;
    }
    err = (int)ax_await_until(&bf.base, deadline);
    if (err) return err;
    ax__gai_result *g = bf.value;
    if (!g) return AX_ENOMEM;
    if (g->err) {
        err = g->err;
        free(g);
        return err;
    }
    size_t n = g->n < cap ? g->n : cap;
    memcpy(out, g->addrs, n * sizeof *out);
    free(g);
    return (int)n;
}
