/* Tests for the hierarchical timer wheel (executor/timer_wheel.h), on a
 * virtual clock: the tests feed ticks, so they are exact and need no sleep.
 *
 * The core check is the wheel's contract, applied to every advance whatever
 * the stepping: a timer returned by advance(to) was due (when <= to) and was
 * not already due at the previous advance (when > previous now), unless it
 * was inserted after that advance. Stepping one tick at a time then proves
 * "exactly at its tick"; jumps prove nothing is lost or early inside a jump.
 *
 * Every .timeout here is the same value on purpose: Criterion 2.4.1 leaks 48
 * bytes in its parent (LeakSanitizer then fails the ASan run) when a test
 * with an earlier timeout deadline ends while one with a later deadline runs.
 */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "executor/timer_wheel.h"

#define P64(k) ((uint64_t)1 << (6 * (k))) /* 64^k ticks */

typedef struct probe {
    ax__timer t;     /* first member: the wheel hands back &probe->t */
    size_t armed_at; /* harness advances when inserted */
    uint64_t fired_at;
    unsigned fires;
} probe;

typedef struct harness {
    ax__wheel w;
    size_t advances;
} harness;

static void h_init(harness *h, uint64_t now) {
    ax__wheel_init(&h->w, now);
    h->advances = 0;
}

static void h_insert(harness *h, probe *p, uint64_t when) {
    p->armed_at = h->advances;
    p->fired_at = UINT64_MAX;
    ax__wheel_insert(&h->w, &p->t, when);
}

static void probes_init(probe *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        ax__timer_init(&p[i].t);
        p[i].fired_at = UINT64_MAX;
        p[i].fires = 0;
    }
}

/* Advances to `to` and checks the contract for each expired timer. */
static size_t h_advance(harness *h, uint64_t to) {
    uint64_t from = h->w.now;
    size_t before = h->w.armed, n = 0;
    ax__timer *t = ax__wheel_advance(&h->w, to);
    cr_assert_eq(h->w.now, to < from ? from : to);
    while (t) {
        ax__timer *next = t->next;
        probe *p = (probe *)t;
        cr_assert(!ax__timer_armed(t));
        cr_assert(t->when <= to, "early: when %llu fired at %llu", (unsigned long long)t->when,
                  (unsigned long long)to);
        cr_assert(t->when > from || p->armed_at == h->advances,
                  "late: when %llu, fired at %llu, previous advance %llu",
                  (unsigned long long)t->when, (unsigned long long)to, (unsigned long long)from);
        p->fired_at = to;
        p->fires++;
        n++;
        t = next;
    }
    cr_assert_eq(h->w.armed, before - n);
    h->advances++;
    return n;
}

/* One tick at a time from now to end. */
static void drive_steps(harness *h, uint64_t end) {
    for (uint64_t x = h->w.now; x <= end; x++) h_advance(h, x);
}

/* One tick at a time through every slot that comes due (so through each
 * cascade and each expiry) and jumps over the quiet stretches between. */
static void drive_hybrid(harness *h, uint64_t end) {
    h_advance(h, h->w.now);
    while (h->w.now < end) {
        uint64_t ne = ax__wheel_next_expiry(&h->w), now = h->w.now;
        uint64_t to = ne != UINT64_MAX && ne > now + 130 ? ne - 65 : now + 1;
        if (ne == UINT64_MAX || to > end) to = end;
        h_advance(h, to);
    }
}

