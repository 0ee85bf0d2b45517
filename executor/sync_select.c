/* executor/sync_select.c - the first of several futures to be ready.
 *
 * Every future is polled with the caller's own waker: whichever wakes, the
 * select is polled again and re-polls them, so nothing is spawned or
 * allocated. The unbiased form starts each round at a pseudo-random index.
 * The generator is a per-thread xorshift: it is only read and written
 * inside one call, never across a suspension, and its quality matters
 * little (only the spread of start indices). */
#include "axon/error.h"
#include "axon/sync.h"
#include "axon/task.h"

#define SEL_DONE ((size_t)-1)

static _Thread_local uint32_t sel_seed;

static uint32_t xorshift(uint32_t x) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

static uint32_t seed_from_thread(const void *salt) {
    uint32_t s = sel_seed;
    if (s == 0) s = (uint32_t)(uintptr_t)&sel_seed ^ (uint32_t)((uintptr_t)salt >> 4) ^ 0x9e3779b9u;
    if (s == 0) s = 1;
    s = xorshift(s);
    sel_seed = s;
    return s;
}

static ax_poll sel_poll(ax_future *f, ax_context *cx) {
    ax_select_future *sf = (ax_select_future *)f;
    if (sf->won || sf->n == 0 || sf->n == SEL_DONE) return AX_READY;
    size_t n = sf->n, start = 0;
    if (!sf->biased) {
        sf->rng = xorshift(sf->rng);
        start = sf->rng % n;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = start + k < n ? start + k : start + k - n;
        if (ax_future_poll(sf->futs[i], cx) == AX_READY) {
            f->result = (intptr_t)i;
            sf->won = true;
            return AX_READY;
        }
    }
    return AX_PENDING;
}

static void sel_drop(ax_future *f) {
    ax_select_future *sf = (ax_select_future *)f;
    if (sf->n == SEL_DONE) return;
    for (size_t i = 0; i < sf->n; i++) ax_future_drop(sf->futs[i]);
    sf->n = SEL_DONE;
}

static const ax_future_vtable sel_vtable = {sel_poll, sel_drop};

void ax_select_future_init(ax_select_future *f, ax_future *const *futs, size_t n, bool biased) {
    f->base.vtable = &sel_vtable;
    f->base.result = AX_EINVAL;
    f->futs = futs;
    f->n = n;
    f->biased = biased;
    f->won = false;
    f->rng = biased ? 0 : seed_from_thread(f);
}

static int select_impl(ax_future *const *futs, size_t n, ax_instant deadline, bool biased) {
    if (n == 0) return AX_EINVAL;
    ax_select_future sf;
    ax_select_future_init(&sf, futs, n, biased);
    return (int)ax_await_until(&sf.base, deadline);
}

int ax_select(ax_future *const *futs, size_t n, ax_instant deadline) {
    return select_impl(futs, n, deadline, false);
}

int ax_select_biased(ax_future *const *futs, size_t n, ax_instant deadline) {
    return select_impl(futs, n, deadline, true);
}
