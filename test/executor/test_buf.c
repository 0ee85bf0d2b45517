/* Byte buffers through the public API: reference counts and slices, the
 * per-worker pools (reuse, cross-thread frees, caps, runtime free, buffers
 * outliving their runtime), iovec chains written into real sockets, and
 * memory-mapped files. A few pool checks read the worker's pool counters
 * (executor/internal.h) to see what the public API cannot. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef _WIN32
#include <sys/socket.h>
#include <sys/uio.h>
#endif
#ifndef IOV_MAX
#define IOV_MAX 1024 /* as buf_chain.c assumes where the system has none */
#endif

#include "axon.h"
#include "executor/internal.h"
#include "test/executor/fixtures.h"
#include "test/win_skip.h"

static uint8_t pattern_byte(size_t i) {
    return (uint8_t)(i * 7u + 3u + (i >> 8));
}

static void fill_pattern(uint8_t *p, size_t n, size_t from) {
    for (size_t i = 0; i < n; i++) p[i] = pattern_byte(from + i);
}

static ax_buf *pattern_buf(size_t n) {
    ax_buf *b;
    cr_assert_eq(ax_buf_new(&b, n), 0);
    fill_pattern(ax_buf_data(b), n, 0);
    cr_assert_eq(ax_buf_set_len(b, n), 0);
    return b;
}

/* ------------------------------------------------------------------ ax_buf */

Test(buf, new_copy_len_cap) {
    ax_buf *b;
    cr_assert_eq(ax_buf_new(&b, 100), 0);
    cr_assert_eq(ax_buf_len(b), 0);
    cr_assert_eq(ax_buf_cap(b), 100);
    cr_assert_eq(ax_buf_refcount(b), 1);
    cr_assert_eq(ax_buf_set_len(b, 101), AX_ERANGE);
    cr_assert_eq(ax_buf_set_len(b, 100), 0);
    cr_assert_eq(ax_buf_len(b), 100);
    cr_assert_not(ax_buf_is_mapped(b));
    cr_assert_eq(ax_buf_ref(b), b);
    cr_assert_eq(ax_buf_refcount(b), 2);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_refcount(b), 1);
    ax_buf_unref(b);
    ax_buf_unref(NULL);

    cr_assert_eq(ax_buf_copy(&b, "hello", 5), 0);
    cr_assert_eq(ax_buf_len(b), 5);
    cr_assert_geq(ax_buf_cap(b), 5);
    cr_assert_eq(memcmp(ax_buf_data(b), "hello", 5), 0);
    ax_buf_unref(b);

    cr_assert_eq(ax_buf_new(&b, 0), 0);
    cr_assert_eq(ax_buf_cap(b), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_copy(&b, NULL, 0), 0);
    cr_assert_eq(ax_buf_len(b), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_new(NULL, 1), AX_EINVAL);
    cr_assert_eq(ax_buf_copy(&b, NULL, 3), AX_EINVAL);
    cr_assert_eq(ax_buf_new(&b, SIZE_MAX), AX_ENOMEM);
}

static atomic_int wrap_frees;
static void *wrap_seen_data, *wrap_seen_user;
static void count_free(void *data, void *user) {
    wrap_seen_data = data;
    wrap_seen_user = user;
    atomic_fetch_add(&wrap_frees, 1);
    free(data);
}

Test(buf, slice_keeps_wrapped_buffer_alive) {
    atomic_store(&wrap_frees, 0);
    uint8_t *mem = malloc(64);
    fill_pattern(mem, 64, 0);
    ax_buf *b;
    int user;
    cr_assert_eq(ax_buf_wrap(&b, mem, 64, count_free, &user), 0);
    cr_assert_eq(ax_buf_data(b), mem);
    cr_assert_eq(ax_buf_len(b), 64);
    ax_slice s, s2;
    cr_assert_eq(ax_slice_of(&s, b, 10, 20), 0);
    cr_assert_eq(ax_buf_refcount(b), 2);
    ax_buf_unref(b); /* the slice keeps it */
    cr_assert_eq(atomic_load(&wrap_frees), 0);
    cr_assert_eq(ax_slice_data(&s)[0], pattern_byte(10));
    cr_assert_eq(ax_slice_sub(&s2, &s, 5, 10), 0);
    ax_slice_release(&s);
    cr_assert_null(s.buf);
    ax_slice_release(&s); /* released twice: no-op */
    cr_assert_eq(atomic_load(&wrap_frees), 0);
    cr_assert_eq(ax_slice_data(&s2)[0], pattern_byte(15));
    ax_slice_release(&s2);
    cr_assert_eq(atomic_load(&wrap_frees), 1);
    cr_assert_eq(wrap_seen_data, mem);
    cr_assert_eq(wrap_seen_user, &user);

    static const char text[] = "static bytes";
    cr_assert_eq(ax_buf_wrap(&b, (void *)text, sizeof(text), NULL, NULL), 0);
    ax_buf_unref(b); /* no callback: nothing to free */
    cr_assert_eq(ax_buf_wrap(&b, NULL, 1, NULL, NULL), AX_EINVAL);
    cr_assert_eq(ax_buf_wrap(&b, NULL, 0, NULL, NULL), 0);
    ax_buf_unref(b);
}

