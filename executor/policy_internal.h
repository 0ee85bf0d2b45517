/* executor/policy_internal.h - private: what the layers above the executor
 * (net/, fs/) need from the permission policy beyond axon/policy.h. This is
 * the one executor header those layers may include.
 *
 * The pattern for a layer that is about to touch the OS:
 *
 *     ax_policy *p = ax__policy_acquire(rt);       // NULL: allow everything
 *     int err = ax_policy_check_connect(p, host, port, why, sizeof why);
 *     ...                                          // use p's root descriptors
 *     ax__policy_release(p);
 *
 * or, for a single check, ax__policy_check_rt(). Holding the reference keeps
 * the policy (and its root descriptors) alive even if the program installs
 * another one meanwhile. Acquire and release are a few atomic operations,
 * never a lock, and never suspend.
 */
#ifndef AX_EXECUTOR_POLICY_INTERNAL_H
#define AX_EXECUTOR_POLICY_INTERNAL_H

#include <stddef.h>

#include "axon/error.h"
#include "axon/policy.h"

#pragma GCC visibility push(hidden)

/* Access rights, for ax__policy_root_for. */
enum { AX__POLICY_READ = 1u, AX__POLICY_WRITE = 2u };

/* What to check, for ax__policy_check_rt. */
typedef enum ax__policy_op {
    AX__POLICY_OP_READ,
    AX__POLICY_OP_WRITE,
    AX__POLICY_OP_CONNECT,
    AX__POLICY_OP_BIND,
} ax__policy_op;

/* The policy installed on rt now, as a new reference (NULL: none, allow
 * everything). Same as ax_runtime_policy. Thread-safe, lock-free. */
ax_policy *ax__policy_acquire(ax_runtime *rt);

/* Releases a reference from ax__policy_acquire. NULL is a no-op. */
void ax__policy_release(ax_policy *p);

/* One check against whatever rt has installed: acquire, check, release.
 * what is the path (READ, WRITE) or host (CONNECT, BIND); port is ignored
 * for paths. Returns as the ax_policy_check_* functions. Thread-safe. */
int ax__policy_check_rt(ax_runtime *rt, ax__policy_op op, const char *what, unsigned port,
                        char *why, size_t cap);

/* For fs/: which allowed root contains path, for the rights in `access`
 * (AX__POLICY_READ, AX__POLICY_WRITE or both), and path relative to it.
 *
 * On success (0): *root_fd is the root's descriptor (O_PATH|O_DIRECTORY|
 * O_CLOEXEC; owned by p, valid while the caller holds its reference to p:
 * do not close it), and rel (capacity rel_cap) holds the cleaned path
 * relative to that root: never absolute, never containing `..` or `.`
 * components, "." for the root itself. Open it with
 * openat2(*root_fd, rel, {.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS})
 * so the kernel refuses any symbolic link or `..` that leaves the root.
 * When access asks for both rights and they come from different roots (a
 * read root /data and a write root /data/out, say), the deeper root is
 * returned: the path is beneath both.
 *
 * p NULL (no policy): 0, *root_fd = AT_FDCWD and rel = path unchanged (the
 * caller then opens it as usual, without RESOLVE_BENEATH).
 *
 * Errors: AX_EPOLICY (no root allows it; why as for the checks),
 * AX_EINVAL, AX_ENAMETOOLONG (the path, or rel does not fit rel_cap).
 * Thread-safe on a frozen policy. */
int ax__policy_root_for(const ax_policy *p, unsigned access, const char *path, int *root_fd,
                        char *rel, size_t rel_cap, char *why, size_t why_cap);

#pragma GCC visibility pop

#endif
