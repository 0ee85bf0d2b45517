/* http/conn.c - one connection: a task while bytes move, a record and two
 * armed wakers while it is idle.
 *
 * The task reads into a pooled buffer, parses as many requests as the
 * buffer holds, runs the handler for each and queues the responses in a
 * pooled output buffer, which goes out in one write when the buffer holds
 * no further complete request (so a pipelined burst is answered with one
 * writev). When nothing is left to read it gives both buffers back, arms
 * the idle timer and the stream's read readiness with wakers that point at
 * the connection record (not at the task), and returns: the task and its
 * stack end. The first waker to fire claims the connection (`armed`
 * ARMED -> BUSY) and spawns a fresh task for it; the other waker is then
 * disarmed. A timer wake is checked against the deadline it was armed
 * for, so a late wake from an earlier idle period closes nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

static void *ax__conn_task(void *arg);

static void ax__conn_unref(ax__http_conn *c) {
    if (atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1) return;
    free(c);
}

/* Ends the connection: unlists it, closes the stream. The caller still
 * holds its reference and drops it afterwards. */
static void ax__conn_end(ax__http_conn *c) {
    ax_http_server *srv = c->srv;
    ax_stream_close(c->stream);
    c->stream = NULL;
    /* The count drops under the lock: shutdown takes the lock once after
     * it saw zero, so no connection still touches srv once it returns. */
    pthread_mutex_lock(&srv->lock);
    if (c->prev)
        c->prev->next = c->next;
    else if (srv->conns == c)
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->prev = c->next = NULL;
    size_t left = atomic_fetch_sub(&srv->nconns, 1) - 1;
    if (left == 0 && atomic_load(&srv->draining)) ax_notify_one(&srv->all_closed);
    pthread_mutex_unlock(&srv->lock);
    ax__http_server_unref(srv);
}

/* A waker fired: claim the connection if it is idle and give it a task;
 * while it is being armed, only note the wake for the arming thread; when
 * it is busy the wake is stale and ignored. */
static void ax__conn_claim(ax__http_conn *c, int reason) {
    uint32_t s = atomic_load(&c->armed);
    for (;;) {
        if (s == AX__IDLE_ARMED) {
            if (!atomic_compare_exchange_weak(&c->armed, &s, AX__IDLE_BUSY)) continue;
            c->wake_reason = (uint8_t)reason;
            atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed); /* the task's */
            if (ax_spawn_on(c->srv->rt, NULL, ax__conn_task, c) != 0) {
                /* The runtime is stopping: end the connection here. */
                ax_future_drop(&c->idle.base);
                ax__conn_end(c);
                ax__conn_unref(c);
            }
            return;
        }
        if (!(s & AX__IDLE_ARMING)) return;
        uint32_t bit = reason == AX__WAKE_READ ? AX__IDLE_WOKE_READ : AX__IDLE_WOKE_TIMER;
        if (atomic_compare_exchange_weak(&c->armed, &s, s | bit)) return;
    }
}

static void *ax__w_clone(void *d) {
    atomic_fetch_add_explicit(&((ax__http_conn *)d)->refs, 1, memory_order_relaxed);
    return d;
}
static void ax__w_drop(void *d) {
    ax__conn_unref(d);
}
static void ax__w_read_by_ref(void *d) {
    ax__conn_claim(d, AX__WAKE_READ);
}
static void ax__w_read(void *d) {
    ax__conn_claim(d, AX__WAKE_READ);
    ax__conn_unref(d);
}
static void ax__w_timer_by_ref(void *d) {
    ax__conn_claim(d, AX__WAKE_TIMER);
}
static void ax__w_timer(void *d) {
    ax__conn_claim(d, AX__WAKE_TIMER);
    ax__conn_unref(d);
}
static const ax_waker_vtable ax__read_waker = {ax__w_clone, ax__w_read, ax__w_read_by_ref,
                                               ax__w_drop};
static const ax_waker_vtable ax__timer_waker = {ax__w_clone, ax__w_timer, ax__w_timer_by_ref,
                                                ax__w_drop};

bool ax__http_conn_claim_idle(ax__http_conn *c) {
    uint32_t armed = AX__IDLE_ARMED;
    if (!atomic_compare_exchange_strong(&c->armed, &armed, AX__IDLE_BUSY)) return false;
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return true;
}

void ax__http_conn_reap(ax__http_conn *c) {
    ax_future_drop(&c->idle.base);
    if (c->stream->vtable->forget) c->stream->vtable->forget(c->stream, AX_STREAM_READ);
    ax__conn_end(c);
    ax__conn_unref(c);
}