Test(buf, slice_bounds_and_slice_of_slice) {
    ax_buf *b = pattern_buf(100);
    ax_slice s = {0}, t = {0}, u = {0};
    cr_assert_eq(ax_slice_of(&s, b, 100, 0), 0); /* empty, at the end */
    ax_slice_release(&s);
    cr_assert_eq(ax_slice_of(&s, b, 101, 0), AX_ERANGE);
    cr_assert_null(s.buf);
    cr_assert_eq(ax_slice_of(&s, b, 50, 51), AX_ERANGE);
    cr_assert_eq(ax_slice_of(&s, b, 1, SIZE_MAX), AX_ERANGE);
    cr_assert_eq(ax_slice_of(&s, b, SIZE_MAX, 2), AX_ERANGE);
    cr_assert_eq(ax_slice_of(NULL, b, 0, 0), AX_EINVAL);
    cr_assert_eq(ax_buf_refcount(b), 1, "failed slicing must not take references");

    cr_assert_eq(ax_slice_of(&s, b, 10, 50), 0); /* [10, 60) */
    cr_assert_eq(ax_slice_sub(&t, &s, 0, 50), 0);
    ax_slice_release(&t);
    cr_assert_eq(ax_slice_sub(&t, &s, 1, 50), AX_ERANGE);
    cr_assert_eq(ax_slice_sub(&t, &s, 51, 0), AX_ERANGE);
    cr_assert_eq(ax_slice_sub(&t, &s, SIZE_MAX, 1), AX_ERANGE);
    cr_assert_eq(ax_slice_sub(&t, &s, 50, 0), 0);
    ax_slice_release(&t);
    cr_assert_eq(ax_slice_sub(&t, &s, 5, 40), 0); /* [15, 55) */
    cr_assert_eq(ax_slice_sub(&u, &t, 3, 30), 0); /* [18, 48) */
    cr_assert_eq(ax_slice_data(&u), ax_buf_data(b) + 18);
    cr_assert_eq(u.len, 30);
    cr_assert_eq(ax_buf_refcount(b), 4);
    cr_assert_eq(ax_slice_sub(&u, &u, 2, 10), 0); /* in place: [20, 30) */
    cr_assert_eq(ax_slice_data(&u), ax_buf_data(b) + 20);
    cr_assert_eq(ax_buf_refcount(b), 4);
    ax_slice c;
    ax_slice_clone(&c, &u);
    cr_assert_eq(ax_buf_refcount(b), 5);
    cr_assert_eq(c.off, u.off);
    ax_slice_release(&c);
    ax_slice_release(&u);
    ax_slice_release(&t);
    ax_slice_release(&s);
    cr_assert_eq(ax_buf_refcount(b), 1);

    ax_slice empty = {0};
    cr_assert_eq(ax_slice_sub(&t, &empty, 0, 0), 0);
    cr_assert_null(t.buf);
    cr_assert_null(ax_slice_data(&t));
    cr_assert_eq(ax_slice_sub(&t, &empty, 0, 1), AX_ERANGE);
    ax_buf_unref(b);
}

/* ------------------------------------------------------------------ pools */

Test(buf, pool_off_runtime_is_malloc) {
    ax_buf *b;
    cr_assert_eq(ax_buf_pool_get(&b, 100), 0);
    cr_assert_eq(ax_buf_cap(b), 100);
    cr_assert_eq(ax_buf_len(b), 0);
    memset(ax_buf_data(b), 1, 100);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_pool_get(&b, 1u << 20), 0);
    cr_assert_eq(ax_buf_cap(b), 1u << 20);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_pool_get(NULL, 1), AX_EINVAL);
}

static void *pool_reuse_main(void *arg) {
    ax_buf *a, *b, *c;
    cr_assert_eq(ax_buf_pool_get(&a, 3000), 0);
    cr_assert_eq(ax_buf_cap(a), AX_BUF_POOL_CLASS_1);
    uint8_t *mem = ax_buf_data(a);
    ax_buf_unref(a);
    cr_assert_eq(ax_buf_pool_get(&b, 4000), 0);
    cr_assert_eq(ax_buf_data(b), mem, "the same worker gets the same memory back");
    cr_assert_eq(ax_buf_pool_get(&c, 100), 0);
    cr_assert_eq(ax_buf_cap(c), AX_BUF_POOL_CLASS_0);
    cr_assert_neq(ax_buf_data(c), mem);
    ax_buf_unref(c);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_pool_get(&c, AX_BUF_POOL_MAX + 1), 0);
    cr_assert_eq(ax_buf_cap(c), AX_BUF_POOL_MAX + 1, "above the classes: exact malloc");
    ax_buf_unref(c);
    /* ax_buf_copy pools too. */
    cr_assert_eq(ax_buf_copy(&c, "xyz", 3), 0);
    cr_assert_eq(ax_buf_cap(c), AX_BUF_POOL_CLASS_0);
    ax_buf_unref(c);
    return NULL;
}

