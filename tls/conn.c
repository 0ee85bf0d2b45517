/* tls/conn.c - a TLS connection as a poll-shaped stream.
 *
 * Every poll takes the connection's lock, points t->cx at its context for
 * the BIO, makes one SSL call and classifies the outcome before it returns,
 * so BoringSSL's thread-local error queue never outlives the poll. The
 * lock orders a reader's and a writer's calls into the one SSL object; it
 * is never held across a suspension (polls do not suspend).
 *
 * Output. Records are queued by the BIO (bio.c) and flushed to the
 * transport by whoever polls: a write first flushes what is queued (that is
 * its backpressure), commits at most AX__TLS_CHUNK plaintext bytes with one
 * SSL_write, then tries to flush them. When the socket cannot take them
 * all, the transport keeps a waker for "writable": the parked reader's if
 * there is one (a reader flushes before reading, so a request written just
 * before waiting for its answer always goes out), else the writer's, whose
 * next write flushes first. Flush and shutdown wait until nothing is
 * queued.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "axon/tcp.h"
#include "axon/time.h"
#include "tls/tls_internal.h"

/* Plaintext per SSL_write: three full records, whose ciphertext fits the
 * 64 KiB pooled buffer. */
#define AX__TLS_CHUNK (3 * 16384)

static const ax_stream_vtable ax__tls_vtable;

/* --- creation ----------------------------------------------------------------- */

static int ax__tls_new(ax_tls_config *cfg, ax_stream *transport, const char *name, bool server,
                       ax_tls **out) {
    if (!cfg || !transport || !out || cfg->server != server) {
        if (transport) ax_stream_close(transport);
        return AX_EINVAL;
    }
    if (!server && !name && !cfg->insecure) {
        ax_stream_close(transport);
        return AX_EINVAL;
    }
    ax_tls *t = calloc(1, sizeof *t);
    if (!t) {
        ax_stream_close(transport);
        return AX_ENOMEM;
    }
    t->stream.vtable = &ax__tls_vtable;
    t->transport = transport;
    t->cfg = cfg;
    t->server = server;
    ax__tls_config_ref(cfg);
    pthread_mutex_init(&t->lock, NULL);
    int err = AX_ENOMEM;
    BIO *bio = NULL;
    if (name && !(t->server_name = strdup(name))) goto fail;
    if (!(t->ssl = SSL_new(cfg->ctx)) || !(bio = ax__tls_bio_new(t))) goto fail;
    SSL_set_bio(t->ssl, bio, bio); /* ssl owns bio from here */
    SSL_set_app_data(t->ssl, t);
    if (server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (cfg->alpn && SSL_set_alpn_protos(t->ssl, cfg->alpn, cfg->alpn_len) != 0) goto fail;
        if (name) {
            ax_ip ip;
            bool literal = ax_ip_parse(name, &ip) == 0;
            /* RFC 6066: no IP literals in SNI. */
            if (!literal && !SSL_set_tlsext_host_name(t->ssl, name)) goto fail;
            if (!cfg->insecure) {
                X509_VERIFY_PARAM *p = SSL_get0_param(t->ssl);
                X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(p, name)
                                 : X509_VERIFY_PARAM_set1_host(p, name, strlen(name));
                if (!ok) {
                    err = AX_EINVAL;
                    goto fail;
                }
            }
        }
        ax__tls_session_apply(t);
    }
    ERR_clear_error();
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    if (!t->ssl) BIO_free(bio);
    ax_tls_close(t);
    return err;
}

int ax_tls_client(ax_tls_config *cfg, ax_stream *transport, const char *server_name, ax_tls **out) {
    return ax__tls_new(cfg, transport, server_name, false, out);
}

int ax_tls_server(ax_tls_config *cfg, ax_stream *transport, ax_tls **out) {
    return ax__tls_new(cfg, transport, NULL, true, out);
}

ax_stream *ax_tls_stream(ax_tls *t) {
    return &t->stream;
}

/* --- the handshake -------------------------------------------------------------- */

/* Keeps a clone of cx's waker in *slot (a parked reader or writer). */
static void ax__park(ax_waker *slot, ax_context *cx) {
    if (slot->vtable && ax_waker_will_wake(slot, cx->waker)) return;
    ax_waker_drop(slot);
    *slot = ax_waker_clone(cx->waker);
}

