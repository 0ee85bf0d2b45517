/* executor/timer_wheel.h - private: a hierarchical timer wheel.
 *
 * Pure data structure: no locks, no clock, no allocation. The owner supplies
 * time as whole ticks (the runtime uses 1 tick = 1 ms) and serialises access.
 * Six levels of 64 slots cover 64^6 ticks (about 2.2 years at 1 ms); a timer
 * further out is parked in the top level and re-filed when its slot comes
 * round. Insert and cancel are O(1): an intrusive doubly linked list per
 * slot plus a 64-bit occupancy mask per level, so finding the next expiry is
 * a few count-trailing-zeros.
 */
#ifndef AX_EXECUTOR_TIMER_WHEEL_H
#define AX_EXECUTOR_TIMER_WHEEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Internal symbols stay out of libaxon.so's dynamic symbol table, so calls
 * between the library's files are direct, not through the PLT. */
#pragma GCC visibility push(hidden)

#define AX__WHEEL_LEVELS 6
#define AX__WHEEL_SLOTS  64
#define AX__TIMER_IDLE   UINT32_MAX

/* The node a wheel links. Embedded in the owner's own timer object. */
typedef struct ax__timer {
    struct ax__timer *next, *prev;
    uint64_t when;  /* absolute expiry tick */
    uint32_t where; /* level * 64 + slot while armed, AX__TIMER_IDLE else */
    uint32_t flags; /* free for the owner */
} ax__timer;

typedef struct ax__wheel {
    uint64_t now;                        /* last tick advanced to */
    uint64_t occupied[AX__WHEEL_LEVELS]; /* bit s: slot s non-empty */
    ax__timer *slot[AX__WHEEL_LEVELS][AX__WHEEL_SLOTS];
    size_t armed; /* timers in the wheel */
} ax__wheel;

/* Starts an empty wheel at tick `now`. */
void ax__wheel_init(ax__wheel *w, uint64_t now);

static inline void ax__timer_init(ax__timer *t) {
    t->next = t->prev = NULL;
    t->when = 0;
    t->where = AX__TIMER_IDLE;
    t->flags = 0;
}
static inline bool ax__timer_armed(const ax__timer *t) {
    return t->where != AX__TIMER_IDLE;
}

/* Arms t (which must be idle) to expire at tick `when`. A `when` at or
 * before w->now expires at the next ax__wheel_advance. */
void ax__wheel_insert(ax__wheel *w, ax__timer *t, uint64_t when);

/* Disarms t. Returns true if it was armed, false if it had already expired
 * or was never armed (then nothing changes). */
bool ax__wheel_cancel(ax__wheel *w, ax__timer *t);

/* A tick at or before the earliest expiry (exact when the earliest timer is
 * in level 0; otherwise the start of the slot that holds it, where a
 * cascade is due; w->now while a timer armed at or before w->now waits for
 * the next advance). UINT64_MAX when no timer is armed. */
uint64_t ax__wheel_next_expiry(const ax__wheel *w);

/* Moves the wheel forward to tick `now` (never backwards), cascading
 * higher levels down as their slots come due, and returns every timer whose
 * `when` <= now as a NULL-terminated list linked through `next`; each
 * returned timer is already idle (where == AX__TIMER_IDLE), so the caller may
 * re-arm or free it while walking the list (read `next` first). */
ax__timer *ax__wheel_advance(ax__wheel *w, uint64_t now);

#pragma GCC visibility pop

#endif
