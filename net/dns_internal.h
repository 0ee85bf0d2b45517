/* net/dns_internal.h - private to net/dns*.c: the pieces of the stub
 * resolver, one file each.
 *
 *   dns_conf.c      resolv.conf and hosts files, name checks
 *   dns_msg.c       building queries, parsing answers (hostile input)
 *   dns_cache.c     answers by (name, type) until their TTL runs out
 *   dns_resolver.c  the transport: UDP with retries, TCP on truncation
 *   dns.c           the public API, shared in-flight look-ups
 *
 * Names inside the resolver are kept in "wire form", lower case: length-
 * prefixed labels ending with a zero byte, at most 255 bytes. Comparing two
 * names is then memcmp, and a label holding a '.' cannot be confused with
 * two labels.
 */
#ifndef AX_NET_DNS_INTERNAL_H
#define AX_NET_DNS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "axon/dns.h"
#include "axon/sync.h"

#pragma GCC visibility push(hidden)

#define AX__DNS_WIRE_MAX 255 /* a name in wire form, final zero included */
#define AX__DNS_T_A      1
#define AX__DNS_T_CNAME  5
#define AX__DNS_T_SOA    6
#define AX__DNS_T_AAAA   28
#define AX__DNS_C_IN     1

#define AX__DNS_RCODE_NOERROR  0
#define AX__DNS_RCODE_FORMERR  1
#define AX__DNS_RCODE_SERVFAIL 2
#define AX__DNS_RCODE_NXDOMAIN 3
#define AX__DNS_RCODE_REFUSED  5

/* Addresses kept from one answer (more are dropped), and in one result. */
#define AX__DNS_MAX_ADDRS  128
#define AX__DNS_MAX_RESULT (2 * AX__DNS_MAX_ADDRS)
/* Longest time an answer is trusted, and a negative answer. */
#define AX__DNS_MAX_TTL     86400u
#define AX__DNS_MAX_NEG_TTL 30u
#define AX__DNS_DEF_NEG_TTL 5u /* NXDOMAIN without an SOA */
/* Largest UDP answer read (we send no EDNS, so servers keep to 512, but a
 * lenient reader costs nothing). */
#define AX__DNS_UDP_MAX 4096

/* --- names (dns_conf.c) --------------------------------------------------- */

/* Encodes dotted text (a trailing dot allowed) as a lower-case wire name.
 * Only letters, digits, '-' and '_' are accepted in labels; labels 1..63
 * bytes; the whole at most 255 in wire form. Returns the wire length or
 * AX_EINVAL. */
int ax__dns_name_to_wire(const char *text, uint8_t wire[AX__DNS_WIRE_MAX]);
/* Dots in text (not counting a trailing one). */
unsigned ax__dns_name_dots(const char *text);

/* --- hosts file (dns_conf.c) ---------------------------------------------- */

typedef struct ax__dns_host_entry {
    ax_ip ip;
    uint8_t name[AX__DNS_WIRE_MAX]; /* wire form */
    uint8_t name_len;
} ax__dns_host_entry;

typedef struct ax__dns_hosts {
    ax__dns_host_entry *v;
    size_t n, cap;
} ax__dns_hosts;

/* Parses a hosts file (missing: empty, 0). Returns 0 or AX_ENOMEM / an
 * error reading it other than ENOENT. Lines that do not parse are skipped. */
int ax__dns_hosts_load(ax__dns_hosts *h, const char *path);
/* Parses hosts text held in memory (for tests and the loader). */
int ax__dns_hosts_parse(ax__dns_hosts *h, const char *text, size_t len);
void ax__dns_hosts_free(ax__dns_hosts *h);
/* The addresses of wire name `name` of the family (0: both), in file
 * order, up to cap. Returns the count. */
size_t ax__dns_hosts_find(const ax__dns_hosts *h, const uint8_t *name, size_t name_len, int family,
                          ax_ip *out, size_t cap);

/* Parses resolv.conf text into cfg (see ax_resolver_config_load). */
void ax__dns_conf_parse(ax_resolver_config *cfg, const char *text, size_t len);

/* --- messages (dns_msg.c) ------------------------------------------------- */

/* Writes a standard query (RD set, one question, class IN) for wire name
 * `name` into buf. Returns its length or AX_ENOSPC. */