/* Gives back the buffers of a busy period. */
static void ax__io_release(ax__http_io *io) {
    ax_buf_unref(io->rbuf);
    io->rbuf = NULL;
    io->rs = io->re = 0;
    ax_buf_unref(io->obuf);
    io->obuf = NULL;
    io->olen = 0;
}

/* Arms the idle wakers. Returns 1 when the connection is now idle (the
 * caller must not touch it again), 0 when bytes are readable and the
 * caller keeps it, -1 when the timeout passed (the caller keeps it, to
 * end it). While arming, `armed` is ARMING: a waker that fires then only
 * sets its bit, so no task can start on the connection (and close its
 * stream) under the arming thread. */
static int ax__conn_go_idle(ax__http_conn *c, unsigned timeout_ms) {
    ax_http_server *srv = c->srv;
    ax_runtime *rt = srv->rt;
    c->idle_deadline = ax_deadline_in_ms(timeout_ms);
again:
    atomic_store(&c->armed, AX__IDLE_ARMING);
    ax_sleep_future_init(&c->idle, c->idle_deadline);
    ax_waker tw = {&ax__timer_waker, c};
    ax_context tcx = {&tw, rt};
    if (ax_future_poll(&c->idle.base, &tcx) == AX_READY) {
        atomic_store(&c->armed, AX__IDLE_BUSY); /* already expired: nothing armed */
        return -1;
    }
    ax_waker rw = {&ax__read_waker, c};
    ax_context rcx = {&rw, rt};
    int res = 0;
    if (ax_stream_poll_read_ready(c->stream, &rcx, &res) == AX_READY) {
        atomic_store(&c->armed, AX__IDLE_BUSY);
        ax_future_drop(&c->idle.base);
        return 0;
    }
    uint32_t s = AX__IDLE_ARMING;
    if (atomic_compare_exchange_strong(&c->armed, &s, AX__IDLE_ARMED)) return 1;
    /* A waker fired while arming: the connection is still ours. */
    atomic_store(&c->armed, AX__IDLE_BUSY);
    ax_future_drop(&c->idle.base);
    if (c->stream->vtable->forget) c->stream->vtable->forget(c->stream, AX_STREAM_READ);
    if (s & AX__IDLE_WOKE_READ) return 0;
    if (ax_now() < c->idle_deadline) goto again; /* a stale timer wake of an earlier wait */
    return -1;
}

/* After the handler: clears the watchdog's mark and says whether the
 * watchdog aborted the handler. */
static bool ax__handler_done(ax__http_conn *c) {
    uint32_t v = atomic_load_explicit(&c->handler_since, memory_order_acquire);
    for (;;) {
        if (v == AX__HANDLER_ABORTING) { /* the watchdog is inside ax_abort: a moment */
            v = atomic_load_explicit(&c->handler_since, memory_order_acquire);
            continue;
        }
        if (atomic_compare_exchange_weak(&c->handler_since, &v, 0)) return v == AX__HANDLER_ABORTED;
    }
}

/* Ends after an error response: flush, send FIN, and read (discarding)
 * for a moment so the peer sees the response rather than a reset. */
static void ax__conn_linger(ax__http_io *io) {
    ax__http_out_flush(io);
    if (io->broken) return;
    ax_instant dl = ax_deadline_in_ms(250);
    if (ax_stream_shutdown(io->stream, dl) != 0) return;
    char sink[512];
    for (int i = 0; i < 128; i++)
        if (ax_stream_read(io->stream, sink, sizeof sink, dl) <= 0) break;
}

static void ax__io_inflight_end(ax__http_io *io) {
    if (!io->inflight) return;
    atomic_fetch_sub_explicit(&io->srv->inflight, 1, memory_order_relaxed);
    io->inflight = false;
}

/* Serves requests until the connection goes idle (returns 1) or must end
 * (returns 0). */