/* The handshake ended (or failed) in a poll by one side: the other side,
 * if it waits, may have had its waker on the transport replaced by this
 * one's while both drove the handshake, so it is woken to look again. */
static void ax__wake_others(ax_tls *t, ax_context *cx) {
    if (t->reader.vtable && !ax_waker_will_wake(&t->reader, cx->waker))
        ax_waker_wake_by_ref(&t->reader);
    if (t->writer.vtable && !ax_waker_will_wake(&t->writer, cx->waker))
        ax_waker_wake_by_ref(&t->writer);
}

/* Under t->lock. Runs the handshake as far as it goes with cx. */
static ax_poll ax__handshake_locked(ax_tls *t, ax_context *cx, int *res) {
    for (;;) {
        if (t->fatal) {
            *res = t->fatal;
            return AX_READY;
        }
        int err;
        if (ax__tls_flush_out(t, cx, &err) == AX_PENDING) return AX_PENDING;
        if (err) {
            t->fatal = err;
            continue;
        }
        if (t->hs_done) {
            *res = 0;
            return AX_READY;
        }
        t->cx = cx;
        t->read_pending = false;
        ERR_clear_error();
        int r = SSL_do_handshake(t->ssl);
        if (r == 1) {
            t->hs_done = true;
            ERR_clear_error();
            ax__wake_others(t, cx);
            continue; /* flush the last flight */
        }
        if (ax__tls_classify(t, r, cx, &err) == AX_READY) {
            /* Send what BoringSSL queued (its alert) before giving up, if
             * the socket takes it now. */
            int ignored;
            if (t->out) ax__tls_flush_out(t, cx, &ignored);
            t->fatal = err ? err : AX_ETLSTRUNC;
            ax__wake_others(t, cx);
            continue;
        }
        /* Waiting to read: the flight it wrote must go out first. */
        if (ax__tls_flush_out(t, cx, &err) == AX_PENDING) return AX_PENDING;
        if (err) {
            t->fatal = err;
            continue;
        }
        return AX_PENDING;
    }
}

ax_poll ax_tls_poll_handshake(ax_tls *t, ax_context *cx, int *res) {
    pthread_mutex_lock(&t->lock);
    ax_poll p = ax__handshake_locked(t, cx, res);
    pthread_mutex_unlock(&t->lock);
    return p;
}

typedef struct ax__hs_future {
    ax_future base;
    ax_tls *tls; /* NULL once finished */
} ax__hs_future;

static ax_poll ax__hs_poll(ax_future *f, ax_context *cx) {
    ax__hs_future *h = (ax__hs_future *)f;
    if (!h->tls) return AX_READY;
    int res;
    if (ax_tls_poll_handshake(h->tls, cx, &res) == AX_PENDING) return AX_PENDING;
    h->base.result = res;
    h->tls = NULL;
    return AX_READY;
}

static void ax__hs_drop(ax_future *f) {
    ax__hs_future *h = (ax__hs_future *)f;
    if (!h->tls) return;
    ax_stream *tr = h->tls->transport;
    if (tr->vtable->forget) {
        tr->vtable->forget(tr, AX_STREAM_READ);
        tr->vtable->forget(tr, AX_STREAM_WRITE);
    }
    h->tls = NULL;
}

static const ax_future_vtable ax__hs_vtable = {ax__hs_poll, ax__hs_drop};

int ax_tls_handshake(ax_tls *t, ax_instant deadline) {
    ax__hs_future f = {{&ax__hs_vtable, 0}, t};
    int r = (int)ax_await_until(&f.base, deadline);
    if (r == AX_ETIMEDOUT || r == AX_ECANCELED) {
        pthread_mutex_lock(&t->lock);
        if (!t->hs_done && !t->fatal) t->fatal = r;
        pthread_mutex_unlock(&t->lock);
    }
    return r;
}

int ax_tls_connect(ax_tls_config *cfg, const char *host, uint16_t port, ax_instant deadline,
                   ax_tls **out) {
    if (!out) return AX_EINVAL;
    *out = NULL;
    if (!cfg || !host) return AX_EINVAL;
    ax_tcp *c;
    int err = ax_tcp_connect_host(host, port, deadline, &c);
    if (err) return err;
    ax_tcp_set_nodelay(c, true);
    ax_tls *t;
    if ((err = ax_tls_client(cfg, ax_tcp_stream(c), host, &t))) return err;
    *out = t;
    return ax_tls_handshake(t, deadline);
}

