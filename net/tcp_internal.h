/* net/tcp_internal.h - private to net/: what tcp.c shares with the
 * connection strategies in tcp_connect.c. */
#ifndef AX_NET_TCP_INTERNAL_H
#define AX_NET_TCP_INTERNAL_H

#include "axon/tcp.h"
#include "net/sock.h"

#pragma GCC visibility push(hidden)

struct ax_tcp {
    ax__sock s;
};

/* Connects to one address, checking it against the policy (tcp_connect.c). */
int ax__tcp_connect_addr(ax_runtime *rt, const ax_addr *addr, ax_instant deadline, ax_tcp **out);

#pragma GCC visibility pop

#endif
