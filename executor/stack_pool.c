/* executor/stack_pool.c - the per-worker cache of fiber stacks, the same on
 * every OS; the mapping itself is stack.c's or stack_win.c's
 * (executor/stack_os.h). */
#include "executor/stack_os.h"

#include "axon/error.h"

void ax__stack_pool_init(ax__stack_pool *p, size_t usable, unsigned max_cached) {
    size_t ps = ax__stack_os_page_size();
    if (usable == 0) usable = ps;
    p->free = NULL;
    p->count = 0;
    p->max = max_cached;
    p->usable = (usable + ps - 1) / ps * ps;
}

int ax__stack_get(ax__stack_pool *p, ax__stack **out) {
    ax__stack *s = p->free;
    if (s) {
        p->free = s->next;
        p->count--;
        s->next = NULL;
        *out = s;
        return 0;
    }
    s = ax__stack_os_map(p->usable);
    *out = s;
    return s ? 0 : AX_ENOMEM;
}

void ax__stack_put(ax__stack_pool *p, ax__stack *s) {
    /* A stack of another size (another pool's) is not cached here. */
    if (p->count >= p->max || !ax__stack_os_fits(s, p->usable)) {
        ax__stack_os_unmap(s);
        return;
    }
    s->next = p->free;
    p->free = s;
    p->count++;
}

void ax__stack_free(ax__stack *s) {
    ax__stack_os_unmap(s);
}

unsigned ax__stack_pool_trim(ax__stack_pool *p, unsigned keep) {
    unsigned n = 0;
    while (p->count > keep) {
        ax__stack *s = p->free;
        p->free = s->next;
        p->count--;
        ax__stack_os_unmap(s);
        n++;
    }
    return n;
}

void ax__stack_pool_destroy(ax__stack_pool *p) {
    ax__stack *s = p->free;
    while (s) {
        ax__stack *next = s->next;
        ax__stack_os_unmap(s);
        s = next;
    }
    p->free = NULL;
    p->count = 0;
}
