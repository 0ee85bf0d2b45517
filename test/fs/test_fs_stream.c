/* Streams (chunks, lines, operators, cancellation) and concurrency (all,
 * race, mixed with network and timers, the pool bound). */
#include <errno.h>
#include <signal.h>
#include <dirent.h>

#include <stdatomic.h>

#include "fs_util.h"

#include <stdatomic.h>

TestSuite(fs_stream, .init = fs_setup, .fini = fs_teardown, .timeout = 120);

/* Collects a line stream into one string, lines joined by '|'. */
static int collect(ax_item_stream *s, char *out, size_t cap) {
    void *it;
    int r;
    out[0] = 0;
    while ((r = ax_items_next(s, &it, AX_NO_DEADLINE)) == 1) {
        ax_fs_line *l = it;
        if (out[0]) strncat(out, "|", cap - strlen(out) - 1);
        strncat(out, l->text, cap - strlen(out) - 1);
        ax_items_free_item(s, it);
    }
    return r;
}

static void *t_crlf(void *arg) {
    char p[512], out[256];
    put(P(p, "crlf"), "a\r\nb\r\n\r\nc\n", 10);
    ax_item_stream *s;
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    cr_assert_eq(collect(s, out, sizeof out), 0);
    cr_assert_str_eq(out, "a|b||c");
    ax_items_close(s);
    put(P(p, "nonl"), "x\ny", 3);
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    cr_assert_eq(collect(s, out, sizeof out), 0);
    cr_assert_str_eq(out, "x|y");
    ax_items_close(s);
    put(P(p, "empty"), "", 0);
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    cr_assert_eq(collect(s, out, sizeof out), 0);
    cr_assert_str_eq(out, "");
    ax_items_close(s);
    cr_assert_eq(ax_fs_lines(P(p, "missing"), 0, &s), 0);
    cr_assert_eq(collect(s, out, sizeof out), AX_ENOENT);
    ax_items_close(s);
    return NULL;
}
Test(fs_stream, lines_crlf_no_trailing_newline_empty_missing) {
    run(t_crlf, NULL);
}

static void *t_long(void *arg) {
    char p[512];
    size_t n = 3u << 20; /* 3 MiB line, longer than the 64 KiB reader buffer */
    char *b = malloc(n + 16);
    memset(b, 'L', n);
    memcpy(b + n, "\nshort\n", 7);
    put(P(p, "long"), b, n + 7);
    ax_item_stream *s;
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    void *it;
    cr_assert_eq(ax_items_next(s, &it, AX_NO_DEADLINE), 1);
    ax_fs_line *l = it;
    cr_assert_eq(l->len, n);
    cr_assert_eq(l->text[n - 1], 'L');
    cr_assert_eq(l->lineno, 1);
    ax_items_free_item(s, it);
    cr_assert_eq(ax_items_next(s, &it, AX_NO_DEADLINE), 1);
    cr_assert_str_eq(((ax_fs_line *)it)->text, "short");
    ax_items_free_item(s, it);
    cr_assert_eq(ax_items_next(s, &it, AX_NO_DEADLINE), 0);
    ax_items_close(s);
    cr_assert_eq(ax_fs_lines(p, 1 << 20, &s), 0); /* over max_line */
    cr_assert_eq(ax_items_next(s, &it, AX_NO_DEADLINE), AX_ENOSPC);
    ax_items_close(s);
    free(b);
    return NULL;
}
Test(fs_stream, very_long_lines) {
    run(t_long, NULL);
}

static void *t_large_lines(void *arg) {
    char p[512];
    P(p, "many");
    FILE *f = fopen(p, "w");
    for (int i = 0; i < 1000000; i++) fprintf(f, "line number %d\n", i);
    fclose(f);
    ax_item_stream *s;
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    void *it;
    uint64_t n = 0;
    int r;
    while ((r = ax_items_next(s, &it, AX_NO_DEADLINE)) == 1) {
        if (n == 777777) cr_assert_str_eq(((ax_fs_line *)it)->text, "line number 777777");
        n++;
        ax_items_free_item(s, it);
    }
    cr_assert_eq(r, 0);
    cr_assert_eq(n, 1000000);
    ax_items_close(s);
    return NULL;
}
Test(fs_stream, large_file_line_by_line) {
    run(t_large_lines, NULL);
}

