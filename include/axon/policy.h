/* axon/policy.h - the runtime's permission policy: which files a program
 * may read and write, which hosts it may connect to, where it may listen.
 *
 * A runtime starts with no policy, and no policy means everything is
 * allowed. A program opts in by building a policy and installing it:
 *
 *     ax_policy *p;
 *     ax_policy_new(&p);                           // allows nothing yet
 *     ax_policy_allow_read(p, "/srv/www");
 *     ax_policy_allow_write(p, "/var/log/app");
 *     ax_policy_allow_connect(p, "db.internal", 5432, 5432);
 *     ax_policy_allow_connect(p, "10.0.0.0/8", 0, 65535);
 *     ax_policy_allow_bind(p, "0.0.0.0", 8080, 8080);
 *     ax_runtime_set_policy(rt, p);                // the runtime takes a reference
 *     ax_policy_free(p);                           // ... so ours can go
 *
 * Axon's file and network layers ask the installed policy before they touch
 * the operating system. A denial is AX_EPOLICY, which is not the OS's
 * AX_EACCES/AX_EPERM: the OS was never asked. Every check can also say what
 * was denied, in words, through an optional caller buffer:
 *     "read of /etc/passwd denied: not under an allowed read root"
 *     "connect to example.com:443 denied: no allow_connect rule matches"
 * There is no "last error" variable: tasks move between threads.
 *
 * Paths. A root is a directory. It is canonicalised when it is added
 * (realpath: symbolic links and `..` resolved, so it must exist), and the
 * runtime opens it then (O_PATH|O_DIRECTORY|O_CLOEXEC) and keeps that
 * descriptor. The root is matched under both spellings: as given (made
 * absolute and cleaned) and canonical. A checked path is made absolute
 * (relative to the current directory) and cleaned lexically: `//`, `.`,
 * `..` and a trailing `/` are resolved on the string, without touching the
 * file system, and it is then compared with the roots component by
 * component, so /data2 is not under /data and /data/../etc/passwd is
 * /etc/passwd. A check does not follow symbolic links inside the path.
 *
 * That string check is a first gate only. A symbolic link inside an
 * allowed root can point anywhere; the file layer therefore opens every
 * path relative to its root's descriptor with openat2(RESOLVE_BENEATH),
 * where the kernel refuses any `..` or link that would leave the root.
 * Code that opens files itself, around Axon, gets no such guarantee from a
 * check. `..` is resolved lexically before the kernel sees the path:
 * /data/link/../f means /data/f to the policy and to the file layer.
 *
 * Read and write are separate rights: a write root does not grant reading
 * (least privilege: a log directory can be write-only). Call both to allow
 * both. Creating, renaming and removing need write; stat, open for reading
 * and listing need read (the file layer documents each operation).
 *
 * Hosts. A connect or bind rule names one of:
 *   "*"                    any host, by name or address;
 *   "example.com"          exactly that name (ASCII case-insensitive, a
 *                          trailing dot ignored);
 *   "*.example.com"        any name below example.com (not the name itself);
 *   "10.1.2.3", "::1",     one address ("[::1]" is accepted too);
 *   "10.0.0.0/8", "fd00::/8"  an address range (CIDR; host bits are
 *                          ignored).
 * and an inclusive port range [port_lo, port_hi] (0, 65535: any port; a
 * bind to port 0, "any free port", is checked as port 0). A checked host is
 * a name or an address literal: names match name rules (and "*"), addresses
 * match address rules (and "*"); an IPv4-mapped IPv6 address
 * (::ffff:10.1.2.3) is checked as the IPv4 address. The network layer checks
 * the host as the program gave it, before resolving it: allowing a name
 * allows whatever address it resolves to.
 *
 * Lifetime and threads. A policy is reference counted. Building it
 * (ax_policy_allow_*) is not thread-safe: build it on one thread, then
 * install it. Installing freezes it: from then on it is immutable (the
 * allow functions return AX_EBUSY), so checks from any number of threads
 * need no lock. To change the rules, build a new policy (ax_policy_clone
 * copies one) and install it; checks in flight finish with the old one,
 * which is freed when its last reference goes.
 */
#ifndef AXON_POLICY_H
#define AXON_POLICY_H

#include <stddef.h>
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_policy ax_policy;