int ax__dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *name, size_t name_len,
                        uint16_t qtype);

/* What a parsed answer says about the question. */
typedef struct ax__dns_answer {
    int err;        /* ax__dns_exchange: 0 when this question has its answer */
    int rcode;      /* AX__DNS_RCODE_* (the header's, 4 bits) */
    bool truncated; /* TC: ask again over TCP */
    /* For NOERROR: the addresses of qtype found at the end of the CNAME
     * chain (none: "no data"). ttl: the smallest TTL of the records used
     * (CNAMEs included); for a negative answer the SOA's (min of its TTL
     * and MINIMUM), or UINT32_MAX when no SOA came with it. */
    uint32_t ttl;
    size_t n;
    ax_ip addrs[AX__DNS_MAX_ADDRS];
} ax__dns_answer;

/* Parses msg (len bytes) as the answer to query (id, name, qtype). Returns
 * 0 with *a filled, or AX_EBADRESP (not a response, another id or
 * question, anything out of bounds, compression loops, ...). Never reads
 * outside msg[0..len). */
int ax__dns_parse_answer(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *name,
                         size_t name_len, uint16_t qtype, ax__dns_answer *a);

/* The id of a message (len >= 2), for matching answers to queries. */
static inline uint16_t ax__dns_msg_id(const uint8_t *msg) {
    return (uint16_t)(msg[0] << 8 | msg[1]);
}

/* --- cache (dns_cache.c) -------------------------------------------------- */

typedef struct ax__dns_cache_entry ax__dns_cache_entry;

typedef struct ax__dns_cache {
    pthread_mutex_t lock; /* held for a lookup or an insert, never across a suspension */
    ax__dns_cache_entry **buckets;
    size_t nbuckets, count, max;
} ax__dns_cache;

/* What the cache holds for one (name, type). */
typedef struct ax__dns_cached {
    int rcode; /* NOERROR (n may be 0: no data) or NXDOMAIN */
    size_t n;  /* addresses copied out (up to the caller's cap) */
} ax__dns_cached;

int ax__dns_cache_init(ax__dns_cache *c, size_t max);
void ax__dns_cache_destroy(ax__dns_cache *c);
void ax__dns_cache_clear(ax__dns_cache *c);
/* Looks (name, qtype) up at instant now: true with *res and up to cap
 * addresses in out when a live entry exists. */
bool ax__dns_cache_get(ax__dns_cache *c, const uint8_t *name, size_t name_len, uint16_t qtype,
                       ax_instant now, ax__dns_cached *res, ax_ip *out, size_t cap);
/* Stores an answer valid for ttl seconds from now (ttl 0: not stored).
 * Replaces an older entry; when full, drops the one expiring first. */
void ax__dns_cache_put(ax__dns_cache *c, const uint8_t *name, size_t name_len, uint16_t qtype,
                       int rcode, const ax_ip *addrs, size_t n, uint32_t ttl, ax_instant now);

/* --- the resolver object (dns.c) ------------------------------------------ */

typedef struct ax__dns_flight ax__dns_flight;

struct ax_resolver {
    atomic_int refs;
    ax_resolver_config cfg;
    ax__dns_hosts hosts;
    ax__dns_cache cache;
    atomic_uint rotate_next;
    pthread_mutex_t flights_lock; /* the in-flight list; never held across a suspension */
    ax__dns_flight *flights;
};

/* --- transport (dns_resolver.c) ------------------------------------------- */

/* Asks r's nameservers about wire name `name` for each of the nq (1 or 2)
 * types at once, over one UDP socket per server attempt, falling back to
 * TCP for a truncated answer. Returns 0 when at least one question got a
 * final answer (rcode NOERROR or NXDOMAIN): answers[i].err is 0 for those
 * and the error below for the others. Otherwise returns the error: AX_ESERVFAIL, AX_ETIMEDOUT
 * (attempts used up, or deadline), AX_EBADRESP, AX_ECONNREFUSED, AX_ECANCELED, AX_ENOMEM,
 * AX_ENOTASK. Task only. */
int ax__dns_exchange(ax_resolver *r, const uint8_t *name, size_t name_len, const uint16_t *qtypes,
                     size_t nq, ax__dns_answer *answers, ax_instant deadline);

#pragma GCC visibility pop

#endif
