/* executor/runtime_internal.h - private: what the layers above the executor
 * (net/, tls/, fs/) need from a runtime beyond the public API: its reactor,
 * and a slot per layer for a lazily created per-runtime object (the DNS
 * resolver, say), freed with the runtime. With policy_internal.h, this is
 * the executor header those layers may include.
 */
#ifndef AX_EXECUTOR_RUNTIME_INTERNAL_H
#define AX_EXECUTOR_RUNTIME_INTERNAL_H

#include "axon/runtime.h"
#include "reactor/reactor.h"

#pragma GCC visibility push(hidden)

/* rt's reactor (lives as long as rt). Thread-safe. */
ax__reactor *ax__runtime_reactor(ax_runtime *rt);

/* Per-runtime objects of the layers above, one slot each. */
typedef enum ax__rt_slot {
    AX__RT_SLOT_RESOLVER,
    AX__RT_SLOT_POOLS,
    AX__RT_SLOT_FS,
    AX__RT_SLOT_COUNT
} ax__rt_slot;

/* The object in slot, or NULL. Lock-free, thread-safe. */
void *ax__runtime_slot(ax_runtime *rt, ax__rt_slot slot);

/* Installs obj in slot unless another thread got there first, and returns
 * whichever is installed (obj, or the winner's: the caller then frees its
 * own). free_fn(obj) runs in ax_runtime_free, after every worker and
 * blocking thread has stopped. Thread-safe. */
void *ax__runtime_slot_install(ax_runtime *rt, ax__rt_slot slot, void *obj,
                               void (*free_fn)(void *obj));

#pragma GCC visibility pop

#endif