/* Creates an empty policy, which allows nothing once installed. *out owns
 * one reference (release it with ax_policy_free). Errors: AX_ENOMEM.
 * Thread-safe. */
int ax_policy_new(ax_policy **out);

/* Creates an unfrozen copy of src (its rules, and its roots with their own
 * descriptors), to build a changed policy from an installed one. *out owns
 * one reference. Errors: AX_ENOMEM, AX_EMFILE. Thread-safe. */
int ax_policy_clone(const ax_policy *src, ax_policy **out);

/* Takes another reference to p and returns p. Thread-safe. */
ax_policy *ax_policy_ref(ax_policy *p);

/* Releases one reference; the last one frees the policy and closes its root
 * descriptors. NULL is a no-op. Thread-safe. */
void ax_policy_free(ax_policy *p);

/* Allows reading (resp. writing) the directory root and everything below
 * it. root is copied; it must name an existing directory, and is
 * canonicalised and opened now (see above). Adding the same root twice is
 * harmless. Errors: AX_EINVAL (NULL or empty), AX_ENOENT, AX_ENOTDIR,
 * AX_EACCES and other errors of realpath/open, AX_ENAMETOOLONG, AX_ENOMEM,
 * AX_EBUSY (p is installed, so frozen). Not thread-safe (see above). */
int ax_policy_allow_read(ax_policy *p, const char *root);
int ax_policy_allow_write(ax_policy *p, const char *root);

/* Allows connecting to host (a rule as described above) on ports
 * port_lo..port_hi inclusive. host is copied. Errors: AX_EINVAL (not a
 * valid name, address or range; port_lo > port_hi; port_hi > 65535),
 * AX_ENOMEM, AX_EBUSY (frozen). Not thread-safe. */
int ax_policy_allow_connect(ax_policy *p, const char *host, unsigned port_lo, unsigned port_hi);

/* Allows binding (listening, or a UDP socket's local address) to addr on
 * ports port_lo..port_hi. addr is a rule as for connect; binding to every
 * interface is the address 0.0.0.0 or ::, which a rule must cover like any
 * other (e.g. "0.0.0.0", "::" or "*"). Errors as ax_policy_allow_connect. */
int ax_policy_allow_bind(ax_policy *p, const char *addr, unsigned port_lo, unsigned port_hi);

/* The checks. Each returns 0 when allowed, AX_EPOLICY when denied, and
 * AX_EINVAL (NULL or empty path/host, port > 65535) or AX_ENAMETOOLONG (the
 * path, made absolute, exceeds PATH_MAX) for input no rule could match.
 * p NULL (no policy) allows everything. When why is not NULL and cap > 0,
 * why receives a NUL-terminated description of a denial or error (truncated
 * to cap), and "" when allowed. Only the strings are read: no file is
 * touched and no name is resolved (a relative path reads the current
 * directory with getcwd). Thread-safe on an installed (frozen) policy. */
int ax_policy_check_read(const ax_policy *p, const char *path, char *why, size_t cap);
int ax_policy_check_write(const ax_policy *p, const char *path, char *why, size_t cap);
int ax_policy_check_connect(const ax_policy *p, const char *host, unsigned port, char *why,
                            size_t cap);
int ax_policy_check_bind(const ax_policy *p, const char *addr, unsigned port, char *why,
                         size_t cap);

/* Installs p on rt (NULL: remove the policy, so everything is allowed
 * again). The runtime takes its own reference and freezes p; the caller
 * keeps its reference (free it when done). The same policy may be installed
 * on several runtimes. Replacing a policy is atomic: a check sees either
 * the old or the new one, and a check in flight keeps the old one alive.
 * ax_runtime_free releases the runtime's reference. Errors: AX_EINVAL (rt
 * NULL). Thread-safe, any thread. */
int ax_runtime_set_policy(ax_runtime *rt, ax_policy *p);

/* The policy installed on rt now, as a new reference the caller must
 * release with ax_policy_free; NULL when none is installed (everything is
 * allowed). Thread-safe, any thread. Takes no lock and never suspends; it
 * waits (spinning, then yielding) only while another thread is in the few
 * instructions of swapping the installed policy. */
ax_policy *ax_runtime_policy(ax_runtime *rt);

#ifdef __cplusplus
}
#endif
#endif