static void *t_chunks(void *arg) {
    char p[512];
    char b[10000];
    for (size_t i = 0; i < sizeof b; i++) b[i] = (char)i;
    put(P(p, "c"), b, sizeof b);
    ax_item_stream *s;
    cr_assert_eq(ax_fs_chunks(p, 4096, &s), 0);
    size_t sizes[4] = {0}, k = 0, off = 0;
    void *it;
    while (ax_items_next(s, &it, AX_NO_DEADLINE) == 1) {
        ax_buf *c = it;
        cr_assert_lt(k, 4);
        sizes[k++] = ax_buf_len(c);
        cr_assert_eq(memcmp(ax_buf_data(c), b + off, ax_buf_len(c)), 0);
        off += ax_buf_len(c);
        ax_items_free_item(s, it);
    }
    ax_items_close(s);
    cr_assert_eq(k, 3);
    cr_assert_eq(sizes[0], 4096);
    cr_assert_eq(sizes[1], 4096);
    cr_assert_eq(sizes[2], 10000 - 8192);
    return NULL;
}
Test(fs_stream, chunks_of_chosen_size) {
    run(t_chunks, NULL);
}

/* map, filter, take, batch over lines. */
static bool even(void *arg, const void *item) {
    return ((const ax_fs_line *)item)->lineno % 2 == 0;
}
static void *upper_len(void *arg, void *item, int *err) {
    ax_fs_line *l = item;
    size_t *v = malloc(sizeof *v);
    *v = l->len;
    free(l);
    return v;
}
static void *t_ops(void *arg) {
    char p[512];
    put(P(p, "ops"), "a\nbb\nccc\ndddd\neeeee\nffffff\nggggggg\n", 35);
    ax_item_stream *s, *f, *m, *t, *b;
    cr_assert_eq(ax_fs_lines(p, 0, &s), 0);
    cr_assert_eq(ax_items_filter(s, even, NULL, &f), 0); /* lines 2, 4, 6 */
    cr_assert_eq(ax_items_map(f, upper_len, NULL, NULL, &m), 0);
    cr_assert_eq(ax_items_take(m, 3, &t), 0);
    cr_assert_eq(ax_items_batch(t, 2, &b), 0);
    void *it;
    cr_assert_eq(ax_items_next(b, &it, AX_NO_DEADLINE), 1);
    ax_item_batch *bt = it;
    cr_assert_eq(bt->n, 2);
    cr_assert_eq(*(size_t *)bt->items[0], 2);
    cr_assert_eq(*(size_t *)bt->items[1], 4);
    ax_items_free_item(b, it);
    cr_assert_eq(ax_items_next(b, &it, AX_NO_DEADLINE), 1);
    bt = it;
    cr_assert_eq(bt->n, 1);
    cr_assert_eq(*(size_t *)bt->items[0], 6);
    ax_items_free_item(b, it);
    cr_assert_eq(ax_items_next(b, &it, AX_NO_DEADLINE), 0);
    ax_items_close(b);
    return NULL;
}
Test(fs_stream, map_filter_take_batch) {
    run(t_ops, NULL);
}

/* Cancel a task blocked in a line stream over a FIFO; its clean-up closes
 * the stream, and the job in flight finishes into its own buffer. */
static char fifo[512];
static int fifo_writer(const char *path) {
#ifdef _WIN32
    (void)path;
    return test_fifo_writer();
#else
    for (int i = 0; i < 10000; i++) {
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) return fd;
        ax_sleep(1);
    }
    return -1;
