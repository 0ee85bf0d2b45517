/* axon/dns.h - resolving host names without blocking a worker.
 *
 * ax_resolve(host, family, out, cap, deadline) turns a host name into every
 * address it has, in the order to try them. Inside, a native stub resolver
 * (no libc resolver, no thread) does the work:
 *   - an address literal ("192.0.2.1", "::1", "[::1]") is returned as is,
 *     without any query;
 *   - the hosts file (/etc/hosts) is consulted first; "localhost" and names
 *     under ".localhost" are loopback even when the file lacks them;
 *   - otherwise A and AAAA queries (both at once for family 0) go over UDP
 *     to the nameservers of resolv.conf, each attempt to each server waiting
 *     timeout_ms, `attempts` rounds over the servers; an answer with the TC
 *     bit is asked again over TCP;
 *   - a relative name goes through the search list first when it has fewer
 *     than ndots dots, last otherwise (as glibc and musl do); a name with a
 *     trailing dot is absolute;
 *   - answers are cached by their TTL (and NXDOMAIN or "no such address"
 *     briefly, by the zone's SOA minimum, at most 30 s);
 *   - identical look-ups that overlap (same name, same family, same
 *     resolver) send one query: later callers wait for the first's result.
 * A resolver may instead use getaddrinfo on the blocking pool
 * (use_getaddrinfo), for systems whose name service is more than DNS
 * (nsswitch, mDNS, LDAP).
 *
 * Addresses: IPv6 first, then IPv4, each in the server's order, for family
 * 0; hosts-file answers keep the file's order. ax_tcp_connect_addrs
 * interleaves the families itself (Happy Eyeballs).
 *
 * Errors (negative AX_E*, see axon/error.h):
 *   AX_ENXDOMAIN    the name does not exist (after every search domain)
 *   AX_ENOADDR      the name exists but has no address of that family
 *   AX_ESERVFAIL    every server answered SERVFAIL or REFUSED
 *   AX_ETIMEDOUT    no answer within the attempts, or the deadline passed
 *   AX_EBADRESP     only malformed answers came back
 *   AX_ECONNREFUSED every server refused the datagram (ICMP unreachable)
 *   AX_ECANCELED    the calling task was cancelled
 *   AX_EINVAL       not a host name (empty, a label over 63 bytes, more than
 *                   253 bytes, characters other than letters, digits, '-'
 *                   and '_'), a bad family, or cap 0
 *   AX_ENOTASK      a name (not a literal) outside a task
 *
 * The resolver does not consult the runtime's permission policy: it talks
 * only to the nameservers it was configured with, and ax_tcp_connect_host
 * checks the name and each resolved address itself.
 *
 * Thread-safety: a resolver is shared by every task of every worker; all
 * functions taking one are thread-safe. Configurations are plain values
 * owned by the caller.
 */
#ifndef AXON_DNS_H
#define AXON_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include "addr.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AX_RESOLVER_MAX_NAMESERVERS 8
#define AX_RESOLVER_MAX_SEARCH      8
/* A domain name in text, terminator included. */
#define AX_RESOLVER_NAME_MAX 256
#define AX_RESOLVER_PATH_MAX 256

typedef struct ax_resolver ax_resolver;

/* A resolver's configuration, a plain value. ax_resolver_config_init gives
 * the defaults; ax_resolver_config_load adds what a resolv.conf says. */
typedef struct ax_resolver_config {
    /* Servers, tried in this order (ports included: resolv.conf cannot say
     * one, tests and private setups can). None: 127.0.0.1:53 and [::1]:53. */
    ax_addr nameservers[AX_RESOLVER_MAX_NAMESERVERS];
    size_t n_nameservers;
    /* Search domains, without a trailing dot. */
    char search[AX_RESOLVER_MAX_SEARCH][AX_RESOLVER_NAME_MAX];
    size_t n_search;
    unsigned ndots;      /* default 1, at most 15 */
    unsigned timeout_ms; /* per attempt and server; default 5000 */
    unsigned attempts;   /* rounds over the servers; default 2, at most 5 */
    bool rotate;         /* spread the first server over look-ups */
    /* Hosts file consulted before DNS; "" for none. Default /etc/hosts. Read
     * when the resolver is made. */
    char hosts_path[AX_RESOLVER_PATH_MAX];
    /* Resolve with getaddrinfo on the blocking pool instead (the fields
     * above are then unused; hosts and literals still work as there). */
    bool use_getaddrinfo;
    bool cache;        /* default true */
    size_t cache_size; /* entries (one per name and type); default 1024 */
} ax_resolver_config;

