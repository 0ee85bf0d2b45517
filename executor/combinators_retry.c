/* executor/combinators_retry.c - retry with exponential backoff and jitter.
 *
 * One future, four states: make the attempt's future, poll it, sleep the
 * backoff, done. The attempt and the backoff sleep are polled with the
 * retry's own context (no task), and the sleep's storage is inside the
 * retry future (no allocation). The jitter comes from a xorshift64*
 * generator in the future, seeded from its address and the clock.
 */
#include "axon/combinators.h"

#include "axon/error.h"
#include "axon/time.h"

enum { AX__R_MAKE, AX__R_RUN, AX__R_WAIT, AX__R_DONE };

/* Base delays stay below 2^52 ms (~140,000 years), well inside what a
 * double holds exactly and a uint64_t of milliseconds converts to. */
#define AX__RETRY_DELAY_CEIL 4503599627370496.0

static uint64_t ax__splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Uniform in [0, 1). */
static double ax__rng_unit(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
}

static double ax__retry_cap(const ax_retry_policy *p) {
    double cap = AX__RETRY_DELAY_CEIL;
    if (p->max_delay_ms && (double)p->max_delay_ms < cap) cap = (double)p->max_delay_ms;
    return cap;
}

/* The delay after the current failure; advances the base for the next. */
static uint64_t ax__retry_next_delay(ax_retry_future *rf) {
    const ax_retry_policy *p = &rf->policy;
    double base = rf->base_delay;
    double d = base * (1.0 - p->jitter * ax__rng_unit(&rf->rng));
    double next = base * p->factor, cap = ax__retry_cap(p);
    rf->base_delay = next < cap ? next : cap;
    return d <= 0 ? 0 : (uint64_t)d;
}

static void ax__retry_finish(ax_retry_future *rf, intptr_t r) {
    rf->base.result = r;
    rf->state = AX__R_DONE;
}

static bool ax__retry_retryable(const ax_retry_future *rf, intptr_t err) {
    if (rf->ops->retryable) return rf->ops->retryable(rf->arg, err);
    return err != AX_ECANCELED;
}

static ax_poll ax__retry_poll(ax_future *f, ax_context *cx) {
    ax_retry_future *rf = (ax_retry_future *)f;
    for (;;) {
        switch (rf->state) {
        case AX__R_MAKE: {
            ax_future *c = NULL;
            rf->attempts++;
            int rc = rf->ops->make(rf->arg, rf->attempts, &c);
            if (rc < 0 || !c) {
                ax__retry_finish(rf, rc < 0 ? rc : AX_EINVAL);
                return AX_READY;
            }
            rf->child = c;
            rf->state = AX__R_RUN;
            break;
        }
        case AX__R_RUN: {
            if (ax_future_poll(rf->child, cx) == AX_PENDING) return AX_PENDING;
            intptr_t r = rf->child->result;
            ax_future_drop(rf->child);
            rf->child = NULL;
            unsigned max = rf->policy.max_attempts;
            if (r >= 0 || (max && rf->attempts >= max) || !ax__retry_retryable(rf, r)) {
                ax__retry_finish(rf, r);
                return AX_READY;
            }
            uint64_t ms = ax__retry_next_delay(rf);
            if (rf->ops->on_retry) rf->ops->on_retry(rf->arg, rf->attempts, r, ms);
            if (!ms) {
                /* Let other tasks run before the next attempt. */
                rf->state = AX__R_MAKE;
                ax_waker_wake_by_ref(cx->waker);
                return AX_PENDING;
            }
            ax_sleep_future_init(&rf->sleep, ax_deadline_in_ms(ms));
            rf->state = AX__R_WAIT;
            break;
        }
        case AX__R_WAIT:
            if (ax_future_poll(&rf->sleep.base, cx) == AX_PENDING) return AX_PENDING;
            ax_future_drop(&rf->sleep.base);
            rf->state = AX__R_MAKE;
            break;
        default:
            return AX_READY;
        }
    }
}

static void ax__retry_drop(ax_future *f) {
    ax_retry_future *rf = (ax_retry_future *)f;
    if (rf->state == AX__R_RUN) {
        ax_future_drop(rf->child);
        rf->child = NULL;
    } else if (rf->state == AX__R_WAIT) {
        ax_future_drop(&rf->sleep.base);
    }
    if (rf->state != AX__R_DONE) ax__retry_finish(rf, AX_ECANCELED);
}

static const ax_future_vtable ax__retry_vtable = {ax__retry_poll, ax__retry_drop};

void ax_retry_policy_init(ax_retry_policy *p) {
    p->max_attempts = 3;
    p->initial_delay_ms = 100;
    p->max_delay_ms = 10000;
    p->factor = 2.0;
    p->jitter = 1.0;
}

void ax_retry_future_init(ax_retry_future *rf, const ax_retry_policy *policy,
                          const ax_retry_ops *ops, void *arg) {
    rf->base.vtable = &ax__retry_vtable;
    rf->base.result = 0;
    rf->attempts = 0;
    rf->state = AX__R_MAKE;
    if (policy)
        rf->policy = *policy;
    else
        ax_retry_policy_init(&rf->policy);
    ax_retry_policy *p = &rf->policy;
    if (p->factor == 0) p->factor = 2.0;
    if (!(p->factor >= 1.0)) p->factor = 1.0; /* below 1, or NaN */
    if (!(p->jitter > 0.0)) p->jitter = 0.0;  /* negative, or NaN */
    if (p->jitter > 1.0) p->jitter = 1.0;
    double cap = ax__retry_cap(p);
    rf->base_delay = (double)p->initial_delay_ms < cap ? (double)p->initial_delay_ms : cap;
    rf->ops = ops;
    rf->arg = arg;
    rf->child = NULL;
    rf->rng = ax__splitmix64((uint64_t)(uintptr_t)rf ^ ax_now());
    if (!rf->rng) rf->rng = 0x9E3779B97F4A7C15ull; /* xorshift must not start at 0 */
    if (!ops || !ops->make) ax__retry_finish(rf, AX_EINVAL);
}

intptr_t ax_retry(const ax_retry_policy *policy, const ax_retry_ops *ops, void *arg) {
    ax_retry_future rf;
    ax_retry_future_init(&rf, policy, ops, arg);
    return ax_await(&rf.base);
}