#endif
}
static void *t_stream_reader(void *arg) {
    ax_item_stream *s;
    cr_assert_eq(ax_fs_lines(fifo, 0, &s), 0);
    void *it;
    int r, n = 0;
    while ((r = ax_items_next(s, &it, AX_NO_DEADLINE)) == 1) {
        n++;
        ax_items_free_item(s, it);
    }
    ax_items_close(s);
    *(int *)arg = n > 0 ? r : -1;
    return NULL;
}
static void *t_cancel_stream(void *arg) {
    int res = 1;
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, t_stream_reader, &res), 0);
    int fd = fifo_writer(fifo);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "one\ntwo\n", 8), 8);
    ax_sleep(20); /* let it take those lines; either way it ends cancelled */
    ax_abort(t);
    ax_join(t, NULL);
    cr_assert(res == AX_ECANCELED || res == -1, "res %d", res);
    close(fd);
    return NULL;
}
Test(fs_stream, cancel_mid_stream) {
    cr_assert_eq(mkfifo(P(fifo, "fifo"), 0644), 0);
    run(t_cancel_stream, NULL);
}

/* A task writing an atomic file is cancelled: its clean-up closes the
 * handle, the target keeps its old content, no temporary file is left. */
static _Atomic int atomic_chunks; /* chunks the writer has written */
static void *t_atomic_writer(void *arg) {
    char p[512];
    ax_file *f;
    cr_assert_eq(ax_file_open(P(p, "target"), AX_FILE_ATOMIC, 0, &f, AX_NO_DEADLINE), 0);
    char chunk[65536];
    memset(chunk, 'n', sizeof chunk);
    int r;
    while ((r = (int)ax_file_write(f, chunk, sizeof chunk, AX_NO_DEADLINE)) > 0) {
        atomic_fetch_add(&atomic_chunks, 1);
        ax_yield();
    }
    ax_file_close(f, AX_NO_DEADLINE);
    *(int *)arg = r;
    return NULL;
}
static void *t_cancel_atomic(void *arg) {
    int res = 1;
    ax_task *t;
    atomic_store(&atomic_chunks, 0);
    cr_assert_eq(ax_spawn(&t, t_atomic_writer, &res), 0);
    /* Abort mid-stream, not during the open (slow under qemu). */
    while (atomic_load(&atomic_chunks) < 2) ax_sleep(1);
    ax_abort(t);
    ax_join(t, NULL);
    cr_assert_eq(res, AX_ECANCELED);
    return NULL;
}
Test(fs_stream, cancelled_atomic_write_stream_leaves_no_partial_target) {
    char p[512];
    put(P(p, "target"), "old", 3);
    run(t_cancel_atomic, NULL);
    char *g = get(p, NULL);
    cr_assert_str_eq(g, "old");
    free(g);
    ax_fs_dirent *e = NULL;
    size_t n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while ((de = readdir(d))) cr_assert_null(strstr(de->d_name, ".axtmp."), "%s", de->d_name);
    closedir(d);
    (void)e;
    (void)n;
}

/* ---- concurrency --------------------------------------------------------------------------------
 */

static void *t_all(void *arg) {
    char p[100][512];
    static ax_fs_future fut[100];
    ax_future *kids[100];
    void *data[100];
    size_t len[100];
    intptr_t results[100];
    for (int i = 0; i < 100; i++) {
        char name[32], c[32];
        snprintf(name, sizeof name, "r%d", i);
        int n = snprintf(c, sizeof c, "value-%d", i);
        put(P(p[i], name), c, (size_t)n);
        ax_fs_read_file_future_init(&fut[i], p[i], &data[i], &len[i]);
        kids[i] = &fut[i].base;
    }
    cr_assert_eq(ax_all(kids, 100, results), 0);
    for (int i = 0; i < 100; i++) {
        char c[32];
        snprintf(c, sizeof c, "value-%d", i);
        cr_assert_eq(results[i], 0);
        cr_assert_str_eq(data[i], c);
        free(data[i]);
    }
    return NULL;
}
Test(fs_stream, all_over_100_reads_in_order) {
    run(t_all, NULL);
}