Test(buf, pool_reuses_memory_on_same_worker, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, pool_reuse_main, NULL, NULL), 0);
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    cr_assert_geq(m.buf_pool_hits, 1);
    cr_assert_geq(m.buf_pool_misses, 2);
}

static void *get_4k(void *arg) {
    ax_buf *b;
    cr_assert_eq(ax_buf_pool_get(&b, 4096), 0);
    memset(ax_buf_data(b), 0x5a, 4096);
    return b;
}

static void *unref_thread(void *arg) {
    ax_buf_unref(arg);
    return NULL;
}

Test(buf, plain_thread_free_returns_home, .init = rt_one, .fini = rt_done) {
    void *v;
    cr_assert_eq(ax_run(rt, get_4k, NULL, &v), 0);
    uint8_t *mem = ax_buf_data(v);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, unref_thread, v), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(ax_run(rt, get_4k, NULL, &v), 0);
    cr_assert_eq(ax_buf_data(v), mem, "a buffer freed on a plain thread returns to its worker");
    ax_buf_unref(v); /* from the test thread: onto the remote list, freed with the runtime */
}

/* The holder keeps its worker busy (no yield) while a task on the other
 * worker frees its buffer; then it allocates again and must get the same
 * memory back through the remote-free list. */
static atomic_int xw_stage;
static ax_buf *xw_buf;
static atomic_int xw_holder_worker, xw_freer_worker;

static void *xw_holder(void *arg) {
    ax_buf *b;
    cr_assert_eq(ax_buf_pool_get(&b, 16384), 0);
    uint8_t *mem = ax_buf_data(b);
    xw_buf = b;
    atomic_store(&xw_holder_worker, (int)ax__worker_current()->index);
    atomic_store(&xw_stage, 1);
    while (atomic_load(&xw_stage) != 2) {
    }
    cr_assert_eq(ax_buf_pool_get(&b, 16384), 0);
    bool same = ax_buf_data(b) == mem;
    ax_buf_unref(b);
    return (void *)(uintptr_t)same;
}

static void *xw_freer(void *arg) {
    atomic_store(&xw_freer_worker, (int)ax__worker_current()->index);
    ax_buf_unref(xw_buf);
    atomic_store(&xw_stage, 2);
    return NULL;
}

Test(buf, other_worker_free_returns_home, .init = rt_two, .fini = rt_done) {
    atomic_store(&xw_stage, 0);
    ax_task *h;
    cr_assert_eq(ax_spawn_on(rt, &h, xw_holder, NULL), 0);
    while (atomic_load(&xw_stage) != 1) usleep(100);
    cr_assert_eq(ax_run(rt, xw_freer, NULL, NULL), 0);
    ax_join_future jf;
    ax_join_future_init(&jf, h);
    cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    cr_assert_neq(atomic_load(&xw_freer_worker), atomic_load(&xw_holder_worker));
    cr_assert_eq(jf.value, (void *)1, "a buffer freed on another worker returns to its home");
}

static void *free_all_thread(void *arg) {
    ax_buf **v = arg;
    for (size_t i = 0; v[i]; i++) ax_buf_unref(v[i]);
    return NULL;
}

static void *trim_main(void *arg) {
    ax__buf_pool *p = &ax__worker_current()->bufs;
    uint32_t cap = ax__buf_class_cap(0);
    cr_assert_eq(cap, AX_BUF_POOL_MAX_BYTES_PER_CLASS / AX_BUF_POOL_CLASS_0);
    size_t n = cap + 10;
    ax_buf **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) cr_assert_eq(ax_buf_pool_get(&v[i], 1000), 0);
    for (size_t i = 0; i < n; i++) ax_buf_unref(v[i]);
    cr_assert_eq(p->count[0], cap, "local frees beyond the cap go back to malloc");
    cr_assert_eq(p->out, 0);

    /* The same through the remote-free list: trimmed when taken back. */
    for (size_t i = 0; i < n; i++) cr_assert_eq(ax_buf_pool_get(&v[i], 1000), 0);
    cr_assert_eq(p->count[0], 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, free_all_thread, v), 0);
    cr_assert_eq(pthread_join(th, NULL), 0);
    ax_buf *b;
    cr_assert_eq(ax_buf_pool_get(&b, 1000), 0);
    cr_assert_eq(p->count[0], cap - 1);
    cr_assert_eq(p->out, 1);
    ax_buf_unref(b);
    free(v);
    return NULL;
}

Test(buf, pool_cap_trims, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, trim_main, NULL, NULL), 0);
}

/* Buffers of every class, cached locally and waiting on the remote list,
 * when the runtime is freed: nothing may leak (checked under ASan). */