/* Straight to each next expiry the wheel reports. */
static void drive_next_expiry(harness *h) {
    h_advance(h, h->w.now);
    while (h->w.armed) {
        uint64_t ne = ax__wheel_next_expiry(&h->w);
        cr_assert(ne > h->w.now && ne != UINT64_MAX);
        h_advance(h, ne);
    }
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Jumps straight to when-1, when and when+1 of every armed probe. */
static void drive_jumps(harness *h, const probe *p, size_t n) {
    uint64_t *to = malloc(3 * n * sizeof *to);
    cr_assert(to);
    for (size_t i = 0; i < n; i++) {
        to[3 * i] = p[i].t.when - 1;
        to[3 * i + 1] = p[i].t.when;
        to[3 * i + 2] = p[i].t.when + 1;
    }
    qsort(to, 3 * n, sizeof *to, cmp_u64);
    h_advance(h, h->w.now);
    for (size_t i = 0; i < 3 * n; i++)
        if (to[i] >= h->w.now) h_advance(h, to[i]);
    free(to);
}

/* Starts that are aligned, just off a boundary, just before one at every
 * level, and past the first 64^6 window (so the top level wraps). */
static const uint64_t starts[] = {
    0, 1, 63, 4095, P64(3) + 17, P64(5) - 1, P64(6) - 1, P64(6) + 5 * P64(4) + 3, 0x123456789abcull,
};
#define NSTARTS (sizeof starts / sizeof starts[0])

/* when = now + 64^k - 1, 64^k, 64^k + 1 for k = 0..6. */
#define NBOUND 21
static size_t arm_boundaries(harness *h, probe *p, uint64_t start) {
    size_t n = 0;
    probes_init(p, NBOUND);
    for (unsigned k = 0; k <= 6; k++)
        for (int d = -1; d <= 1; d++) h_insert(h, &p[n++], start + P64(k) + (uint64_t)(int64_t)d);
    return n;
}

static void expect_fired_exactly(const probe *p, size_t n, uint64_t end) {
    for (size_t i = 0; i < n; i++) {
        uint64_t when = p[i].t.when;
        if (when <= end) {
            cr_assert_eq(p[i].fires, 1u, "when %llu fired %u times", (unsigned long long)when,
                         p[i].fires);
            cr_assert_eq(p[i].fired_at, when, "when %llu fired at %llu", (unsigned long long)when,
                         (unsigned long long)p[i].fired_at);
        } else {
            cr_assert_eq(p[i].fires, 0u);
            cr_assert(ax__timer_armed(&p[i].t));
        }
    }
}

Test(timer_wheel, empty_wheel) {
    ax__wheel w;
    ax__wheel_init(&w, 42);
    cr_assert_eq(w.now, 42u);
    cr_assert_eq(w.armed, 0u);
    cr_assert_eq(ax__wheel_next_expiry(&w), UINT64_MAX);
    cr_assert_null(ax__wheel_advance(&w, 1000000000000ull));
    cr_assert_eq(w.now, 1000000000000ull);
    cr_assert_null(ax__wheel_advance(&w, 5)); /* never backwards */
    cr_assert_eq(w.now, 1000000000000ull);
}

Test(timer_wheel, due_at_insert_fires_at_next_advance) {
    harness h;
    probe p[3];
    probes_init(p, 3);
    h_init(&h, 1000);
    h_insert(&h, &p[0], 1000);
    h_insert(&h, &p[1], 3);
    h_insert(&h, &p[2], 0);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 1000u);
    cr_assert_eq(h_advance(&h, 1000), 3u); /* no time has to pass */
    cr_assert_eq(ax__wheel_next_expiry(&h.w), UINT64_MAX);
    /* Same after the clock moved without the wheel seeing the slot. */
    h_insert(&h, &p[0], 1000);
    cr_assert_eq(h_advance(&h, 1000 + P64(4)), 1u);
}

Test(timer_wheel, boundaries_one_tick_at_a_time, .timeout = 120) {
    probe p[NBOUND];
    for (size_t s = 0; s < NSTARTS; s++) {
        harness h;
        h_init(&h, starts[s]);
        size_t n = arm_boundaries(&h, p, starts[s]);
        /* Up to 64^3 + 1 for every start, through 64^4 + 1 for two. */
        uint64_t end = starts[s] + (s == 0 || s == 3 ? P64(4) : P64(3)) + 1;
        drive_steps(&h, end);
        expect_fired_exactly(p, n, end);
    }
}

Test(timer_wheel, boundaries_through_every_due_slot_tick_by_tick, .timeout = 120) {
    probe p[NBOUND];
    for (size_t s = 0; s < NSTARTS; s++) {
        harness h;
        h_init(&h, starts[s]);
        size_t n = arm_boundaries(&h, p, starts[s]);
        uint64_t end = starts[s] + P64(6) + 2;
        drive_hybrid(&h, end);
        expect_fired_exactly(p, n, end);
        cr_assert_eq(h.w.armed, 0u);
    }
}

