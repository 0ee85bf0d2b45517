/* executor/runtime_slots.c - per-runtime objects of the layers above the
 * executor (see runtime_internal.h), so that net/ and fs/ keep no global
 * state and two runtimes in one process never share a resolver. */
#include "executor/internal.h"
#include "executor/runtime_internal.h"

ax__reactor *ax__runtime_reactor(ax_runtime *rt) {
    return rt->reactor;
}

void *ax__runtime_slot(ax_runtime *rt, ax__rt_slot slot) {
    return atomic_load_explicit(&rt->slots[slot], memory_order_acquire);
}

void *ax__runtime_slot_install(ax_runtime *rt, ax__rt_slot slot, void *obj,
                               void (*free_fn)(void *obj)) {
    void *expected = NULL;
    if (!atomic_compare_exchange_strong_explicit(&rt->slots[slot], &expected, obj,
                                                 memory_order_acq_rel, memory_order_acquire))
        return expected;
    /* Read only by ax_runtime_free, after every thread that could have
     * installed has been joined. */
    rt->slot_free[slot] = free_fn;
    return obj;
}

void ax__runtime_slots_free(ax_runtime *rt) {
    for (int i = 0; i < AX__RT_SLOT_COUNT; i++) {
        void *obj = atomic_exchange_explicit(&rt->slots[i], NULL, memory_order_acq_rel);
        if (obj && rt->slot_free[i]) rt->slot_free[i](obj);
    }
}