static void *t_fail_index(void *arg) {
    char p[10][512];
    ax_fs_future fut[10];
    ax_future *kids[10];
    void *data[10] = {0};
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof name, "ok%d", i);
        if (i != 7)
            put(P(p[i], name), "x", 1);
        else
            P(p[i], "missing");
        ax_fs_read_file_future_init(&fut[i], p[i], &data[i], NULL);
        kids[i] = &fut[i].base;
    }
    ax_all_future all;
    ax_all_future_init(&all, kids, 10, NULL);
    cr_assert_eq(ax_await(&all.base), AX_ENOENT);
    cr_assert_eq(all.index, 7);
    for (int i = 0; i < 10; i++) free(data[i]);
    return NULL;
}
Test(fs_stream, one_failure_among_many_reported_with_index) {
    run(t_fail_index, NULL);
}

static void *t_race(void *arg) {
    /* a read stuck on a FIFO loses to a timer */
    ax_fs_future rd;
    void *data = NULL;
    ax_fs_read_file_future_init(&rd, fifo, &data, NULL);
    ax_delay_future d;
    ax_delay_future_init(&d, 20, 42);
    ax_future *kids[2] = {&rd.base, &d.base};
    size_t winner;
    cr_assert_eq(ax_race(kids, 2, &winner), 42);
    cr_assert_eq(winner, 1);
    cr_assert_null(data); /* the abandoned read never writes here */
    int fd = fifo_writer(fifo);
    if (fd >= 0) {
        /* The abandoned job may close its end as soon as its open returns:
         * then the write fails with EPIPE, which must not kill the test. */
#ifdef SIGPIPE
        signal(SIGPIPE, SIG_IGN);
#endif
        ssize_t w = write(fd, "late", 4);
        cr_assert(w == 4 || (w < 0 && errno == EPIPE), "write: %zd", w);
        close(fd);
    }
    /* a read that wins */
    char p[512];
    put(P(p, "quick"), "q", 1);
    ax_fs_read_file_future_init(&rd, p, &data, NULL);
    ax_delay_future_init(&d, 60000, 0);
    cr_assert_eq(ax_race(kids, 2, &winner), 0);
    cr_assert_eq(winner, 0);
    cr_assert_str_eq(data, "q");
    free(data);
    return NULL;
}
Test(fs_stream, race_read_against_timer) {
    cr_assert_eq(mkfifo(P(fifo, "rfifo"), 0644), 0);
    run(t_race, NULL);
}

/* File, network and timer work in one `all`. */
static void *t_mixed(void *arg) {
    ax_addr a;
    cr_assert_eq(ax_addr_parse("127.0.0.1:0", &a), 0);
    ax_tcp_listener *l;
    cr_assert_eq(ax_tcp_listen(&a, NULL, &l), 0);
    cr_assert_eq(ax_tcp_listener_addr(l, &a), 0);
    ax_tcp *client, *server;
    cr_assert_eq(ax_tcp_connect(&a, AX_NO_DEADLINE, &client), 0);
    cr_assert_eq(ax_tcp_accept(l, &server, NULL, AX_NO_DEADLINE), 0);
    cr_assert_eq(ax_tcp_write_all(client, "ping", 4, AX_NO_DEADLINE), 0);
    char p[512], net[8] = {0};
    put(P(p, "mixed"), "file data", 9);
    void *data;
    ax_fs_future rd;
    ax_fs_read_file_future_init(&rd, p, &data, NULL);
    ax_stream_io_future sr;
    ax_stream_read_future_init(&sr, ax_tcp_stream(server), net, 4);
    ax_delay_future d;
    ax_delay_future_init(&d, 10, 7);
    ax_future *kids[3] = {&rd.base, &sr.base, &d.base};
    intptr_t res[3];
    cr_assert_eq(ax_all(kids, 3, res), 0);
    cr_assert_eq(res[0], 0);
    cr_assert_eq(res[1], 4);
    cr_assert_eq(res[2], 7);
    cr_assert_str_eq(data, "file data");
    cr_assert_str_eq(net, "ping");
    free(data);
    ax_tcp_close(client);
    ax_tcp_close(server);
    ax_tcp_listener_close(l);
    return NULL;
}
Test(fs_stream, file_network_and_timer_in_one_all) {
    run(t_mixed, NULL);
}

/* ---- the pool bound -----------------------------------------------------------------------------
 */