#define MANY 64
static void *get_many(void *arg) {
    ax_buf **v = arg;
    for (size_t i = 0; i < MANY; i++) {
        cr_assert_eq(ax_buf_pool_get(&v[i], (size_t)1024 << (i % 7)), 0);
        ax_buf_set_len(v[i], 1);
    }
    for (size_t i = 0; i < MANY; i += 2) { /* half back to the local lists */
        ax_buf_unref(v[i]);
        v[i] = NULL;
    }
    return NULL;
}

Test(buf, runtime_free_with_buffers_in_pools) {
    ax_runtime *r;
    cr_assert_eq(ax_runtime_new(&r, &(ax_runtime_opts){.workers = 2}), 0);
    ax_buf *v[MANY];
    cr_assert_eq(ax_run(r, get_many, v, NULL), 0);
    for (size_t i = 1; i < MANY; i += 2) ax_buf_unref(v[i]); /* onto the remote list */
    ax_runtime_free(r);
}

static ax_buf *outlive_bufs[3];
static void *outlive_get(void *arg) {
    static const size_t sizes[3] = {100, 5000, 60000};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(ax_buf_pool_get(&outlive_bufs[i], sizes[i]), 0);
        fill_pattern(ax_buf_data(outlive_bufs[i]), sizes[i], 0);
        ax_buf_set_len(outlive_bufs[i], sizes[i]);
    }
    return NULL;
}

static void *unref_arg(void *arg) {
    ax_buf_unref(arg);
    return NULL;
}

Test(buf, buffers_outlive_their_runtime) {
    ax_runtime *a, *b;
    cr_assert_eq(ax_runtime_new(&a, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_run(a, outlive_get, NULL, NULL), 0);
    ax_runtime_free(a);
    /* Still usable: read, write, slice. */
    for (int i = 0; i < 3; i++) {
        ax_buf *x = outlive_bufs[i];
        cr_assert_eq(ax_buf_data(x)[7], pattern_byte(7));
        ax_buf_data(x)[0] = 42;
    }
    ax_slice s;
    cr_assert_eq(ax_slice_of(&s, outlive_bufs[2], 1000, 10), 0);
    ax_buf_unref(outlive_bufs[0]); /* on a plain thread */
    cr_assert_eq(ax_runtime_new(&b, &(ax_runtime_opts){.workers = 1}), 0);
    cr_assert_eq(ax_run(b, unref_arg, outlive_bufs[1], NULL), 0); /* on another runtime */
    ax_buf_unref(outlive_bufs[2]);                                /* the slice holds it */
    cr_assert_eq(ax_slice_data(&s)[0], pattern_byte(1000));
    ax_runtime_free(b);
    ax_slice_release(&s); /* the last one out frees the old pool's home */
}

/* Orphaned releases racing with ax_runtime_free itself. */
#define RACE_BUFS    2000
#define RACE_THREADS 4
static ax_buf *race_bufs[RACE_BUFS];
static atomic_int race_go;
static void *race_get(void *arg) {
    for (size_t i = 0; i < RACE_BUFS; i++)
        cr_assert_eq(ax_buf_pool_get(&race_bufs[i], (size_t)512 << (i % 8)), 0);
    return NULL;
}
static void *race_free(void *arg) {
    size_t k = (size_t)(uintptr_t)arg;
    while (!atomic_load(&race_go)) {
    }
    for (size_t i = k; i < RACE_BUFS; i += RACE_THREADS) ax_buf_unref(race_bufs[i]);
    return NULL;
}

Test(buf, releases_race_with_runtime_free) {
    for (int round = 0; round < 3; round++) {
        ax_runtime *r;
        cr_assert_eq(ax_runtime_new(&r, &(ax_runtime_opts){.workers = 1}), 0);
        cr_assert_eq(ax_run(r, race_get, NULL, NULL), 0);
        atomic_store(&race_go, 0);
        pthread_t th[RACE_THREADS];
        for (uintptr_t t = 0; t < RACE_THREADS; t++)
            cr_assert_eq(pthread_create(&th[t], NULL, race_free, (void *)t), 0);
        atomic_store(&race_go, 1);
        ax_runtime_free(r);
        for (int t = 0; t < RACE_THREADS; t++) pthread_join(th[t], NULL);
    }
}

/* Tasks on two workers and a plain thread swap buffers through shared slots,
 * so most buffers are released away from their home: the remote-free lists
 * under contention (this is mostly for TSan and ASan). */
#define SWAP_SLOTS  16
#define SWAP_ROUNDS 3000
static ax_buf *_Atomic swap_slots[SWAP_SLOTS];

static void swap_one(uint32_t *rng, int k) {
    *rng = *rng * 1103515245u + 12345u;
    uint32_t r = *rng >> 8;
    ax_buf *b;
    cr_assert_eq(ax_buf_pool_get(&b, (size_t)700 << (r % 7)), 0);
    ax_buf_data(b)[0] = (uint8_t)k;
    ax_buf_data(b)[ax_buf_cap(b) - 1] = (uint8_t)k;
    ax_buf_set_len(b, ax_buf_cap(b));
    ax_buf *old = atomic_exchange(&swap_slots[r % SWAP_SLOTS], b);
    if (old) {
        cr_assert_eq(ax_buf_data(old)[0], ax_buf_data(old)[ax_buf_len(old) - 1]);
        ax_buf_unref(old);
    }
}

static void *swap_task(void *arg) {
    uint32_t rng = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    for (int i = 0; i < SWAP_ROUNDS; i++) {
        swap_one(&rng, (int)(uintptr_t)arg);
        if (i % 64 == 0) ax_yield();
    }
    return NULL;
}

static void *swap_thread(void *arg) {
    uint32_t rng = 99;
    for (int i = 0; i < SWAP_ROUNDS; i++) swap_one(&rng, 200);
    return NULL;
}

Test(buf, buffers_swapped_across_workers_and_threads, .init = rt_two, .fini = rt_done) {
    ax_task *t[4];
    for (uintptr_t i = 0; i < 4; i++) cr_assert_eq(ax_spawn_on(rt, &t[i], swap_task, (void *)i), 0);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, swap_thread, NULL), 0);
    for (int i = 0; i < 4; i++) {
        ax_join_future jf;
        ax_join_future_init(&jf, t[i]);
        cr_assert_eq(ax_block_on(rt, &jf.base), 0);
    }
    pthread_join(th, NULL);
    for (int i = 0; i < SWAP_SLOTS; i++) ax_buf_unref(atomic_exchange(&swap_slots[i], NULL));
}

