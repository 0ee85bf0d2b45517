/* executor/timer_wheel.c - hierarchical timer wheel (see timer_wheel.h).
 *
 * Placement rule (as in tokio and Linux): a timer goes to the level of the
 * highest 6-bit group in which `when` and `now` differ, into the slot given by
 * `when`'s digit at that level. So a level-L timer lies in the same
 * 64^(L+1)-tick window as `now`, in a later 64^L-tick slot than `now`'s.
 * Two facts follow and the whole file leans on them:
 *   - the start of a timer's slot is never after its `when`, so processing a
 *     slot when time reaches its start is never late, and re-filing its timers
 *     relative to that start puts each one in a strictly lower level (or fires
 *     it), so it is never early either;
 *   - every non-empty slot of level L comes due before any slot of level L+1,
 *     so the earliest due slot is found in the lowest non-empty level.
 * Level 0 slot `now % 64` can never hold a future timer, so it holds the
 * overdue ones (inserted with `when` <= now) until the next advance.
 * A timer beyond the top level's window is filed by its top-level digit; its
 * slot then comes due only after `now` wraps into a later 64^6 window, at a
 * start that is still not after its `when`, and it is re-filed from there.
 */
#include "executor/timer_wheel.h"

#include <assert.h>

#define BITS 6 /* log2(AX__WHEEL_SLOTS) */
#define MASK ((uint64_t)AX__WHEEL_SLOTS - 1)

static unsigned level_for(uint64_t now, uint64_t when) {
    /* `| MASK` makes level 0 the answer when only the low digit differs. */
    unsigned high = 63u - (unsigned)__builtin_clzll((when ^ now) | MASK);
    unsigned level = high / BITS;
    return level < AX__WHEEL_LEVELS ? level : AX__WHEEL_LEVELS - 1;
}

static void push(ax__wheel *w, ax__timer *t, unsigned level, unsigned slot) {
    ax__timer **head = &w->slot[level][slot];
    t->prev = NULL;
    t->next = *head;
    if (*head)
        (*head)->prev = t;
    else
        w->occupied[level] |= 1ull << slot;
    *head = t;
    t->where = level * AX__WHEEL_SLOTS + slot;
}

/* Files t relative to w->now; the caller keeps w->armed. */
static void file(ax__wheel *w, ax__timer *t) {
    if (t->when <= w->now) {
        push(w, t, 0, (unsigned)(w->now & MASK));
        return;
    }
    unsigned level = level_for(w->now, t->when);
    push(w, t, level, (unsigned)((t->when >> (level * BITS)) & MASK));
}

void ax__wheel_init(ax__wheel *w, uint64_t now) {
    *w = (ax__wheel){.now = now};
}

void ax__wheel_insert(ax__wheel *w, ax__timer *t, uint64_t when) {
    assert(!ax__timer_armed(t));
    t->when = when;
    file(w, t);
    w->armed++;
}

bool ax__wheel_cancel(ax__wheel *w, ax__timer *t) {
    if (!ax__timer_armed(t)) return false;
    unsigned level = t->where / AX__WHEEL_SLOTS, slot = t->where % AX__WHEEL_SLOTS;
    if (t->prev) {
        t->prev->next = t->next;
    } else {
        w->slot[level][slot] = t->next;
        if (!t->next) w->occupied[level] &= ~(1ull << slot);
    }
    if (t->next) t->next->prev = t->prev;
    t->next = t->prev = NULL;
    t->where = AX__TIMER_IDLE;
    w->armed--;
    return true;
}

static uint64_t rotr64(uint64_t x, unsigned k) {
    k &= 63;
    return (x >> k) | (x << ((64 - k) & 63));
}

/* The earliest due slot: its level, slot and start tick. False when the wheel
 * is empty. The overdue slot must be empty (callers look at it first). */
static bool next_slot(const ax__wheel *w, unsigned *level, unsigned *slot, uint64_t *start) {
    for (unsigned l = 0; l < AX__WHEEL_LEVELS; l++) {
        uint64_t occ = w->occupied[l];
        if (!occ) continue;
        unsigned shift = l * BITS;
        unsigned cur = (unsigned)((w->now >> shift) & MASK);
        /* Count slots after now's own: `now`'s slot itself (only possible on
         * the top level) comes round again one full window later. */
        unsigned d = (unsigned)__builtin_ctzll(rotr64(occ, cur + 1));
        *level = l;
        *slot = (cur + 1 + d) & (unsigned)MASK;
        *start = ((w->now >> shift) << shift) + ((uint64_t)(d + 1) << shift);
        return true;
    }
    return false;
}

uint64_t ax__wheel_next_expiry(const ax__wheel *w) {
    if (w->occupied[0] & (1ull << (w->now & MASK))) return w->now;
    unsigned level, slot;
    uint64_t start;
    return next_slot(w, &level, &slot, &start) ? start : UINT64_MAX;
}

/* Appends t to the expired list ending at *tail and returns the new tail. */
static ax__timer **expire(ax__wheel *w, ax__timer *t, ax__timer **tail) {
    t->where = AX__TIMER_IDLE;
    t->prev = NULL;
    *tail = t;
    w->armed--;
    return &t->next;
}

ax__timer *ax__wheel_advance(ax__wheel *w, uint64_t now) {
    ax__timer *out = NULL, **tail = &out;
    unsigned overdue = (unsigned)(w->now & MASK);
    if (w->occupied[0] & (1ull << overdue)) {
        for (ax__timer *t = w->slot[0][overdue]; t; t = t->next) tail = expire(w, t, tail);
        w->slot[0][overdue] = NULL;
        w->occupied[0] &= ~(1ull << overdue);
    }
    if (now < w->now) now = w->now;

    /* Visit only due non-empty slots, in time order; empty stretches cost
     * nothing however long they are. */
    unsigned level, slot;
    uint64_t start;
    while (w->armed && next_slot(w, &level, &slot, &start) && start <= now) {
        ax__timer *t = w->slot[level][slot];
        w->slot[level][slot] = NULL;
        w->occupied[level] &= ~(1ull << slot);
        w->now = start; /* re-file relative to the slot's start */
        while (t) {
            ax__timer *next = t->next;
            if (t->when <= start)
                tail = expire(w, t, tail);
            else
                file(w, t);
            t = next;
        }
    }
    w->now = now;
    *tail = NULL;
    return out;
}
