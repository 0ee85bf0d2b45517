/* executor/sync_waitq.c - waking a batch of waiters outside the lock. */
#include "executor/sync_waitq.h"

void ax__wakebatch_run(ax__wakebatch *b) {
    for (unsigned i = 0; i < b->n; i++) ax_waker_wake(&b->w[i]);
    b->n = 0;
}