/* --- the stream ------------------------------------------------------------------ */

/* Under the lock: the handshake, then the reader's share of flushing (only
 * when no writer waits on it: the transport keeps one waker per side). */
static ax_poll ax__reader_prelude(ax_tls *t, ax_context *cx, int *res) {
    if (!t->hs_done || t->fatal) {
        if (ax__handshake_locked(t, cx, res) == AX_PENDING) return AX_PENDING;
        if (*res) return AX_READY;
    }
    *res = 0;
    if (t->out && !t->writer.vtable) {
        int err;
        if (ax__tls_flush_out(t, cx, &err) == AX_READY && err) {
            t->fatal = err;
            *res = err;
        }
    }
    return AX_READY;
}

static ax_poll ax__tls_poll_read(ax_stream *s, ax_context *cx, void *buf, size_t len,
                                 ssize_t *res) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    int err;
    ax_poll p = ax__reader_prelude(t, cx, &err);
    if (p == AX_PENDING) goto pending;
    if (err) {
        *res = err;
        goto out;
    }
    if (len == 0) {
        *res = 0;
        goto out;
    }
    if (len > INT32_MAX) len = INT32_MAX;
    t->cx = cx;
    t->read_pending = false;
    t->io_err = 0;
    ERR_clear_error();
    int n = SSL_read(t->ssl, buf, (int)len);
    if (n > 0) {
        *res = n;
        goto out;
    }
    if (ax__tls_classify(t, n, cx, &err) == AX_PENDING) goto pending;
    if (err) t->fatal = err;
    *res = err; /* 0: close_notify */
out:
    ax_waker_drop(&t->reader);
    pthread_mutex_unlock(&t->lock);
    return AX_READY;
pending:
    ax__park(&t->reader, cx);
    pthread_mutex_unlock(&t->lock);
    return AX_PENDING;
}

static ax_poll ax__tls_poll_read_ready(ax_stream *s, ax_context *cx, int *res) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    ax_poll p = ax__reader_prelude(t, cx, res);
    if (p == AX_READY && !*res && !SSL_has_pending(t->ssl) && !t->eof)
        p = ax_stream_poll_read_ready(t->transport, cx, res);
    if (p == AX_PENDING)
        ax__park(&t->reader, cx);
    else
        ax_waker_drop(&t->reader);
    pthread_mutex_unlock(&t->lock);
    return p;
}

/* Under the lock: the handshake, then everything queued must go out. */
static ax_poll ax__writer_prelude(ax_tls *t, ax_context *cx, int *res) {
    if (!t->hs_done || t->fatal) {
        if (ax__handshake_locked(t, cx, res) == AX_PENDING) goto pending;
        if (*res) goto ready;
    }
    if (ax__tls_flush_out(t, cx, res) == AX_PENDING) goto pending;
    if (*res) t->fatal = *res;
ready:
    ax_waker_drop(&t->writer);
    return AX_READY;
pending:
    ax__park(&t->writer, cx);
    return AX_PENDING;
}

static ax_poll ax__tls_poll_write(ax_stream *s, ax_context *cx, const void *buf, size_t len,
                                  ssize_t *res) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    int err;
    if (ax__writer_prelude(t, cx, &err) == AX_PENDING) {
        pthread_mutex_unlock(&t->lock);
        return AX_PENDING;
    }
    if (err || len == 0 || t->shut_sent) {
        *res = err ? err : len ? AX_EPIPE : 0;
        pthread_mutex_unlock(&t->lock);
        return AX_READY;
    }
    if (len > AX__TLS_CHUNK) len = AX__TLS_CHUNK;
    t->cx = cx;
    t->io_err = 0;
    ERR_clear_error();
    t->write_through = true;
    int n = SSL_write(t->ssl, buf, (int)len);
    t->write_through = false;
    if (n <= 0) {
        if (ax__tls_classify(t, n, cx, &err) == AX_PENDING) err = AX_EIO; /* the BIO never waits */
        t->fatal = err ? err : AX_EIO;
        *res = t->fatal;
    } else {
        *res = n;
        /* Send now if the socket takes it; else leave a waker that will
         * get it sent (see the top of the file). */
        ax_context rcx = {&t->reader, cx->runtime};
        if (ax__tls_flush_out(t, t->reader.vtable ? &rcx : cx, &err) == AX_READY && err)
            t->fatal = err;
    }
    pthread_mutex_unlock(&t->lock);
    return AX_READY;
}

