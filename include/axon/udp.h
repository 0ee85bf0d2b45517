/* axon/udp.h - UDP sockets.
 *
 * Nonblocking, close-on-exec sockets registered with the calling task's
 * runtime. Every suspending call takes a deadline (AX_NO_DEADLINE: none),
 * returns AX_ETIMEDOUT when it passes, AX_ECANCELED when the task is
 * cancelled, AX_ENOTASK outside a task. ax_udp_bind consults the runtime's
 * permission policy (bind), ax_udp_connect and ax_udp_send_to consult it
 * for the peer (connect); a denial is AX_EPOLICY.
 *
 * Thread-safety: one receiving task and one sending task at a time.
 */
#ifndef AXON_UDP_H
#define AXON_UDP_H

#include <stdbool.h>
#include <sys/types.h>
#include "addr.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_udp ax_udp;

typedef struct ax_udp_opts {
    bool reuse_addr; /* SO_REUSEADDR (off by default) */
    bool reuse_port; /* SO_REUSEPORT */
    bool broadcast;  /* SO_BROADCAST */
    bool v6_only;    /* IPV6_V6ONLY for an IPv6 address */
} ax_udp_opts;

/* Binds a socket to addr (port 0: ephemeral; the unspecified address: all
 * interfaces). opts may be NULL (all off). Returns 0 with *out (the caller
 * owns it: ax_udp_close) or AX_E*. Does not suspend. Task only. */
int ax_udp_bind(const ax_addr *addr, const ax_udp_opts *opts, ax_udp **out);

/* Sets the default peer: ax_udp_send / ax_udp_recv then talk to it only
 * (datagrams from others are dropped by the kernel, and an ICMP
 * unreachable shows as AX_ECONNREFUSED on a later call). Does not suspend. */
int ax_udp_connect(ax_udp *u, const ax_addr *peer);

/* Sends one datagram. Returns len, AX_EMSGSIZE when it is too large, or
 * AX_E*. Task only. */
ssize_t ax_udp_send_to(ax_udp *u, const void *buf, size_t len, const ax_addr *to,
                       ax_instant deadline);
ssize_t ax_udp_send(ax_udp *u, const void *buf, size_t len, ax_instant deadline);

/* Flag reported by the receive calls. */
#define AX_UDP_TRUNCATED 1u /* the datagram was longer than len; the rest is lost */

/* Receives one datagram into buf. Returns the bytes stored (at most len);
 * from (may be NULL) receives the sender, *flags (may be NULL) receives
 * AX_UDP_TRUNCATED when the datagram did not fit. Task only. */
ssize_t ax_udp_recv_from(ax_udp *u, void *buf, size_t len, ax_addr *from, unsigned *flags,
                         ax_instant deadline);
ssize_t ax_udp_recv(ax_udp *u, void *buf, size_t len, unsigned *flags, ax_instant deadline);

/* Poll forms, for engines and futures. *res as the calls above. */
ax_poll ax_udp_poll_recv_from(ax_udp *u, ax_context *cx, void *buf, size_t len, ax_addr *from,
                              unsigned *flags, ssize_t *res);
ax_poll ax_udp_poll_send_to(ax_udp *u, ax_context *cx, const void *buf, size_t len,
                            const ax_addr *to, ssize_t *res);

int ax_udp_set_broadcast(ax_udp *u, bool on);
/* Joins / leaves a multicast group on the interface with index ifindex
 * (0: the system's choice). group's family must match the socket's. */
int ax_udp_join_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex);
int ax_udp_leave_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex);
int ax_udp_set_multicast_loop(ax_udp *u, bool on);
int ax_udp_set_multicast_ttl(ax_udp *u, int ttl);
int ax_udp_set_ttl(ax_udp *u, int ttl);

int ax_udp_local_addr(const ax_udp *u, ax_addr *out);
int ax_udp_fd(const ax_udp *u);
/* Closes and frees. NULL is a no-op. No task may be inside a call on u. */
void ax_udp_close(ax_udp *u);

#ifdef __cplusplus
}
#endif
#endif