Test(timer_wheel, boundaries_big_jumps) {
    probe p[NBOUND];
    for (size_t s = 0; s < NSTARTS; s++) {
        harness h;
        h_init(&h, starts[s]);
        size_t n = arm_boundaries(&h, p, starts[s]);
        drive_jumps(&h, p, n);
        expect_fired_exactly(p, n, UINT64_MAX);

        h_init(&h, starts[s]);
        n = arm_boundaries(&h, p, starts[s]);
        drive_next_expiry(&h);
        expect_fired_exactly(p, n, UINT64_MAX);

        h_init(&h, starts[s]);
        n = arm_boundaries(&h, p, starts[s]);
        cr_assert_eq(h_advance(&h, starts[s] + P64(6) + 1), n);
    }
}

/* Each boundary timer alone, so no neighbour drives the wheel for it: one
 * jump to just before it, then to it. */
Test(timer_wheel, boundaries_alone_jump_to_the_tick) {
    for (size_t s = 0; s < NSTARTS; s++)
        for (unsigned k = 0; k <= 6; k++)
            for (int d = -1; d <= 1; d++) {
                harness h;
                probe p;
                probes_init(&p, 1);
                h_init(&h, starts[s]);
                uint64_t when = starts[s] + P64(k) + (uint64_t)(int64_t)d;
                h_insert(&h, &p, when);
                cr_assert(ax__wheel_next_expiry(&h.w) <= when);
                if (when > starts[s]) cr_assert_eq(h_advance(&h, when - 1), 0u);
                cr_assert_eq(h_advance(&h, when), 1u);
                cr_assert_eq(p.fired_at, when);
            }
}

Test(timer_wheel, cascade_moves_down_one_level_at_a_time) {
    harness h;
    probe p;
    probes_init(&p, 1);
    h_init(&h, 0);
    uint64_t when = 3 * P64(2) + 5 * P64(1) + 7;
    h_insert(&h, &p, when);
    cr_assert_eq(p.t.where, 2 * 64 + 3u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 3 * P64(2));
    cr_assert_eq(h_advance(&h, 3 * P64(2) - 1), 0u);
    cr_assert_eq(p.t.where, 2 * 64 + 3u);
    cr_assert_eq(h_advance(&h, 3 * P64(2)), 0u);
    cr_assert_eq(p.t.where, 1 * 64 + 5u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 3 * P64(2) + 5 * P64(1));
    cr_assert_eq(h_advance(&h, 3 * P64(2) + 5 * P64(1)), 0u);
    cr_assert_eq(p.t.where, 7u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), when);
    cr_assert_eq(h_advance(&h, when - 1), 0u);
    cr_assert_eq(h_advance(&h, when), 1u);

    /* From an unaligned now the level follows the differing digit, not the
     * distance: 60 -> 70 crosses a level-0 window, so it starts in level 1. */
    h_init(&h, 60);
    h_insert(&h, &p, 70);
    cr_assert_eq(p.t.where, 64 + 1u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 64u);
}

Test(timer_wheel, cancel_before_expiry) {
    harness h;
    probe p[5];
    probes_init(p, 5);
    h_init(&h, 10);
    for (int i = 0; i < 5; i++) h_insert(&h, &p[i], 500); /* one slot */
    cr_assert_eq(h.w.armed, 5u);
    /* Head, middle and tail of the slot's list. */
    cr_assert(ax__wheel_cancel(&h.w, &p[4].t));
    cr_assert(ax__wheel_cancel(&h.w, &p[2].t));
    cr_assert(ax__wheel_cancel(&h.w, &p[0].t));
    cr_assert_not(ax__timer_armed(&p[0].t));
    cr_assert_not(ax__wheel_cancel(&h.w, &p[0].t)); /* twice */
    cr_assert_eq(h.w.armed, 2u);
    drive_steps(&h, 600);
    cr_assert_eq(p[1].fired_at, 500u);
    cr_assert_eq(p[3].fired_at, 500u);
    cr_assert_eq(p[0].fires + p[2].fires + p[4].fires, 0u);

    /* Cancelling the last timer of a slot empties it for next_expiry. */
    h_insert(&h, &p[0], 700);
    h_insert(&h, &p[1], 100000);
    cr_assert(ax__wheel_cancel(&h.w, &p[0].t));
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 98304u); /* level-2 slot start */
    cr_assert(ax__wheel_cancel(&h.w, &p[1].t));
    cr_assert_eq(ax__wheel_next_expiry(&h.w), UINT64_MAX);
    cr_assert_eq(h.w.armed, 0u);
    cr_assert_null(ax__wheel_advance(&h.w, 1000000));

    /* An overdue timer can still be cancelled before the advance. */
    h_insert(&h, &p[0], 5);
    cr_assert(ax__wheel_cancel(&h.w, &p[0].t));
    cr_assert_eq(h_advance(&h, h.w.now), 0u);
}