static void *blocked_reader(void *arg) {
    void *d;
    int r = ax_fs_read_file(fifo, &d, NULL, AX_NO_DEADLINE);
    if (r == 0) free(d);
    return NULL;
}
static void *other_job(void *arg) {
    return (void *)(intptr_t)42;
}
static void *t_starve(void *arg) {
    /* 8 file reads stuck on a FIFO: only 2 (the fs bound) hold pool threads */
    ax_task *t[8];
    for (int i = 0; i < 8; i++) cr_assert_eq(ax_spawn(&t[i], blocked_reader, NULL), 0);
    int fd = fifo_writer(fifo); /* at least one job is in the FIFO now */
    cr_assert_geq(fd, 0);
    void *v = NULL;
    cr_assert_eq(ax_spawn_blocking(other_job, NULL, &v), 0); /* a DNS-like job still runs */
    cr_assert_eq((intptr_t)v, 42);
    for (int i = 0; i < 8; i++) ax_abort(t[i]);
    for (int i = 0; i < 8; i++) ax_join(t[i], NULL);
    close(fd); /* the stuck jobs see the end of the FIFO */
    /* the abandoned jobs still queued never open it; the running ones finish */
    return NULL;
}
Test(fs_stream, file_burst_does_not_starve_other_blocking_jobs) {
    fs_teardown();
    fs_setup_with(2, 3); /* a pool of 3 threads */
    cr_assert_eq(ax_fs_set_max_concurrency(rt, 2), 0);
    cr_assert_eq(ax_fs_max_concurrency(rt), 2);
    cr_assert_eq(ax_fs_set_max_concurrency(rt, 4), AX_EBUSY);
    cr_assert_eq(mkfifo(P(fifo, "sfifo"), 0644), 0);
    run(t_starve, NULL);
}

/* Jobs past the bound wait in the pool (its queue depth shows them), none
 * of them runs early, other blocking work passes them, and they all run
 * once a file job ends. */
static _Atomic int done_seq;
static void *queued_writer(void *arg) {
    int i = (int)(intptr_t)arg;
    char p[512], name[32];
    snprintf(name, sizeof name, "q%d", i);
    cr_assert_eq(ax_fs_write_file(P(p, name), name, strlen(name), NULL, AX_NO_DEADLINE), 0);
    atomic_fetch_add(&done_seq, 1);
    return NULL;
}
static void wait_queue_depth(uint64_t n) {
    for (;;) {
        ax_runtime_metrics m;
        ax_runtime_metrics_get(rt, &m);
        if (m.blocking_queue_depth >= n) return;
        ax_sleep(1);
    }
}
static void *t_group_fifo(void *arg) {
    ax_task *r, *w[3];
    cr_assert_eq(ax_spawn(&r, blocked_reader, NULL), 0);
    int fd = fifo_writer(fifo); /* the reader's job is running: the bound (1) is full */
    cr_assert_geq(fd, 0);
    for (intptr_t i = 0; i < 3; i++) {
        cr_assert_eq(ax_spawn(&w[i], queued_writer, (void *)i), 0);
        wait_queue_depth((uint64_t)i + 1); /* queued behind the reader */
    }
    void *v = NULL;
    cr_assert_eq(ax_spawn_blocking(other_job, NULL, &v), 0); /* other work passes them */
    cr_assert_eq((intptr_t)v, 42);
    cr_assert_eq(atomic_load(&done_seq), 0); /* none ran past the bound */
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd); /* the reader ends; its thread runs the writers, one at a time */
    cr_assert_eq(ax_join(r, NULL), 0);
    for (int i = 0; i < 3; i++) cr_assert_eq(ax_join(w[i], NULL), 0);
    cr_assert_eq(atomic_load(&done_seq), 3);
    char p[512];
    for (int i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "q%d", i);
        char *g = get(P(p, name), NULL);
        cr_assert_str_eq(g, name);
        free(g);
    }
    return NULL;
}
Test(fs_stream, jobs_past_the_bound_wait_in_the_pool) {
    fs_teardown();
    fs_setup_with(2, 4);
    cr_assert_eq(ax_fs_set_max_concurrency(rt, 1), 0);
    cr_assert_eq(mkfifo(P(fifo, "gfifo"), 0644), 0);
    run(t_group_fifo, NULL);
}