/* ---------------------------------------------------------------- iochain */

/* Flattens the chain through its iovecs. */
static size_t chain_bytes(const ax_iochain *c, uint8_t *out) {
    struct iovec iov[IOV_MAX];
    size_t k = ax_iochain_iov(c, iov, IOV_MAX), n = 0;
    for (size_t i = 0; i < k; i++) {
        memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    return n;
}

#define CHAIN_TOTAL 1000
/* Slices of uneven sizes covering [0, CHAIN_TOTAL) of b; returns how many. */
static size_t build_chain(ax_iochain *c, ax_buf *b, size_t *ends) {
    static const size_t sizes[] = {1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
    size_t off = 0, k = 0;
    ax_iochain_init(c, 0);
    while (off < CHAIN_TOTAL) {
        size_t len = sizes[k % 10];
        if (len > CHAIN_TOTAL - off) len = CHAIN_TOTAL - off;
        ax_slice s;
        cr_assert_eq(ax_slice_of(&s, b, off, len), 0);
        cr_assert_eq(ax_iochain_append(c, &s), 0);
        ax_slice_release(&s);
        off += len;
        ends[k++] = off;
    }
    return k;
}

Test(iochain, partial_consume_at_every_boundary) {
    ax_buf *b = pattern_buf(CHAIN_TOTAL);
    static uint8_t out[CHAIN_TOTAL];
    size_t ends[CHAIN_TOTAL];
    for (size_t n = 0; n <= CHAIN_TOTAL; n++) {
        ax_iochain c;
        size_t k = build_chain(&c, b, ends);
        cr_assert_eq(ax_iochain_count(&c), k);
        cr_assert_eq(ax_iochain_len(&c), CHAIN_TOTAL);
        cr_assert_eq(ax_buf_refcount(b), 1 + k);
        cr_assert_eq(ax_iochain_consume(&c, n), 0);
        cr_assert_eq(ax_iochain_len(&c), CHAIN_TOTAL - n);
        size_t whole = 0; /* slices wholly consumed */
        while (whole < k && ends[whole] <= n) whole++;
        cr_assert_eq(ax_iochain_count(&c), k - whole, "n=%zu", n);
        cr_assert_eq(ax_buf_refcount(b), 1 + k - whole);
        size_t got = chain_bytes(&c, out);
        cr_assert_eq(got, CHAIN_TOTAL - n);
        cr_assert_eq(memcmp(out, ax_buf_data(b) + n, got), 0, "n=%zu", n);
        ax_iochain_clear(&c);
        cr_assert_eq(ax_buf_refcount(b), 1);
    }
    /* Byte by byte. */
    ax_iochain c;
    build_chain(&c, b, ends);
    for (size_t n = 0; n < CHAIN_TOTAL; n++) {
        struct iovec iov[1];
        cr_assert_eq(ax_iochain_iov(&c, iov, 1), 1);
        cr_assert_eq(*(uint8_t *)iov[0].iov_base, pattern_byte(n));
        cr_assert_eq(ax_iochain_consume(&c, 1), 0);
    }
    cr_assert_eq(ax_iochain_len(&c), 0);
    cr_assert_eq(ax_iochain_count(&c), 0);
    cr_assert_eq(ax_iochain_consume(&c, 1), AX_EINVAL);
    cr_assert_eq(ax_buf_refcount(b), 1);
    ax_iochain_clear(&c);
    ax_buf_unref(b);
}

Test(iochain, append_bytes_coalesces_and_limit_holds) {
    ax_iochain c;
    ax_iochain_init(&c, 0);
    uint8_t piece[10];
    for (size_t i = 0; i < 100; i++) {
        fill_pattern(piece, 10, i * 10);
        cr_assert_eq(ax_iochain_append_bytes(&c, piece, 10), 0);
    }
    cr_assert_eq(ax_iochain_count(&c), 1, "small appends share one tail buffer");
    cr_assert_eq(ax_iochain_len(&c), 1000);
    ax_buf *b = pattern_buf(10);
    cr_assert_eq(ax_iochain_append_buf(&c, b), 0);
    cr_assert_eq(ax_iochain_append_bytes(&c, piece, 10), 0);
    cr_assert_eq(ax_iochain_count(&c), 3, "after a foreign slice a new tail is started");
    /* Consuming the whole tail, then appending: a fresh tail. */
    cr_assert_eq(ax_iochain_consume(&c, 1020), 0);
    cr_assert_eq(ax_iochain_count(&c), 0);
    cr_assert_eq(ax_iochain_append_bytes(&c, piece, 10), 0);
    cr_assert_eq(ax_iochain_append_bytes(&c, NULL, 1), AX_EINVAL);
    cr_assert_eq(ax_iochain_append_bytes(&c, NULL, 0), 0);
    cr_assert_eq(ax_iochain_append_buf(&c, NULL), AX_EINVAL);
    ax_slice empty = {0};
    cr_assert_eq(ax_iochain_append(&c, &empty), 0);
    cr_assert_eq(ax_iochain_count(&c), 1);
    ax_iochain_clear(&c);

    /* Bounded chain. */
    ax_iochain_init(&c, 100);
    static uint8_t big[200];
    cr_assert_eq(ax_iochain_append_bytes(&c, big, 60), 0);
    cr_assert_eq(ax_iochain_append_bytes(&c, big, 50), AX_ENOBUFS);
    cr_assert_eq(ax_iochain_len(&c), 60);
    ax_slice s;
    cr_assert_eq(ax_slice_of(&s, b, 0, 10), 0);
    cr_assert_eq(ax_iochain_append(&c, &s), 0);
    cr_assert_eq(ax_iochain_append_bytes(&c, big, 30), 0);
    cr_assert_eq(ax_iochain_len(&c), 100);
    cr_assert_eq(ax_iochain_append(&c, &s), AX_ENOBUFS);
    cr_assert_eq(ax_iochain_append_bytes(&c, big, 1), AX_ENOBUFS);
    ax_slice_release(&s);
    ax_iochain_clear(&c);
    cr_assert_eq(ax_buf_refcount(b), 1);
    ax_buf_unref(b);
}

#ifndef _WIN32
static void nonblocking(int fd) {
    cr_assert_eq(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

/* Writes c into sv[0] and reads sv[1] until the chain is empty. */
static size_t drain_through(ax_iochain *c, int sv[2], uint8_t *out, size_t cap) {
    size_t got = 0;
    int spins = 0;
    while (ax_iochain_len(c) || spins < 2) {
        size_t w = 0;
        int err = ax_iochain_write(c, sv[0], &w);
        cr_assert(err == 0 || err == AX_EAGAIN, "%s", ax_err_name(err));
        ssize_t r = read(sv[1], out + got, cap - got);
        if (r > 0) got += (size_t)r;
        if (!ax_iochain_len(c) && r <= 0) spins++;
    }
    return got;
}

Test(iochain, writev_into_socketpair) {
    int sv[2];
    cr_assert_eq(ax__socketpair(AF_UNIX, SOCK_STREAM, 0, sv, 0), 0);
    nonblocking(sv[0]);
    nonblocking(sv[1]);
    size_t total = 300000;
    uint8_t *want = malloc(total), *out = malloc(total);
    fill_pattern(want, total, 0);
    ax_buf *b = pattern_buf(total);
    ax_iochain c;
    ax_iochain_init(&c, 0);
    /* A mix: slices of a big buffer, small copied pieces, one large copy. */
    size_t off = 0;
    while (off < 100000) {
        ax_slice s;
        size_t len = 1 + off % 977;
        cr_assert_eq(ax_slice_of(&s, b, off, len), 0);
        cr_assert_eq(ax_iochain_append(&c, &s), 0);
        ax_slice_release(&s);
        off += len;
        size_t small = off % 13 + 1;
        cr_assert_eq(ax_iochain_append_bytes(&c, want + off, small), 0);
        off += small;
    }
    cr_assert_eq(ax_iochain_append_bytes(&c, want + off, total - off), 0);
    cr_assert_eq(ax_iochain_len(&c), total);
    cr_assert_gt(ax_iochain_count(&c), 256, "more slices than one write takes");
    size_t got = drain_through(&c, sv, out, total);
    cr_assert_eq(got, total);
    cr_assert_eq(memcmp(out, want, total), 0);
    cr_assert_eq(ax_buf_refcount(b), 1);

    /* A closed peer is AX_EPIPE, not SIGPIPE. */
    close(sv[1]);
    cr_assert_eq(ax_iochain_append_bytes(&c, "x", 1), 0);
    cr_assert_eq(ax_iochain_write(&c, sv[0], NULL), AX_EPIPE);
    cr_assert_eq(ax_iochain_len(&c), 1);
    ax_iochain_clear(&c);
    close(sv[0]);
    ax_buf_unref(b);
    free(want);
    free(out);
}

Test(iochain, more_slices_than_iov_max) {
    size_t n = 3 * IOV_MAX + 7;
    ax_buf *b = pattern_buf(n);
    ax_iochain c;
    ax_iochain_init(&c, 0);
    for (size_t i = 0; i < n; i++) {
        ax_slice s;
        cr_assert_eq(ax_slice_of(&s, b, i, 1), 0);
        cr_assert_eq(ax_iochain_append(&c, &s), 0);
        ax_slice_release(&s);
    }
    cr_assert_eq(ax_iochain_count(&c), n);
    struct iovec *iov = malloc(n * sizeof(*iov));
    cr_assert_eq(ax_iochain_iov(&c, iov, n), IOV_MAX);
    cr_assert_eq(ax_iochain_iov(&c, iov, 3), 3);
    cr_assert_eq(iov[2].iov_base, ax_buf_data(b) + 2);
    free(iov);
    /* Through a pipe with writev (not a socket). */
    int p[2];
    cr_assert_eq(ax__pipe(p, 1), 0);
    uint8_t *out = malloc(n);
    int ends[2] = {p[1], p[0]}; /* write end, read end */
    size_t got = drain_through(&c, ends, out, n);
    cr_assert_eq(got, n);
    cr_assert_eq(memcmp(out, ax_buf_data(b), n), 0);
    cr_assert_eq(ax_buf_refcount(b), 1);
    ax_iochain_clear(&c);
    close(p[0]);
    close(p[1]);
    free(out);
    ax_buf_unref(b);
}

#else
/* Windows: ax_iochain_write takes a SOCKET there; these feed a Unix
 * socketpair and a pipe. */
Test(iochain, writev_into_socketpair) {
    AX_WIN_SKIP(AX_WIN_NO_PIPES);
}
Test(iochain, more_slices_than_iov_max) {
    AX_WIN_SKIP(AX_WIN_NO_PIPES);
}
#endif

static void *chain_in_task(void *arg) {
    ax_iochain c;
    ax_iochain_init(&c, 0);
    uint8_t piece[100];
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++) {
            fill_pattern(piece, sizeof(piece), (size_t)i);
            cr_assert_eq(ax_iochain_append_bytes(&c, piece, sizeof(piece)), 0);
        }
        cr_assert_eq(ax_iochain_consume(&c, ax_iochain_len(&c)), 0);
    }
    ax_iochain_clear(&c);
    return NULL;
}

Test(iochain, tail_buffers_come_from_the_pool, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, chain_in_task, NULL, NULL), 0);
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    cr_assert_gt(m.buf_pool_hits, m.buf_pool_misses);
}