Test(timer_wheel, cancel_after_expiry_or_never_armed) {
    harness h;
    probe p[2];
    probes_init(p, 2);
    h_init(&h, 0);
    cr_assert_not(ax__wheel_cancel(&h.w, &p[1].t)); /* never armed */
    h_insert(&h, &p[0], 64);
    h_insert(&h, &p[1], 9999);
    cr_assert_eq(h_advance(&h, 100), 1u);
    ax__timer before = p[0].t;
    cr_assert_not(ax__wheel_cancel(&h.w, &p[0].t));
    cr_assert_eq(p[0].t.where, before.where);
    cr_assert_eq(h.w.armed, 1u);
    cr_assert(ax__timer_armed(&p[1].t));
    cr_assert_eq(h_advance(&h, 9999), 1u);
}

Test(timer_wheel, rearm_from_the_expired_list) {
    harness h;
    probe p[8];
    probes_init(p, 8);
    h_init(&h, 7);
    for (int i = 0; i < 8; i++) h_insert(&h, &p[i], 17);
    unsigned periods = 0;
    for (uint64_t x = 7; x <= 10017; x++) {
        ax__timer *t = ax__wheel_advance(&h.w, x);
        h.advances++;
        for (ax__timer *next; t; t = next) {
            next = t->next; /* before re-arming, as the header says */
            cr_assert_eq(t->when, x);
            periods++;
            /* Every timer comes back, some at once, some 10 ticks on. */
            size_t i = (size_t)((probe *)t - p);
            uint64_t again = i == 0 && x % 100 == 17 ? x : x + 10;
            if (again == x) {
                /* Due now: fires at the next advance, even a zero step. */
                h_insert(&h, (probe *)t, again);
                ax__timer *u = ax__wheel_advance(&h.w, x);
                cr_assert_eq(u, t);
                cr_assert_null(u->next);
                again = x + 10;
            }
            h_insert(&h, (probe *)t, again);
        }
    }
    cr_assert_eq(periods, 8u * 1001);
    cr_assert_eq(h.w.armed, 8u);
}

Test(timer_wheel, many_timers_in_one_slot) {
    enum { N = 20000 };
    probe *p = calloc(N, sizeof *p);
    cr_assert(p);
    probes_init(p, N);
    harness h;
    h_init(&h, 33);
    for (size_t i = 0; i < N; i++) h_insert(&h, &p[i], 3000);
    cr_assert_eq(h_advance(&h, 2999), 0u);
    cr_assert_eq(h_advance(&h, 3000), (size_t)N);

    /* Spread over one level-2 slot, every third cancelled: they share slots
     * while they cascade and split apart only at the end. */
    probes_init(p, N);
    h_init(&h, 33);
    for (size_t i = 0; i < N; i++) h_insert(&h, &p[i], 5 * P64(2) + (i * 7919) % P64(2));
    for (size_t i = 0; i < N; i += 3) cr_assert(ax__wheel_cancel(&h.w, &p[i].t));
    drive_hybrid(&h, 6 * P64(2));
    for (size_t i = 0; i < N; i++) {
        cr_assert_eq(p[i].fires, i % 3 ? 1u : 0u);
        if (i % 3) cr_assert_eq(p[i].fired_at, p[i].t.when);
    }
    free(p);
}

