/* http/server.c - the server object: options, the accept loop, the Date
 * clock, graceful shutdown. Connections are http/conn.c's. */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

void ax_http_server_opts_init(ax_http_server_opts *o) {
    memset(o, 0, sizeof *o);
    ax_http_limits_init(&o->limits);
    o->header_timeout_ms = 10000;
    o->body_timeout_ms = 30000;
    o->idle_timeout_ms = 60000;
    o->handler_timeout_ms = 30000;
    o->write_timeout_ms = 30000;
    o->max_connections = 10000;
    o->write_buffer_limit = 65536;
    o->read_buffer_size = 16384;
}

int ax_http_server_new(ax_http_server **out, const ax_http_server_opts *opts,
                       ax_http_handler handler, void *user) {
    if (!out || !handler) return AX_EINVAL;
    ax_http_server *srv = calloc(1, sizeof *srv);
    if (!srv) return AX_ENOMEM;
    ax_http_server_opts d;
    ax_http_server_opts_init(&d);
    if (opts) {
        srv->opts = *opts;
        ax_http_limits l = opts->limits;
        ax_http_limits_init(&srv->opts.limits);
        if (l.max_request_line) srv->opts.limits.max_request_line = l.max_request_line;
        if (l.max_head) srv->opts.limits.max_head = l.max_head;
        if (l.max_headers) srv->opts.limits.max_headers = l.max_headers;
        if (l.max_body) srv->opts.limits.max_body = l.max_body;
#define AX__DEF(f)                                                                                 \
    if (!srv->opts.f) srv->opts.f = d.f
        AX__DEF(header_timeout_ms);
        AX__DEF(body_timeout_ms);
        AX__DEF(idle_timeout_ms);
        AX__DEF(handler_timeout_ms);
        AX__DEF(write_timeout_ms);
        AX__DEF(write_buffer_limit);
        AX__DEF(read_buffer_size);
#undef AX__DEF
    } else {
        srv->opts = d;
    }
    /* A head must fit the read buffer with room to spare for body bytes. */
    if (srv->opts.read_buffer_size < srv->opts.limits.max_head + 1024)
        srv->opts.read_buffer_size = srv->opts.limits.max_head + 1024;
    if (srv->opts.limits.max_request_line > srv->opts.limits.max_head)
        srv->opts.limits.max_request_line = srv->opts.limits.max_head;
    if (srv->opts.write_buffer_limit < 1024) srv->opts.write_buffer_limit = 1024;
    srv->handler = handler;
    srv->user = user;
    atomic_init(&srv->refs, 1);
    atomic_init(&srv->now_sec, 1);
    pthread_mutex_init(&srv->lock, NULL);
    ax_notify_init(&srv->all_closed);
    ax__http_date_refresh(&srv->date);
    *out = srv;
    return 0;
}

static void *ax__accept_loop(void *arg) {
    ax_http_server *srv = arg;
    for (;;) {
        ax_tcp *c;
        ax_addr peer;
        int err = ax_tcp_accept(srv->listener, &c, &peer, AX_NO_DEADLINE);
        if (err == AX_ECANCELED || err == AX_EBADF) break;
        if (err == AX_EMFILE || err == AX_ENOMEM) { /* let connections drain, then retry */
            if (ax_sleep(10) == AX_ECANCELED) break;
            continue;
        }
        if (err) continue;
        ax_tcp_set_nodelay(c, true);
        ax__http_conn_start(srv, ax_tcp_stream(c), &peer);
    }
    return NULL;
}

static void *ax__clock_loop(void *arg) {
    ax_http_server *srv = arg;
    while (ax_sleep(1000) == 0) {
        ax__http_date_refresh(&srv->date);
        atomic_fetch_add_explicit(&srv->now_sec, 1, memory_order_relaxed);
        if (srv->opts.handler_timeout_ms) ax__http_watchdog(srv);
    }
    return NULL;
}

void ax__http_watchdog(ax_http_server *srv) {
    uint32_t limit = (srv->opts.handler_timeout_ms + 999) / 1000;
    uint32_t now = atomic_load_explicit(&srv->now_sec, memory_order_relaxed);
    pthread_mutex_lock(&srv->lock);
    for (ax__http_conn *c = srv->conns; c; c = c->next) {
        uint32_t since = atomic_load_explicit(&c->handler_since, memory_order_acquire);
        if (since == 0 || since >= AX__HANDLER_ABORTED || now - since <= limit) continue;
        /* The task cannot end while the value is ABORTING: it waits for
         * the value to change before it clears it. */
        if (!atomic_compare_exchange_strong(&c->handler_since, &since, AX__HANDLER_ABORTING))
            continue;
        ax_abort(c->task);
        atomic_store_explicit(&c->handler_since, AX__HANDLER_ABORTED, memory_order_release);
    }
    pthread_mutex_unlock(&srv->lock);
}