/* ------------------------------------------------------------- mapped files */

#ifndef _WIN32
static char map_path[64];
static size_t map_size;
static long page;

static void make_file(void) {
    page = sysconf(_SC_PAGESIZE);
    map_size = 3 * (size_t)page + 123;
    strcpy(map_path, "/tmp/axon-buf-XXXXXX");
    int fd = mkostemp(map_path, O_CLOEXEC);
    cr_assert_geq(fd, 0);
    uint8_t *p = malloc(map_size);
    fill_pattern(p, map_size, 0);
    cr_assert_eq(write(fd, p, map_size), (ssize_t)map_size);
    free(p);
    close(fd);
}

static void remove_file(void) {
    unlink(map_path);
}

Test(map, file_contents_and_offsets, .init = make_file, .fini = remove_file) {
    int fd = open(map_path, O_RDONLY | O_CLOEXEC);
    cr_assert_geq(fd, 0);
    ax_buf *b;
    cr_assert_eq(ax_buf_map_file(&b, fd, 0, AX_BUF_MAP_TO_END), 0);
    cr_assert(ax_buf_is_mapped(b));
    cr_assert_eq(ax_buf_len(b), map_size);
    cr_assert_eq(ax_buf_cap(b), map_size);
    uint8_t *want = malloc(map_size);
    fill_pattern(want, map_size, 0);
    cr_assert_eq(memcmp(ax_buf_data(b), want, map_size), 0);
    cr_assert_eq(ax_buf_set_len(b, 1), AX_EINVAL);
    ax_buf_unref(b);

    size_t off = (size_t)page + 17; /* not page-aligned */
    cr_assert_eq(ax_buf_map_file(&b, fd, off, 5000), 0);
    cr_assert_eq(ax_buf_len(b), 5000);
    close(fd); /* the mapping outlives the descriptor */
    ax_slice s;
    cr_assert_eq(ax_slice_of(&s, b, 100, 4900), 0);
    ax_buf_unref(b);
    cr_assert_eq(memcmp(ax_slice_data(&s), want + off + 100, 4900), 0);
    ax_slice_release(&s);
    free(want);
}

