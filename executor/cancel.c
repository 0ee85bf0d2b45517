/* executor/cancel.c - scopes, on-cancel hooks, shields and brackets (see
 * include/axon/cancel.h). The task struct carries what they need: the
 * link that chains a scope's children, the hook stack and the shield
 * depth, all touched only from the task itself (or, for scope links, from
 * the scope's owner), so no locking is needed. */
#include "executor/internal.h"

bool ax__task_sees_cancel(ax_task *t) {
    if (t->shield || !(atomic_load_explicit(&t->state, memory_order_relaxed) & AX__T_CANCEL))
        return false;
    if (t->hooks) ax__run_cancel_hooks(t);
    return true;
}

void ax__run_cancel_hooks(ax_task *t) {
    t->shield++; /* a hook may await (a graceful close) */
    for (ax_cancel_hook *h = t->hooks; h; h = h->next) {
        if (h->ran) continue;
        h->ran = true;
        h->fn(h->arg);
    }
    t->shield--;
}

int ax_on_cancel(ax_cancel_hook *h, void (*fn)(void *), void *arg) {
    ax_task *t = ax__task_current();
    if (!t) return AX_ENOTASK;
    h->fn = fn;
    h->arg = arg;
    h->ran = false;
    h->next = t->hooks;
    t->hooks = h;
    if (!t->shield && (atomic_load_explicit(&t->state, memory_order_relaxed) & AX__T_CANCEL))
        ax__run_cancel_hooks(t);
    return 0;
}

bool ax_on_cancel_pop(ax_cancel_hook *h) {
    ax_task *t = ax__task_current();
    if (t && t->hooks == h) t->hooks = h->next;
    return h->ran;
}

void ax_shield_begin(void) {
    ax_task *t = ax__task_current();
    if (t) t->shield++;
}

void ax_shield_end(void) {
    ax_task *t = ax__task_current();
    if (t && t->shield) t->shield--;
}

int ax_bracket(int (*acquire)(void *ctx), int (*use)(void *ctx), void (*release)(void *ctx),
               void *ctx) {
    int err = acquire(ctx);
    if (err) return err;
    int r = use(ctx);
    ax_shield_begin();
    release(ctx);
    ax_shield_end();
    return r;
}

/* Scopes. Children are chained newest first through scope_next; ending a
 * scope reverses the chain so results are reported in spawn order. */
void ax_scope_init(ax_scope *s) {
    s->children = NULL;
    s->count = 0;
    s->first_error = 0;
}

int ax_scope_spawn(ax_scope *s, ax_task **out, ax_task_fn fn, void *arg) {
    ax_task *t;
    int err = ax_spawn(&t, fn, arg);
    if (err) return err;
    t->scope_next = s->children;
    s->children = t;
    s->count++;
    if (out) *out = t;
    return 0;
}

static ax_task *ax__scope_take_in_order(ax_scope *s) {
    ax_task *rev = NULL, *t = s->children;
    while (t) {
        ax_task *next = t->scope_next;
        t->scope_next = rev;
        rev = t;
        t = next;
    }
    s->children = NULL;
    s->count = 0;
    return rev;
}

/* Waits for t and releases the scope's handle. If the waiting task is
 * cancelled meanwhile, every child from t on is cancelled and the wait
 * goes on shielded, so no child is left running. */
static int ax__scope_wait(ax_task *t, bool *cancelled) {
    for (;;) {
        ax__task_ref(t); /* the join future's own; the scope keeps its handle */
        ax_join_future jf;
        ax_join_future_init(&jf, t);
        int r = (int)ax_await(&jf.base);
        bool done = atomic_load_explicit(&t->state, memory_order_acquire) & AX__T_COMPLETE;
        if (done || *cancelled) {
            ax_detach(t);
            return done ? r : AX_ECANCELED;
        }
        /* The waiter was cancelled before t ended. */
        *cancelled = true;
        for (ax_task *c = t; c; c = c->scope_next) ax_abort(c);
        ax_shield_begin();
    }
}

static int ax__scope_end(ax_scope *s, bool cancel) {
    ax_task *t = ax__scope_take_in_order(s);
    bool cancelled = cancel;
    if (cancel) {
        for (ax_task *c = t; c; c = c->scope_next) ax_abort(c);
        ax_shield_begin();
    }
    int first = 0;
    while (t) {
        ax_task *next = t->scope_next;
        int r = ax__scope_wait(t, &cancelled);
        if (!first && r && !(cancel && r == AX_ECANCELED)) first = r;
        t = next;
    }
    if (cancelled) ax_shield_end();
    if (!cancel && cancelled && !first) first = AX_ECANCELED;
    return first;
}

int ax_scope_join(ax_scope *s) {
    return ax__scope_end(s, false);
}

int ax_scope_cancel(ax_scope *s) {
    return ax__scope_end(s, true);
}
