/* http/ratelimit.c - token buckets per client key in a fixed table.
 *
 * A key hashes to a group of four slots; its bucket is the slot holding
 * its hash, else an empty slot, else the group's least recently seen one
 * (that key is forgotten: it comes back with a full bucket). The table is
 * locked in stripes; a lock is held only to update one bucket, never
 * across a suspension. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

#define AX__RL_WAYS    4
#define AX__RL_STRIPES 64

typedef struct ax__bucket {
    uint64_t hash; /* 0: empty */
    double tokens;
    ax_instant last;
} ax__bucket;

struct ax_http_ratelimit {
    ax_http_ratelimit_opts o;
    ax__bucket *slots;
    size_t mask; /* slots - 1 */
    pthread_mutex_t locks[AX__RL_STRIPES];
};

int ax_http_ratelimit_new(ax_http_ratelimit **out, const ax_http_ratelimit_opts *opts) {
    if (!out || !opts || !(opts->rate > 0) || !(opts->burst >= 1)) return AX_EINVAL;
    ax_http_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) return AX_ENOMEM;
    rl->o = *opts;
    size_t want = opts->max_keys ? opts->max_keys : 4096, n = AX__RL_WAYS;
    while (n < want && n < ((size_t)1 << 30)) n *= 2;
    rl->slots = calloc(n, sizeof *rl->slots);
    if (!rl->slots) {
        free(rl);
        return AX_ENOMEM;
    }
    rl->mask = n - 1;
    for (int i = 0; i < AX__RL_STRIPES; i++) pthread_mutex_init(&rl->locks[i], NULL);
    *out = rl;
    return 0;
}

void ax_http_ratelimit_free(ax_http_ratelimit *rl) {
    if (!rl) return;
    for (int i = 0; i < AX__RL_STRIPES; i++) pthread_mutex_destroy(&rl->locks[i]);
    free(rl->slots);
    free(rl);
}

static uint64_t ax__hash(const char *k, size_t n) {
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h ? h : 1;
}

int ax_http_ratelimit_take(ax_http_ratelimit *rl, const char *key, size_t len, ax_instant now) {
    uint64_t h = ax__hash(key, len);
    size_t g = (size_t)h & rl->mask & ~(size_t)(AX__RL_WAYS - 1);
    pthread_mutex_t *lock = &rl->locks[(g / AX__RL_WAYS) % AX__RL_STRIPES];
    pthread_mutex_lock(lock);
    ax__bucket *b = NULL, *victim = &rl->slots[g];
    for (size_t i = 0; i < AX__RL_WAYS; i++) {
        ax__bucket *s = &rl->slots[g + i];
        if (s->hash == h) {
            b = s;
            break;
        }
        if (victim->hash && (!s->hash || s->last < victim->last)) victim = s;
    }
    if (!b) {
        b = victim;
        b->hash = h;
        b->tokens = rl->o.burst;
        b->last = now;
    }
    if (now > b->last) {
        b->tokens += (double)(now - b->last) * rl->o.rate / 1e9;
        if (b->tokens > rl->o.burst) b->tokens = rl->o.burst;
        b->last = now;
    }
    int wait = 0;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
    } else {
        double s = (1.0 - b->tokens) / rl->o.rate;
        wait = (int)s;
        if ((double)wait < s) wait++;
        if (wait < 1) wait = 1;
    }
    pthread_mutex_unlock(lock);
    return wait;
}

int ax_http_ratelimit_mw(ax_http_req *req, ax_http_res *res, ax_http_next *next, void *limiter) {
    ax_http_ratelimit *rl = limiter;
    char key[128];
    size_t n = 0;
    if (rl->o.key_fn) {
        n = rl->o.key_fn(req, key, sizeof key, rl->o.key_user);
        if (n > sizeof key) n = sizeof key;
    } else {
        ax_addr peer;
        int len;
        if (ax_http_req_peer(req, &peer) == 0 &&
            (len = ax_ip_format(&peer.ip, key, sizeof key)) > 0)
            n = (size_t)len;
    }
    if (n == 0) return ax_http_next_run(next, req, res);
    int wait = ax_http_ratelimit_take(rl, key, n, ax_now());
    if (wait == 0) return ax_http_next_run(next, req, res);
    char ra[16];
    snprintf(ra, sizeof ra, "%d", wait);
    ax_http_res_header(res, "Retry-After", ra);
    return ax_http_res_text(res, 429, "Too Many Requests\n");
}