static ax_poll ax__tls_poll_flush(ax_stream *s, ax_context *cx, int *res) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    ax_poll p = AX_READY;
    if (t->hs_done || t->out)
        p = ax__writer_prelude(t, cx, res);
    else
        *res = t->fatal;
    pthread_mutex_unlock(&t->lock);
    return p;
}

static ax_poll ax__tls_poll_shutdown(ax_stream *s, ax_context *cx, int *res) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    if (t->hs_done && !t->shut_sent && !t->fatal) {
        t->cx = cx;
        ERR_clear_error();
        SSL_shutdown(t->ssl); /* queues close_notify; the answer is not awaited */
        ERR_clear_error();
        t->shut_sent = true;
    }
    int err = 0;
    if (ax__tls_flush_out(t, cx, &err) == AX_PENDING) {
        ax__park(&t->writer, cx);
        pthread_mutex_unlock(&t->lock);
        return AX_PENDING;
    }
    ax_waker_drop(&t->writer);
    pthread_mutex_unlock(&t->lock);
    if (err) {
        *res = err;
        return AX_READY;
    }
    return ax_stream_poll_shutdown(t->transport, cx, res);
}

static void ax__tls_forget(ax_stream *s, int dir) {
    ax_tls *t = (ax_tls *)s;
    pthread_mutex_lock(&t->lock);
    if (dir == AX_STREAM_READ)
        ax_waker_drop(&t->reader);
    else
        ax_waker_drop(&t->writer);
    ax_stream *tr = t->transport;
    if (tr->vtable->forget) tr->vtable->forget(tr, dir);
    /* A reader's waker may also sit on the transport's write side (it was
     * flushing), and the handshake uses both. */
    if (tr->vtable->forget && dir == AX_STREAM_READ && !t->writer.vtable)
        tr->vtable->forget(tr, AX_STREAM_WRITE);
    pthread_mutex_unlock(&t->lock);
}

/* A waker that does nothing: close's last flush waits for no one. */
static void *ax__noop_clone(void *d) {
    return d;
}
static void ax__noop(void *d) {
    (void)d;
}
static const ax_waker_vtable ax__noop_waker_vt = {ax__noop_clone, ax__noop, ax__noop, ax__noop};

void ax_tls_close(ax_tls *t) {
    if (!t) return;
    if (t->ssl && t->hs_done && !t->shut_sent && !t->fatal) {
        ax_waker w = {&ax__noop_waker_vt, NULL};
        ax_context cx = {&w, NULL};
        int err;
        t->cx = NULL; /* SSL_shutdown only writes; the BIO reads nothing now */
        if (ax__tls_flush_out(t, &cx, &err) == AX_READY && !err) {
            ERR_clear_error();
            SSL_shutdown(t->ssl);
            ax__tls_flush_out(t, &cx, &err);
        }
        ERR_clear_error();
        ax_stream *tr = t->transport;
        if (tr->vtable->forget) tr->vtable->forget(tr, AX_STREAM_WRITE);
    }
    if (t->ssl) SSL_free(t->ssl);
    ERR_clear_error();
    if (t->out) ax_buf_unref(t->out);
    ax_waker_drop(&t->reader);
    ax_waker_drop(&t->writer);
    ax_stream_close(t->transport);
    ax_tls_config_free(t->cfg);
    free(t->server_name);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static void ax__tls_stream_close(ax_stream *s) {
    ax_tls_close((ax_tls *)s);
}

static const ax_stream_vtable ax__tls_vtable = {
    .poll_read = ax__tls_poll_read,
    .poll_write = ax__tls_poll_write,
    .poll_flush = ax__tls_poll_flush,
    .poll_shutdown = ax__tls_poll_shutdown,
    .poll_read_ready = ax__tls_poll_read_ready,
    .forget = ax__tls_forget,
    .close = ax__tls_stream_close,
};