int ax_http_server_listen(ax_http_server *srv, const ax_addr *addr) {
    if (srv->listener) return AX_EBUSY;
    ax_runtime *rt = ax_current_runtime();
    if (!rt) return AX_ENOTASK;
    int err = ax_tcp_listen(addr, NULL, &srv->listener);
    if (err) return err;
    srv->rt = rt;
    if (!srv->clock && (err = ax_spawn(&srv->clock, ax__clock_loop, srv))) goto fail;
    if ((err = ax_spawn(&srv->acceptor, ax__accept_loop, srv))) goto fail;
    return 0;
fail:
    ax_tcp_listener_close(srv->listener);
    srv->listener = NULL;
    return err;
}

int ax_http_server_addr(const ax_http_server *srv, ax_addr *out) {
    if (!srv->listener) return AX_EINVAL;
    return ax_tcp_listener_addr(srv->listener, out);
}

int ax_http_server_serve_stream(ax_http_server *srv, ax_stream *s) {
    if (!srv->rt) {
        srv->rt = ax_current_runtime();
        if (!srv->rt) {
            ax_stream_close(s);
            return AX_ENOTASK;
        }
        if (!srv->clock) ax_spawn(&srv->clock, ax__clock_loop, srv);
    }
    return ax__http_conn_start(srv, s, NULL);
}

size_t ax_http_server_connections(const ax_http_server *srv) {
    return atomic_load(&((ax_http_server *)srv)->nconns);
}

/* Claims every idle connection and ends it; busy ones notice `draining`
 * after their current request. */
static void ax__reap_idle(ax_http_server *srv) {
    ax__http_conn *reap = NULL;
    pthread_mutex_lock(&srv->lock);
    for (ax__http_conn *c = srv->conns; c; c = c->next) {
        if (ax__http_conn_claim_idle(c)) {
            c->reap_next = reap;
            reap = c;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    while (reap) {
        ax__http_conn *next = reap->reap_next;
        ax__http_conn_reap(reap);
        reap = next;
    }
}

int ax_http_server_shutdown(ax_http_server *srv, unsigned grace_ms) {
    atomic_store(&srv->draining, true);
    if (srv->acceptor) {
        ax_abort(srv->acceptor);
        ax_join(srv->acceptor, NULL);
        srv->acceptor = NULL;
    }
    if (srv->listener) {
        ax_tcp_listener_close(srv->listener);
        srv->listener = NULL;
    }
    ax_instant deadline = ax_deadline_in_ms(grace_ms);
    int err = 0;
    /* A busy connection may go idle between two sweeps: sweep until none
     * are left, waking at least every 10 ms. */
    while (atomic_load(&srv->nconns) > 0) {
        ax__reap_idle(srv);
        if (atomic_load(&srv->nconns) == 0) break;
        ax_instant now = ax_now();
        if (now >= deadline) {
            err = AX_ETIMEDOUT;
            break;
        }
        ax_instant step = ax_deadline_in_ms(10);
        int r = ax_notify_wait(&srv->all_closed, step < deadline ? step : deadline);
        if (r == AX_ECANCELED) {
            err = r;
            break;
        }
    }
    if (srv->clock) {
        ax_abort(srv->clock);
        ax_join(srv->clock, NULL);
        srv->clock = NULL;
    }
    /* Wait out a connection that is still inside ax__conn_end. */
    pthread_mutex_lock(&srv->lock);
    pthread_mutex_unlock(&srv->lock);
    return err;
}

void ax_http_server_free(ax_http_server *srv) {
    if (!srv) return;
    if (srv->acceptor) {
        ax_abort(srv->acceptor);
        ax_detach(srv->acceptor);
    }
    if (srv->clock) {
        ax_abort(srv->clock);
        ax_detach(srv->clock);
    }
    if (srv->listener) ax_tcp_listener_close(srv->listener);
    srv->listener = NULL;
    ax__http_server_unref(srv);
}

void ax__http_server_unref(ax_http_server *srv) {
    if (atomic_fetch_sub(&srv->refs, 1) != 1) return;
    ax__http_services_free(srv->services);
    free(srv->metrics);
    pthread_mutex_destroy(&srv->lock);
    free(srv);
}
