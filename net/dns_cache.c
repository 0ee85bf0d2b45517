/* net/dns_cache.c - answers kept by (name, type) until their TTL runs out.
 *
 * A chained hash table under one mutex, held only for a lookup or an
 * insert (never across a suspension). Each entry is one allocation holding
 * its name and addresses. Expired entries are dropped when met; when the
 * table is full, inserting drops the entry that expires first (a scan, but
 * only of a full cache, and inserts follow network round trips). */
#include <stdlib.h>
#include <string.h>

#include "axon/error.h"
#include "net/dns_internal.h"

struct ax__dns_cache_entry {
    ax__dns_cache_entry *next;
    ax_instant expires;
    uint16_t qtype;
    int rcode;
    uint8_t name_len;
    uint8_t name[AX__DNS_WIRE_MAX];
    size_t n;
    ax_ip addrs[]; /* n of them */
};

static size_t ax__dns_hash(const uint8_t *name, size_t len, uint16_t qtype) {
    uint64_t h = 1469598103934665603ull ^ qtype; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ name[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

int ax__dns_cache_init(ax__dns_cache *c, size_t max) {
    memset(c, 0, sizeof *c);
    c->max = max;
    c->nbuckets = 64;
    while (c->nbuckets < max && c->nbuckets < (1u << 16)) c->nbuckets *= 2;
    c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
    if (!c->buckets) return AX_ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    return 0;
}

static void ax__dns_cache_clear_locked(ax__dns_cache *c) {
    for (size_t i = 0; i < c->nbuckets; i++) {
        ax__dns_cache_entry *e = c->buckets[i];
        while (e) {
            ax__dns_cache_entry *n = e->next;
            free(e);
            e = n;
        }
        c->buckets[i] = NULL;
    }
    c->count = 0;
}

void ax__dns_cache_destroy(ax__dns_cache *c) {
    if (!c->buckets) return;
    ax__dns_cache_clear_locked(c);
    free(c->buckets);
    c->buckets = NULL;
    pthread_mutex_destroy(&c->lock);
}

void ax__dns_cache_clear(ax__dns_cache *c) {
    if (!c->buckets) return;
    pthread_mutex_lock(&c->lock);
    ax__dns_cache_clear_locked(c);
    pthread_mutex_unlock(&c->lock);
}

/* Finds (name, qtype) in its bucket, unlinking expired entries on the way.
 * Returns the link that points to it, or NULL. Locked. */
static ax__dns_cache_entry **ax__dns_cache_find(ax__dns_cache *c, const uint8_t *name,
                                                size_t name_len, uint16_t qtype, ax_instant now) {
    ax__dns_cache_entry **link =
        &c->buckets[ax__dns_hash(name, name_len, qtype) & (c->nbuckets - 1)];
    while (*link) {
        ax__dns_cache_entry *e = *link;
        if (e->expires <= now) {
            *link = e->next;
            free(e);
            c->count--;
            continue;
        }
        if (e->qtype == qtype && e->name_len == name_len && memcmp(e->name, name, name_len) == 0)
            return link;
        link = &e->next;
    }
    return NULL;
}

bool ax__dns_cache_get(ax__dns_cache *c, const uint8_t *name, size_t name_len, uint16_t qtype,
                       ax_instant now, ax__dns_cached *res, ax_ip *out, size_t cap) {
    if (!c->buckets) return false;
    pthread_mutex_lock(&c->lock);
    ax__dns_cache_entry **link = ax__dns_cache_find(c, name, name_len, qtype, now);
    if (link) {
        ax__dns_cache_entry *e = *link;
        res->rcode = e->rcode;
        res->n = e->n < cap ? e->n : cap;
        memcpy(out, e->addrs, res->n * sizeof *out);
    }
    pthread_mutex_unlock(&c->lock);
    return link != NULL;
}

/* Drops the entry that expires first. Locked; the cache is not empty. */
static void ax__dns_cache_evict_one(ax__dns_cache *c) {
    ax__dns_cache_entry **victim = NULL;
    for (size_t i = 0; i < c->nbuckets; i++)
        for (ax__dns_cache_entry **l = &c->buckets[i]; *l; l = &(*l)->next)
            if (!victim || (*l)->expires < (*victim)->expires) victim = l;
    if (!victim) return;
    ax__dns_cache_entry *e = *victim;
    *victim = e->next;
    free(e);
    c->count--;
}

void ax__dns_cache_put(ax__dns_cache *c, const uint8_t *name, size_t name_len, uint16_t qtype,
                       int rcode, const ax_ip *addrs, size_t n, uint32_t ttl, ax_instant now) {
    if (!c->buckets || ttl == 0 || c->max == 0 || name_len > AX__DNS_WIRE_MAX) return;
    if (ttl > AX__DNS_MAX_TTL) ttl = AX__DNS_MAX_TTL;
    ax__dns_cache_entry *e = malloc(sizeof *e + n * sizeof *addrs);
    if (!e) return; /* a cache that cannot grow just forgets */
    e->expires = now + (ax_instant)ttl * 1000000000ull;
    e->qtype = qtype;
    e->rcode = rcode;
    e->name_len = (uint8_t)name_len;
    memcpy(e->name, name, name_len);
    e->n = n;
    memcpy(e->addrs, addrs, n * sizeof *addrs);
    pthread_mutex_lock(&c->lock);
    ax__dns_cache_entry **old = ax__dns_cache_find(c, name, name_len, qtype, now);
    if (old) {
        ax__dns_cache_entry *o = *old;
        *old = o->next;
        free(o);
        c->count--;
    }
    if (c->count >= c->max) ax__dns_cache_evict_one(c);
    ax__dns_cache_entry **head =
        &c->buckets[ax__dns_hash(name, name_len, qtype) & (c->nbuckets - 1)];
    e->next = *head;
    *head = e;
    c->count++;
    pthread_mutex_unlock(&c->lock);
}
