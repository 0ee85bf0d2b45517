/* net/unix_internal.h - private to net/unix*.c: names to and from
 * struct sockaddr_un, the policy check for names, and the unlink-on-close
 * bookkeeping shared by listeners and datagram sockets. */
#ifndef AX_NET_UNIX_INTERNAL_H
#define AX_NET_UNIX_INTERNAL_H

#include <sys/socket.h>
#include <sys/un.h>

#include "axon/unix.h"
#include "net/sock.h"

#pragma GCC visibility push(hidden)

/* name ("/path", "rel", "@abstract", "@" when autobind is allowed) to a
 * sockaddr_un. Returns 0, AX_EINVAL, AX_ENAMETOOLONG or AX_ENOTSUP. */
int ax__unix_sockaddr(const char *name, int autobind, struct sockaddr_un *sa, socklen_t *len);
/* A kernel address back to the notation of axon/unix.h. */
void ax__unix_name(const struct sockaddr_un *sa, socklen_t len, ax_unix_addr *out);
/* getsockname / getpeername as a name. */
int ax__unix_sock_name(int fd, int peer, ax_unix_addr *out);
/* The policy check for a name: a write of the path; abstract names pass. */
int ax__unix_check(ax_runtime *rt, const char *name);
/* For unlink on close: name made absolute (malloc'd; the caller frees it),
 * NULL for abstract names or on allocation failure (then nothing is
 * unlinked later). */
char *ax__unix_unlink_path(const char *name);

/* Opens a socket of type on rt, binds it to name (NULL: unbound), and
 * registers it after calling listen(backlog) when backlog > 0. Returns 0
 * or AX_E* (s is closed then). */
int ax__unix_open_bound(ax_runtime *rt, int type, const char *name, int backlog, ax__sock *s);

#pragma GCC visibility pop

#endif