Test(map, ranges_and_errors, .init = make_file, .fini = remove_file) {
    int fd = open(map_path, O_RDONLY | O_CLOEXEC);
    ax_buf *b = (ax_buf *)1;
    cr_assert_eq(ax_buf_map_file(&b, fd, map_size + 1, 0), AX_ERANGE);
    cr_assert_null(b);
    cr_assert_eq(ax_buf_map_file(&b, fd, 10, map_size), AX_ERANGE);
    cr_assert_eq(ax_buf_map_file(&b, fd, 0, map_size + 1), AX_ERANGE);
    cr_assert_eq(ax_buf_map_file(&b, fd, UINT64_MAX, 1), AX_ERANGE);
    cr_assert_eq(ax_buf_map_file(&b, fd, map_size, 0), 0); /* empty, at the end */
    cr_assert_eq(ax_buf_len(b), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_map_file(&b, fd, map_size, AX_BUF_MAP_TO_END), 0);
    cr_assert_eq(ax_buf_len(b), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_map_file(&b, fd, map_size - 1, 1), 0); /* the last byte */
    cr_assert_eq(ax_buf_data(b)[0], pattern_byte(map_size - 1));
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_map_file(NULL, fd, 0, 1), AX_EINVAL);
    close(fd);
    cr_assert_eq(ax_buf_map_file(&b, fd, 0, 1), AX_EBADF); /* closed now */
    cr_assert_eq(ax_buf_map_file(&b, -1, 0, 1), AX_EBADF);
    int p[2];
    cr_assert_eq(ax__pipe(p, 0), 0);
    cr_assert_eq(ax_buf_map_file(&b, p[0], 0, 1), AX_EINVAL, "not a regular file");
    close(p[0]);
    close(p[1]);
}