Test(timer_wheel, beyond_the_top_level) {
    uint64_t now = 12345;
    const uint64_t whens[] = {
        now + P64(6) - 1,      now + P64(6),      now + P64(6) + 1,         now + 2 * P64(6) - 1,
        now + 3 * P64(6) + 77, now + 40 * P64(6), (now | (P64(6) - 1)) + 1,
    };
    enum { N = sizeof whens / sizeof whens[0] };
    probe p[N];
    harness h;

    probes_init(p, N);
    h_init(&h, now);
    for (size_t i = 0; i < N; i++) h_insert(&h, &p[i], whens[i]);
    drive_next_expiry(&h);
    expect_fired_exactly(p, N, UINT64_MAX);

    probes_init(p, N);
    h_init(&h, now);
    for (size_t i = 0; i < N; i++) h_insert(&h, &p[i], whens[i]);
    drive_jumps(&h, p, N);
    expect_fired_exactly(p, N, UINT64_MAX);

    probes_init(p, N);
    h_init(&h, now);
    for (size_t i = 0; i < N; i++) h_insert(&h, &p[i], whens[i]);
    cr_assert_eq(h_advance(&h, now + 41 * P64(6)), (size_t)N);

    /* The farthest tick there is can be armed, waited for and cancelled. */
    h_init(&h, now);
    h_insert(&h, &p[0], UINT64_MAX);
    cr_assert(ax__wheel_next_expiry(&h.w) > now);
    cr_assert_eq(h_advance(&h, now + 10 * P64(6)), 0u);
    cr_assert(ax__wheel_cancel(&h.w, &p[0].t));
    cr_assert_eq(h.w.armed, 0u);
}

Test(timer_wheel, next_expiry) {
    harness h;
    probe p[4];
    probes_init(p, 4);
    h_init(&h, 1000);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), UINT64_MAX);
    h_insert(&h, &p[0], 1000 + P64(3) + 5); /* level 3 */
    uint64_t ne = ax__wheel_next_expiry(&h.w);
    cr_assert(ne > 1000 && ne <= p[0].t.when);
    h_insert(&h, &p[1], 1020); /* level 0: exact */
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 1020u);
    h_insert(&h, &p[2], 999); /* overdue: now */
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 1000u);
    cr_assert_eq(h_advance(&h, 1000), 1u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), 1020u);
    cr_assert_eq(h_advance(&h, 1020), 1u);
    cr_assert_eq(ax__wheel_next_expiry(&h.w), ne);
}

/* A large jump with few timers visits only their slots: 10^12 ticks in
 * steps of 10^9 (it would never finish tick by tick). */
Test(timer_wheel, huge_jumps_with_few_timers, .timeout = 120) {
    harness h;
    probe p[6];
    probes_init(p, 6);
    h_init(&h, 5);
    for (int i = 0; i < 6; i++) h_insert(&h, &p[i], 5 + P64(i) * 3 + 1);
    size_t fired = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t to = h.w.now + 1000000000ull;
        fired += h_advance(&h, to);
        for (int j = 0; j < 6; j++)
            if (!ax__timer_armed(&p[j].t)) h_insert(&h, &p[j], to + P64(j + 1) * (j + 1) + 7);
    }
    cr_assert(fired > 4000, "fired %zu", fired);
}

/* The reference model: a flat array, scanned. */
typedef struct model {
    bool armed;
    uint64_t when;
} model;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    uint64_t x = rng_state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static uint64_t random_when(uint64_t now) {
    unsigned k = (unsigned)(rnd() % 7);
    switch (rnd() % 8) {
    case 0:
        return now - rnd() % (now < 100 ? now + 1 : 100); /* due already */
    case 1:
        return now + rnd() % 64;
    case 2:
        return now + P64(k) + rnd() % 3 - 1;
    case 3:
        return (((now >> (6 * k)) + 1 + rnd() % 3) << (6 * k)) + rnd() % 3 - 1;
    case 4:
        return now + rnd() % P64(3);
    case 5:
        return now + rnd() % P64(5);
    case 6:
        return now + rnd() % (4 * P64(6)); /* past the top level too */
    default:
        return now + rnd() % 5000;
    }
}