/* Fills cfg with the defaults above (no nameserver, no search domain,
 * hosts_path "/etc/hosts"). Thread-safe. */
void ax_resolver_config_init(ax_resolver_config *cfg);

/* Reads a resolv.conf (path NULL: /etc/resolv.conf) into cfg, adding to
 * what is there: `nameserver` lines (IPv4 or IPv6, port 53; beyond
 * AX_RESOLVER_MAX_NAMESERVERS ignored), `search` and `domain` (the last
 * such line replaces the list), `options ndots:n timeout:s attempts:n
 * rotate` (unknown options, lines and comments after '#' or ';' are
 * ignored, as the libc resolvers do). Returns 0, or the error opening the
 * file (AX_ENOENT, AX_EACCES, ...). Blocking file I/O on a small file.
 * Thread-safe. */
int ax_resolver_config_load(ax_resolver_config *cfg, const char *path);

/* Appends a nameserver: "192.0.2.53", "2001:db8::53" (port 53), or
 * "127.0.0.1:5353", "[::1]:5353". Returns 0, AX_EINVAL or AX_ENOSPC. */
int ax_resolver_config_add_nameserver(ax_resolver_config *cfg, const char *addr);

/* Appends a search domain (a trailing dot is dropped). 0, AX_EINVAL,
 * AX_ENOSPC. */
int ax_resolver_config_add_search(ax_resolver_config *cfg, const char *domain);

/* Creates a resolver from cfg (copied; cfg NULL: /etc/resolv.conf and
 * /etc/hosts). The hosts file is read here; a missing one counts as empty.
 * *out is owned by the caller: release it with ax_resolver_free. Returns 0,
 * AX_ENOMEM or AX_EINVAL. Does not need a task. Thread-safe. */
int ax_resolver_new(const ax_resolver_config *cfg, ax_resolver **out);

/* Releases the caller's reference. The resolver lives on while a look-up
 * or a runtime still uses it. NULL is a no-op. Thread-safe. */
void ax_resolver_free(ax_resolver *r);

/* Forgets every cached answer. Thread-safe. */
void ax_resolver_flush(ax_resolver *r);

/* Resolves host with r; see ax_resolve. Task only (except for literals
 * and hosts-file names). */
int ax_resolver_lookup(ax_resolver *r, const char *host, int family, ax_ip *out, size_t cap,
                       ax_instant deadline);

/* Makes r the resolver ax_resolve uses on rt (the runtime takes its own
 * reference; the caller keeps its own). r NULL: back to the default, made
 * again from /etc/resolv.conf on next use. Look-ups already running finish
 * with the old one. Returns 0 (AX_ENOMEM at most). Thread-safe. */
int ax_runtime_set_resolver(ax_runtime *rt, ax_resolver *r);

/* Resolves host with the calling task's runtime's resolver (created on
 * first use from /etc/resolv.conf and /etc/hosts). family: 0 (both),
 * AX_INET or AX_INET6. Stores up to cap addresses in out and returns how
 * many (>= 1), or an error above. deadline bounds the whole look-up
 * (AX_NO_DEADLINE: the resolver's timeouts alone). Task only. */
int ax_resolve(const char *host, int family, ax_ip *out, size_t cap, ax_instant deadline);

/* Resolves host with getaddrinfo(3) on the runtime's blocking pool, for
 * name services beyond DNS. Same arguments and results; getaddrinfo's
 * errors map to AX_ENXDOMAIN (EAI_NONAME), AX_ENOADDR (EAI_NODATA,
 * EAI_ADDRFAMILY), AX_ESERVFAIL (EAI_FAIL, EAI_AGAIN), AX_ENOMEM. At the
 * deadline or on cancellation the call returns at once and the job, which
 * cannot be interrupted, finishes alone and frees its own memory. Task
 * only. */
int ax_resolve_getaddrinfo(const char *host, int family, ax_ip *out, size_t cap,
                           ax_instant deadline);

#ifdef __cplusplus
}
#endif
#endif