Test(map, empty_file_and_paths, .init = make_file, .fini = remove_file) {
    ax_buf *b;
    cr_assert_eq(ax_buf_map_path(&b, map_path), 0);
    cr_assert_eq(ax_buf_len(b), map_size);
    cr_assert_eq(ax_buf_data(b)[map_size - 1], pattern_byte(map_size - 1));
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_map_path(&b, "/nonexistent/axon-buf"), AX_ENOENT);
    cr_assert_eq(ax_buf_map_path(&b, NULL), AX_EINVAL);
    cr_assert_eq(truncate(map_path, 0), 0);
    cr_assert_eq(ax_buf_map_path(&b, map_path), 0);
    cr_assert_eq(ax_buf_len(b), 0);
    ax_buf_unref(b);
    int fd = open(map_path, O_RDONLY | O_CLOEXEC);
    cr_assert_eq(ax_buf_map_file(&b, fd, 0, AX_BUF_MAP_TO_END), 0);
    cr_assert_eq(ax_buf_len(b), 0);
    ax_buf_unref(b);
    cr_assert_eq(ax_buf_map_file(&b, fd, 0, 1), AX_ERANGE);
    close(fd);
}

static char allowed_dir[64];
static void *map_under_policy(void *arg) {
    ax_buf *b;
    cr_assert_eq(ax_buf_map_path(&b, map_path), AX_EPOLICY);
    char inside[128];
    snprintf(inside, sizeof(inside), "%s/f", allowed_dir);
    cr_assert_eq(ax_buf_map_path(&b, inside), 0);
    cr_assert_eq(ax_buf_len(b), 3);
    ax_buf_unref(b);
    return NULL;
}

Test(map, path_checks_the_runtime_policy, .init = make_file, .fini = remove_file) {
    strcpy(allowed_dir, "/tmp/axon-bufdir-XXXXXX");
    cr_assert_not_null(mkdtemp(allowed_dir));
    char inside[128];
    snprintf(inside, sizeof(inside), "%s/f", allowed_dir);
    FILE *f = fopen(inside, "we");
    fputs("abc", f);
    fclose(f);
    ax_runtime *r;
    cr_assert_eq(ax_runtime_new(&r, &(ax_runtime_opts){.workers = 1}), 0);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_read(p, allowed_dir), 0);
    cr_assert_eq(ax_runtime_set_policy(r, p), 0);
    ax_policy_free(p);
    cr_assert_eq(ax_run(r, map_under_policy, NULL, NULL), 0);
    ax_runtime_free(r);
    unlink(inside);
    rmdir(allowed_dir);
}
#else
Test(map, file_contents_and_offsets) {
    AX_WIN_SKIP(AX_WIN_NO_MMAP);
}
Test(map, ranges_and_errors) {
    AX_WIN_SKIP(AX_WIN_NO_MMAP);
}
Test(map, empty_file_and_paths) {
    AX_WIN_SKIP(AX_WIN_NO_MMAP);
}
Test(map, path_checks_the_runtime_policy) {
    AX_WIN_SKIP(AX_WIN_NO_MMAP);
}
#endif
