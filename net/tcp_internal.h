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

#pragma GCC visibility pop

#endif