/* Mostly short steps, so that many timers stay armed; now and then a jump
 * over a level boundary or a long way. */
static uint64_t random_step(const ax__wheel *w) {
    uint64_t now = w->now, ne = ax__wheel_next_expiry(w);
    unsigned r = (unsigned)(rnd() % 64);
    if (r == 0) return now;
    if (r <= 8) return now + 1;
    if (r <= 16) return now + rnd() % 128;
    if (r == 17) return now + P64(rnd() % 7) + rnd() % 3 - 1;
    if (r <= 25) return ne != UINT64_MAX ? ne : now + 1;
    if (r <= 27) return now + rnd() % P64(4);
    return now + rnd() % 2000;
}

Test(timer_wheel, random_against_model, .timeout = 120) {
    enum { N = 600, OPS = 100000 };
    static probe p[N];
    static model m[N];
    harness h;
    probes_init(p, N);
    h_init(&h, 1000);
    size_t fired = 0, cancelled = 0;
    for (int op = 0; op < OPS; op++) {
        size_t i = (size_t)(rnd() % N);
        unsigned r = (unsigned)(rnd() % 100);
        if (r < 40 && !m[i].armed) {
            uint64_t when = random_when(h.w.now);
            h_insert(&h, &p[i], when);
            m[i] = (model){true, when};
        } else if (r < 65) { /* the armed ones and some idle ones */
            bool was = ax__wheel_cancel(&h.w, &p[i].t);
            cr_assert_eq(was, m[i].armed, "op %d: cancel gave %d", op, was);
            cancelled += was;
            m[i].armed = false;
        } else {
            uint64_t from = h.w.now, to = random_step(&h.w);
            /* Walk the list by hand (h_advance would hide re-arming). */
            ax__timer *t = ax__wheel_advance(&h.w, to);
            size_t n = 0;
            for (ax__timer *next; t; t = next) {
                next = t->next;
                size_t j = (size_t)((probe *)t - p);
                cr_assert(m[j].armed, "op %d: fired an idle timer", op);
                cr_assert(m[j].when <= to, "op %d: early", op);
                cr_assert(m[j].when > from || p[j].armed_at == h.advances, "op %d: late", op);
                m[j].armed = false;
                n++;
                if (rnd() % 4 == 0) { /* re-arm while walking */
                    uint64_t when = random_when(to);
                    h_insert(&h, &p[j], when);
                    p[j].armed_at = h.advances + 1;
                    m[j] = (model){true, when};
                }
            }
            h.advances++;
            fired += n;
            for (size_t j = 0; j < N; j++)
                cr_assert(!m[j].armed || m[j].when > to || p[j].armed_at == h.advances,
                          "op %d: timer %zu (when %llu) not fired by %llu", op, j,
                          (unsigned long long)m[j].when, (unsigned long long)to);
        }

        /* next_expiry: never after the earliest expiry, exact in level 0. */
        uint64_t earliest = UINT64_MAX;
        bool in_level0 = false;
        size_t armed = 0;
        for (size_t j = 0; j < N; j++) {
            if (!m[j].armed) continue;
            armed++;
            cr_assert(ax__timer_armed(&p[j].t));
            uint64_t due = m[j].when > h.w.now ? m[j].when : h.w.now;
            if (due < earliest) earliest = due, in_level0 = false;
            if (due == earliest && p[j].t.where < AX__WHEEL_SLOTS) in_level0 = true;
        }
        cr_assert_eq(h.w.armed, armed, "op %d", op);
        uint64_t ne = ax__wheel_next_expiry(&h.w);
        cr_assert(ne <= earliest, "op %d: next_expiry %llu after %llu", op, (unsigned long long)ne,
                  (unsigned long long)earliest);
        cr_assert(ne >= h.w.now, "op %d", op);
        if (in_level0) cr_assert_eq(ne, earliest, "op %d", op);
    }
    cr_assert(fired > OPS / 10 && cancelled > OPS / 20, "fired %zu cancelled %zu", fired,
              cancelled);
}