static void *t_sat_one(void *arg) {
    char p[512], name[32];
    snprintf(name, sizeof name, "s%d", (int)(intptr_t)arg);
    cr_assert_eq(ax_fs_write_file(P(p, name), name, strlen(name), NULL, AX_NO_DEADLINE), 0);
    void *d;
    cr_assert_eq(ax_fs_read_file(p, &d, NULL, AX_NO_DEADLINE), 0);
    cr_assert_str_eq(d, name);
    free(d);
    return NULL;
}
static void *t_saturated(void *arg) {
    ax_task *t[200];
    for (intptr_t i = 0; i < 200; i++) cr_assert_eq(ax_spawn(&t[i], t_sat_one, (void *)i), 0);
    for (int i = 0; i < 200; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    return NULL;
}
Test(fs_stream, saturated_blocking_pool_does_not_deadlock) {
    fs_teardown();
    fs_setup_with(2, 1); /* one blocking thread, fs bound (4) > pool */
    run(t_saturated, NULL);
}

/* A burst of file jobs starts no more pool threads than the bound lets
 * run at once: a thread that was woken, or started, for a job and is not
 * looking at the queue yet is on its way to it. (Once a submission that
 * found no idle thread started another even then; wake-ups take tens of µs
 * here, and 64 tasks doing small-file work ran with 17-21 pool threads for
 * a bound of 4, each phase waking a different few: bench/fs.) */
static void *t_burst_one(void *arg) {
    char p[512], name[32];
    snprintf(name, sizeof name, "b%d", (int)(intptr_t)arg);
    P(p, name);
    for (int k = 0; k < 30; k++) {
        cr_assert_eq(ax_fs_write_file(p, name, strlen(name), NULL, AX_NO_DEADLINE), 0);
        cr_assert_eq(ax_fs_remove(p, AX_NO_DEADLINE), 0);
    }
    return NULL;
}
static void *t_burst(void *arg) {
    for (int round = 0; round < 3; round++) { /* each round starts from idle threads */
        ax_task *t[64];
        for (intptr_t i = 0; i < 64; i++) cr_assert_eq(ax_spawn(&t[i], t_burst_one, (void *)i), 0);
        for (int i = 0; i < 64; i++) cr_assert_eq(ax_join(t[i], NULL), 0);
    }
    ax_runtime_metrics m;
    ax_runtime_metrics_get(rt, &m);
    cr_assert_eq(m.blocking_jobs, 3 * 64 * 30 * 2);
    cr_assert_leq(m.blocking_threads, 4, "%llu pool threads for a bound of 4",
                  (unsigned long long)m.blocking_threads);
    return NULL;
}
Test(fs_stream, file_burst_starts_no_more_threads_than_the_bound) {
    cr_assert_eq(ax_fs_max_concurrency(rt), 4);
    run(t_burst, NULL);
}

Test(fs_stream, block_on_from_a_plain_thread) {
    char p[512];
    put(P(p, "plain"), "from a thread", 13);
    ax_fs_future f;
    void *data;
    size_t len = 0;
    ax_fs_read_file_future_init(&f, p, &data, &len);
    cr_assert_eq(ax_block_on(rt, &f.base), 0);
    cr_assert_eq(len, 13);
    free(data);
}

/* The default bound: two file jobs per worker, at least 4, at most 16. */
static unsigned default_bound(unsigned workers) {
    ax_runtime_opts o;
    ax_runtime_opts_init(&o);
    o.workers = workers;
    ax_runtime *r;
    cr_assert_eq(ax_runtime_new(&r, &o), 0);
    unsigned n = ax_fs_max_concurrency(r);
    ax_runtime_free(r);
    return n;
}
Test(fs_stream, default_bound_follows_the_workers) {
    cr_assert_eq(ax_fs_max_concurrency(rt), 4); /* the fixture's 2 workers */
    cr_assert_eq(default_bound(1), 4);
    cr_assert_eq(default_bound(3), 6);
    cr_assert_eq(default_bound(8), 16);
    cr_assert_eq(default_bound(12), 16);
}
