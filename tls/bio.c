/* tls/bio.c - the BIO BoringSSL reads and writes records through.
 *
 * Reads go straight to the transport's poll_read with the context of the
 * poll in progress (t->cx): when nothing is there the transport stores
 * that context's waker and the BIO reports "retry", so BoringSSL returns
 * SSL_ERROR_WANT_READ and the poll returns AX_PENDING with the waker
 * already in place. Nothing blocks, and the socket's own writes use
 * MSG_NOSIGNAL.
 *
 * Writes never report "retry": what the transport does not take at once
 * is copied into t->out, a pooled buffer, which the connection flushes to
 * the transport later. So BoringSSL never holds a half-written record that
 * would tie the next SSL_write to the same arguments, and a write that was
 * abandoned while waiting for the socket has committed nothing. t->out
 * exists only while ciphertext waits: an idle connection holds no buffer.
 *
 * Records of an application write (t->write_through, set by poll_write)
 * go straight to the transport while nothing is queued: in a bulk
 * transfer that saves copying every byte once more (about a seventh of the
 * server's user-space instructions per MiB). Handshake flights and
 * records written by a reader's SSL_read (key updates, alerts) are always
 * queued, so such a reader never leaves its waker on the transport's write
 * side in place of a parked writer's. A PENDING or failed direct write
 * queues the record; the flush that follows every SSL_write registers the
 * right waker or reports the error.
 */
#include <string.h>

#include <openssl/bio.h>

#include "tls/tls_internal.h"

/* Appends ciphertext to t->out, taking a bigger buffer when it is full. */
static int ax__bio_queue(ax_tls *t, const char *data, size_t len) {
    size_t need = t->out_len + len;
    size_t cap = t->out ? ax_buf_cap(t->out) : 0;
    if (need > cap) {
        if (t->out && t->out_off) { /* slide down first */
            memmove(ax_buf_data(t->out), ax_buf_data(t->out) + t->out_off, t->out_len - t->out_off);
            t->out_len -= t->out_off;
            t->out_off = 0;
            need = t->out_len + len;
        }
    }
    if (need > cap) {
        ax_buf *nb;
        size_t want = need < 65536 ? 65536 : need;
        int err = want <= 65536 ? ax_buf_pool_get(&nb, want) : ax_buf_new(&nb, want);
        if (err) {
            t->io_err = err;
            return -1;
        }
        if (t->out) {
            memcpy(ax_buf_data(nb), ax_buf_data(t->out) + t->out_off, t->out_len - t->out_off);
            t->out_len -= t->out_off;
            t->out_off = 0;
            ax_buf_unref(t->out);
        }
        t->out = nb;
    }
    memcpy(ax_buf_data(t->out) + t->out_len, data, len);
    t->out_len += len;
    return 0;
}

static int ax__bio_write(BIO *b, const char *data, int len) {
    ax_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    size_t done = 0;
    if (t->write_through && !t->out && t->cx) {
        ssize_t n;
        if (ax_stream_poll_write(t->transport, t->cx, data, (size_t)len, &n) == AX_READY && n > 0)
            done = (size_t)n;
        if (done == (size_t)len) return len;
    }
    return ax__bio_queue(t, data + done, (size_t)len - done) ? -1 : len;
}

static int ax__bio_read(BIO *b, char *buf, int len) {
    ax_tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    if (len <= 0) return 0;
    if (!t->cx) { /* outside a poll (closing): no waker to leave */
        BIO_set_retry_read(b);
        return -1;
    }
    ssize_t n;
    if (ax_stream_poll_read(t->transport, t->cx, buf, (size_t)len, &n) == AX_PENDING) {
        t->read_pending = true;
        BIO_set_retry_read(b);
        return -1;
    }
    if (n < 0) {
        t->io_err = (int)n;
        return -1;
    }
    if (n == 0) t->eof = true;
    return (int)n;
}

static long ax__bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static const BIO_METHOD ax__bio_method = {
    .type = BIO_TYPE_SOURCE_SINK,
    .name = "axon stream",
    .bwrite = ax__bio_write,
    .bread = ax__bio_read,
    .ctrl = ax__bio_ctrl,
};

BIO *ax__tls_bio_new(ax_tls *t) {
    BIO *b = BIO_new(&ax__bio_method);
    if (!b) return NULL;
    BIO_set_data(b, t);
    BIO_set_init(b, 1);
    return b;
}

ax_poll ax__tls_flush_out(ax_tls *t, ax_context *cx, int *res) {
    while (t->out && t->out_off < t->out_len) {
        ssize_t n;
        if (ax_stream_poll_write(t->transport, cx, ax_buf_data(t->out) + t->out_off,
                                 t->out_len - t->out_off, &n) == AX_PENDING)
            return AX_PENDING;
        if (n <= 0) {
            *res = n < 0 ? (int)n : AX_EIO;
            return AX_READY;
        }
        t->out_off += (size_t)n;
    }
    if (t->out) {
        ax_buf_unref(t->out);
        t->out = NULL;
        t->out_off = t->out_len = 0;
    }
    *res = 0;
    return AX_READY;
}