static int ax__conn_serve(ax__http_io *io) {
    ax_http_server *srv = io->srv;
    ax__http_conn *c = io->conn;
    bool want_read = true;
    /* The first head must arrive within the header timeout of the accept,
     * however slowly its first byte came. */
    ax_instant head_deadline = c->fresh ? c->idle_deadline : AX_NO_DEADLINE;
    ax_http_req req;
    for (;;) {
        if (io->rs < io->re) {
            const char *base = (const char *)ax_buf_data(io->rbuf);
            ssize_t n = ax_http_parse_request(base + io->rs, io->re - io->rs, &req.head,
                                              req.headers, AX__HTTP_MAX_HEADERS, &srv->opts.limits);
            if (n < 0) {
                ax__http_send_error(io, req.head.status);
                ax__conn_linger(io);
                return 0;
            }
            if (n > 0) {
                head_deadline = AX_NO_DEADLINE;
                if (c->fresh) c->fresh = false;
                req.io = io;
                req.head_end = io->rs + (size_t)n;
                io->rs = req.head_end;
                ax__http_body_init(&req);
                ax_http_res res;
                res.io = io;
                res.req = &req;
                res.head_sent = res.streaming = res.ended = false;
                res.is_head = req.head.method_id == AX_HTTP_HEAD;
                res.status = 0;
                res.bytes = 0;
                res.nhooks = 0;
                res.hlen = 0;
                req.nlocals = 0;
                req.id[0] = 0;
                res.tlen = 0;
                if (!req.head.keep_alive ||
                    atomic_load_explicit(&srv->draining, memory_order_relaxed))
                    io->closing = true;
                bool watch = srv->opts.handler_timeout_ms != 0;
                if (watch) {
                    c->task = ax_task_self();
                    atomic_store_explicit(&c->handler_since,
                                          atomic_load_explicit(&srv->now_sec, memory_order_relaxed),
                                          memory_order_release);
                }
                int err;
                if (c->shed) {
                    err = ax__http_shed_answer(&res);
                } else if (srv->track_inflight) {
                    /* Counted once per busy period, not per request: the
                     * pipelined requests of one read share it (two atomic
                     * adds per burst instead of per request). */
                    size_t busy;
                    if (!io->inflight) {
                        busy = atomic_fetch_add_explicit(&srv->inflight, 1, memory_order_relaxed);
                        io->inflight = true;
                    } else {
                        busy = atomic_load_explicit(&srv->inflight, memory_order_relaxed) - 1;
                    }
                    if (srv->shed.max_inflight && busy >= srv->shed.max_inflight)
                        err = ax__http_shed_answer(&res);
                    else
                        err = srv->handler(&req, &res, srv->user);
                } else {
                    err = srv->handler(&req, &res, srv->user);
                }
                bool timed_out = watch && ax__handler_done(c);
                if (timed_out || ax_is_cancelled()) {
                    /* The handler's task was aborted, past the handler
                     * deadline or by a cancel: answer 503 or 500 if nothing
                     * went out yet, shielded so the answer can be written,
                     * then close (the task must end). */
                    io->closing = true;
                    ax_shield_begin();
                    if (timed_out && !res.head_sent) {
                        res.hlen = 0;
                        ax_http_res_send(&res, 503, "text/plain", "handler timed out\n", 18);
                    } else {
                        ax__http_res_finish(&res, timed_out ? AX_ETIMEDOUT
                                                  : err < 0 ? err
                                                            : AX_ECANCELED);
                    }
                    ax__http_out_flush(io);
                    ax_shield_end();
                    if (srv->metrics) ax__http_metrics_note(io, res.status, true);
                    ax__http_req_release(&req);
                    return 0;
                }
                ax__http_res_finish(&res, err);
                if (srv->metrics) ax__http_metrics_note(io, res.status, true);
                if (!io->broken && ax__http_body_drain(&req) != 0) io->closing = true;
                ax__http_req_release(&req);
                if (io->broken) return 0;
                if (io->closing) {
                    if (ax__http_out_flush(io) == 0)
                        ax_stream_shutdown(io->stream, ax_deadline_in_ms(250));
                    return 0;
                }
                continue;
            }
        }
        /* No complete head buffered: this busy period's handlers are done. */
        ax__io_inflight_end(io);
        if (io->rs == io->re && !want_read) {
            if (ax__http_out_flush(io) != 0) return 0;
            ax__io_release(io);
            if (atomic_load_explicit(&srv->draining, memory_order_relaxed)) return 0;
            int r = ax__conn_go_idle(c, srv->opts.idle_timeout_ms);
            if (r != 0) return r > 0 ? 1 : 0;
            want_read = true;
            continue;
        }
        want_read = false;
        /* Earlier answers must not wait for a slow next request. */
        if (io->olen && ax__http_out_flush(io) != 0) return 0;
        if (!io->rbuf) {
            if (ax_buf_pool_get(&io->rbuf, srv->opts.read_buffer_size) != 0) return 0;
            io->rcap = ax_buf_cap(io->rbuf);
            io->rs = io->re = 0;
        }
        if (io->re == io->rcap) {
            if (io->rs == 0) { /* the parser caps a head well below the buffer */
                ax__http_send_error(io, 431);
                ax__conn_linger(io);
                return 0;
            }
            uint8_t *b = ax_buf_data(io->rbuf);
            memmove(b, b + io->rs, io->re - io->rs);
            io->re -= io->rs;
            io->rs = 0;
        }
        if (head_deadline == AX_NO_DEADLINE)
            head_deadline = ax_deadline_in_ms(srv->opts.header_timeout_ms);
        ssize_t n = ax_stream_read(io->stream, ax_buf_data(io->rbuf) + io->re, io->rcap - io->re,
                                   head_deadline);
        if (n == AX_ETIMEDOUT && io->re > io->rs) {
            ax__http_send_error(io, 408);
            ax__conn_linger(io);
            return 0;
        }
        if (n == AX_ETIMEDOUT && c->fresh) return 0; /* no first request in time */
        if (n == AX_ETIMEDOUT && io->olen == 0 && !io->closing) {
            /* Readiness was stale and nothing came: wait idle again. */
            head_deadline = AX_NO_DEADLINE;
            continue;
        }
        if (n <= 0) return 0;
        if (srv->metrics) {
            io->m.bytes_in += (uint64_t)n;
            io->m.mark = ax_now();
        }
        io->re += (size_t)n;
    }
}

