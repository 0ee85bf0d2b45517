/* axon/udp.h - UDP sockets.
 *
 * Nonblocking, close-on-exec sockets registered with the calling task's
 * runtime; they can be used from any task of that runtime. Sends never
 * raise SIGPIPE (MSG_NOSIGNAL). Every suspending call takes a deadline
 * (AX_NO_DEADLINE: none), returns AX_ETIMEDOUT when it passes, AX_ECANCELED
 * when the task is cancelled, AX_ENOTASK outside a task; a timed-out or
 * cancelled call sent or received nothing.
 *
 * Policy: ax_udp_bind consults the runtime's permission policy with the
 * local address (bind); ax_udp_connect and every ax_udp_send_to (and its
 * poll form) consult it with the peer (connect). A denial is AX_EPOLICY and
 * nothing reaches the OS. ax_udp_send to the connected peer was checked at
 * connect and is not checked again.
 *
 * Families: a socket bound to an IPv6 address sends to IPv4 peers as
 * IPv4-mapped addresses (unless v6_only), and reports them that way as
 * senders (::ffff:a.b.c.d; ax_ip_unmap gives the IPv4 address). An
 * IPv4-mapped destination on an IPv4 socket is sent to as plain IPv4.
 *
 * Buffers: the caller owns every buffer and address passed in; the calls
 * borrow them until they return (the poll forms: for the one poll).
 *
 * Thread-safety: one receiving task and one sending task at a time; the
 * option setters and the address getters from any thread. Closing races
 * with nothing: no task may be inside a call on the socket.
 */
#ifndef AXON_UDP_H
#define AXON_UDP_H

#include <stdbool.h>
#include "sys.h"
#include "addr.h"
#include "future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ax_udp ax_udp;

typedef struct ax_udp_opts {
    bool reuse_addr; /* SO_REUSEADDR (off by default) */
    bool reuse_port; /* SO_REUSEPORT (Windows: none, AX_ENOTSUP) */
    bool broadcast;  /* SO_BROADCAST */
    bool v6_only;    /* IPV6_V6ONLY for an IPv6 address */
} ax_udp_opts;

/* Binds a socket to addr (port 0: ephemeral; the unspecified address: all
 * interfaces). opts may be NULL (all off). Returns 0 with *out (the caller
 * owns it: ax_udp_close) or AX_E*. Does not suspend. Task only. */
int ax_udp_bind(const ax_addr *addr, const ax_udp_opts *opts, ax_udp **out);

/* Sets the default peer: ax_udp_send / ax_udp_recv then talk to it only
 * (datagrams from others are dropped by the kernel, and an ICMP
 * unreachable shows as AX_ECONNREFUSED on a later call). Returns 0,
 * AX_EPOLICY, or AX_E*. Does not suspend; any thread. */
int ax_udp_connect(ax_udp *u, const ax_addr *peer);

/* Sends one datagram (send_to: to `to`; send: to the connected peer,
 * AX_ENOTCONN when there is none). Returns len, AX_EMSGSIZE when it is too large for UDP
 * (65,507 bytes over IPv4), AX_EPOLICY (send_to), AX_ECONNREFUSED after an
 * ICMP unreachable on a connected socket, or AX_E*. Task only. */
ssize_t ax_udp_send_to(ax_udp *u, const void *buf, size_t len, const ax_addr *to,
                       ax_instant deadline);
ssize_t ax_udp_send(ax_udp *u, const void *buf, size_t len, ax_instant deadline);

/* Flag reported by the receive calls. */
#define AX_UDP_TRUNCATED 1u /* the datagram was longer than len; the rest is lost */

/* Receives one datagram into buf. Returns the bytes stored (at most len);
 * from (may be NULL) receives the sender, *flags (may be NULL) receives
 * AX_UDP_TRUNCATED when the datagram did not fit (the bytes beyond len are
 * discarded by the kernel) or 0. A zero-length datagram returns 0. Task
 * only. */
ssize_t ax_udp_recv_from(ax_udp *u, void *buf, size_t len, ax_addr *from, unsigned *flags,
                         ax_instant deadline);
ssize_t ax_udp_recv(ax_udp *u, void *buf, size_t len, unsigned *flags, ax_instant deadline);

/* Poll forms, for engines and futures. *res as the calls above. (On
 * Windows the calls above lend buf to an overlapped WSARecvFrom/WSASendTo
 * until they return; the poll forms never do: they wait for readiness.) */
ax_poll ax_udp_poll_recv_from(ax_udp *u, ax_context *cx, void *buf, size_t len, ax_addr *from,
                              unsigned *flags, ssize_t *res);
ax_poll ax_udp_poll_send_to(ax_udp *u, ax_context *cx, const void *buf, size_t len,
                            const ax_addr *to, ssize_t *res);

/* Options. Each returns 0 or AX_E*; any thread; none suspends. */
/* SO_BROADCAST: allows sending to broadcast addresses. */
int ax_udp_set_broadcast(ax_udp *u, bool on);
/* Joins / leaves a multicast group (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP) on
 * the interface with index ifindex (0: the system's choice, by route;
 * if_nametoindex gives an index). group must be a multicast address of
 * the socket's family (AX_EINVAL otherwise). To receive the group's
 * datagrams the socket must be bound to their port (and to the group
 * address or the unspecified one). */
int ax_udp_join_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex);
int ax_udp_leave_multicast(ax_udp *u, const ax_ip *group, unsigned ifindex);
/* The interface multicast datagrams are sent from (IP_MULTICAST_IF /
 * IPV6_MULTICAST_IF; 0: by route). */
int ax_udp_set_multicast_if(ax_udp *u, unsigned ifindex);
/* Whether this host's own members of a group receive what this socket
 * sends to it (on by default in the kernel). */
int ax_udp_set_multicast_loop(ax_udp *u, bool on);
/* Hop limit of multicast datagrams (0..255; the kernel's default is 1). */
int ax_udp_set_multicast_ttl(ax_udp *u, int ttl);
/* Hop limit of unicast datagrams (1..255). */
int ax_udp_set_ttl(ax_udp *u, int ttl);

/* The bound address (with the port the kernel chose for port 0) / the
 * connected peer (AX_ENOTCONN when not connected). Any thread. */
int ax_udp_local_addr(const ax_udp *u, ax_addr *out);
int ax_udp_peer_addr(const ax_udp *u, ax_addr *out);
/* The descriptor, owned by u (do not close it). */
int ax_udp_fd(const ax_udp *u);
/* Closes and frees. NULL is a no-op. No task may be inside a call on u. */
void ax_udp_close(ax_udp *u);

#ifdef __cplusplus
}
#endif
#endif