static void *ax__conn_task(void *arg) {
    ax__http_conn *c = arg;
    if (c->wake_reason) {
        /* Woken from idle: disarm whichever waker did not fire. */
        ax_future_drop(&c->idle.base);
        if (c->stream->vtable->forget) c->stream->vtable->forget(c->stream, AX_STREAM_READ);
        if (c->wake_reason == AX__WAKE_TIMER) {
            /* A timer wake that was on its way while the connection went
             * busy and idle again is stale: wait out the rest. */
            ax_instant now = ax_now();
            int r = -1;
            if (now < c->idle_deadline && !atomic_load(&c->srv->draining))
                r = ax__conn_go_idle(c, (unsigned)((c->idle_deadline - now + 999999) / 1000000));
            if (r > 0) {
                ax__conn_unref(c);
                return NULL;
            }
            if (r < 0) {
                ax__conn_end(c);
                ax__conn_unref(c);
                return NULL;
            }
        }
        c->wake_reason = 0;
    }
    ax__http_io io;
    memset(&io, 0, sizeof io);
    io.conn = c;
    io.stream = c->stream;
    io.srv = c->srv;
    int idle = ax__conn_serve(&io);
    ax__io_inflight_end(&io);
    if (io.srv->metrics) ax__http_metrics_flush(&io);
    if (idle) {
        ax__conn_unref(c); /* the wakers hold it now */
        return NULL;
    }
    ax__io_release(&io);
    ax__conn_end(c);
    ax__conn_unref(c);
    return NULL;
}

int ax__http_conn_start(ax_http_server *srv, ax_stream *s, const ax_addr *peer) {
    if (atomic_load(&srv->draining)) {
        ax_stream_close(s);
        return AX_ESHUTDOWN;
    }
    size_t n = atomic_fetch_add(&srv->nconns, 1) + 1;
    if (srv->opts.max_connections && n > srv->opts.max_connections) {
        atomic_fetch_sub(&srv->nconns, 1);
        if (srv->metrics) ax__http_metrics_add(&srv->metrics->conns_refused, 1);
        ax_stream_close(s);
        return AX_EBUSY;
    }
    ax__http_conn *c = calloc(1, sizeof *c);
    if (!c) {
        atomic_fetch_sub(&srv->nconns, 1);
        ax_stream_close(s);
        return AX_ENOMEM;
    }
    c->srv = srv;
    c->stream = s;
    if (peer) {
        c->peer = *peer;
        c->has_peer = true;
    }
    c->fresh = true;
    c->shed = srv->shed.soft_connections && n > srv->shed.soft_connections;
    if (srv->metrics) ax__http_metrics_add(&srv->metrics->conns_total, 1);
    atomic_fetch_add(&srv->refs, 1); /* dropped by ax__conn_end */
    atomic_init(&c->refs, 1);        /* the first task's */
    pthread_mutex_lock(&srv->lock);
    c->next = srv->conns;
    if (c->next) c->next->prev = c;
    srv->conns = c;
    pthread_mutex_unlock(&srv->lock);
    /* A new connection waits for its first request like an idle one (no
     * task, no buffer), but only for the header timeout. */
    int r = ax__conn_go_idle(c, srv->opts.header_timeout_ms);
    if (r > 0) {
        ax__conn_unref(c); /* the wakers hold it now */
        return 0;
    }
    int err = r < 0 ? AX_ETIMEDOUT : ax_spawn_on(srv->rt, NULL, ax__conn_task, c);
    if (err) {
        ax__conn_end(c);
        ax__conn_unref(c);
    }
    return err;
}
