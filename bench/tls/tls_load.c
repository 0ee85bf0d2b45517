/* tls_load: the load client of the TLS benchmark (bench/tls/README.md).
 *
 *   tls_load --port P --mode full|resume|bulk [--group x25519|p256]
 *            [--n N] [--threads T] [--mib M] [--http]
 *
 * full    N connections, each a full TLS 1.3 handshake, then one exchange:
 *         one byte echoed back (with --http: GET /hs, a 1-byte body), so
 *         the server's session tickets are read, then the connection is
 *         closed (SO_LINGER 0: no TIME_WAIT piles up on the client side).
 * resume  the same, each connection resuming with the ticket the previous
 *         connection of the thread got (TLS 1.3 PSK with (EC)DHE); a
 *         connection that does not resume is counted in "full_fallbacks".
 * bulk    one connection sends M MiB in 64 KiB writes and reads them back,
 *         reading and writing at once (non-blocking) so the echo streams;
 *         with --http, M POST /echo requests of 1 MiB each on one
 *         keep-alive connection, the body echoed back (nginx's echo module).
 * T threads (default 4) share the N connections, so the server always has
 * the next connection waiting. The only key share offered is --group
 * (x25519 default, or p256); certificates are not verified (the server's
 * signature is still made and sent: it is the server's cost being
 * measured). Prints "metric value" lines: handshakes, seconds, hs_per_s,
 * full_fallbacks, or mib, seconds, mib_per_s; then the negotiated version,
 * cipher and group as "tls[...] 1" lines. Exit status 1 on any failure.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "tls_load is built against BoringSSL"
#endif

#define CHUNK     65536
#define HTTP_BODY (1u << 20)

static int port;
static int http;
static long n_total;
static int mib = 256;
static SSL_CTX *ctx;
static atomic_long next_conn;
static atomic_long fallbacks;
static atomic_int failed;
static char info_version[32], info_cipher[64], info_group[32];
static pthread_mutex_t info_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void abort_close(int fd) {
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static void note_info(SSL *ssl) {
    pthread_mutex_lock(&info_lock);
    if (!info_version[0]) {
        snprintf(info_version, sizeof info_version, "%s", SSL_get_version(ssl));
        snprintf(info_cipher, sizeof info_cipher, "%s",
                 SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
        const char *g = SSL_get_curve_name(SSL_get_curve_id(ssl));
        snprintf(info_group, sizeof info_group, "%s", g ? g : "-");
    }
    pthread_mutex_unlock(&info_lock);
}

/* The session slot of the thread that owns the SSL (its app data). */
static int on_new_session(SSL *ssl, SSL_SESSION *sess) {
    SSL_SESSION **slot = SSL_get_app_data(ssl);
    if (!slot) return 0;
    if (*slot) SSL_SESSION_free(*slot);
    *slot = sess;
    return 1; /* we own it now */
}

/* One short exchange after the handshake; reads the server's tickets too. */
static int exchange(SSL *ssl) {
    char buf[512];
    if (!http) {
        if (SSL_write(ssl, "x", 1) != 1) return -1;
        return SSL_read(ssl, buf, 1) == 1 ? 0 : -1;
    }
    static const char req[] = "GET /hs HTTP/1.1\r\nHost: bench\r\n\r\n";
    if (SSL_write(ssl, req, (int)sizeof req - 1) != (int)sizeof req - 1) return -1;
    size_t got = 0;
    for (;;) { /* the reply ends with the 1-byte body "x" after the headers */
        int n = SSL_read(ssl, buf + got, (int)(sizeof buf - 1 - got));
        if (n <= 0) return -1;
        got += (size_t)n;
        buf[got] = 0;
        char *end = strstr(buf, "\r\n\r\n");
        if (end && buf + got >= end + 5) return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
        if (got == sizeof buf - 1) return -1;
    }
}

static void *handshakes(void *arg) {
    int resume = *(const int *)arg;
    SSL_SESSION *sess = NULL;
    for (;;) {
        long i = atomic_fetch_add(&next_conn, 1);
        if (i >= n_total || atomic_load(&failed)) break;
        int fd = dial();
        if (fd < 0) {
            perror("tls_load: connect");
            atomic_store(&failed, 1);
            break;
        }
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        SSL_set_app_data(ssl, &sess);
        int offered = resume && sess; /* sess changes during the handshake */
        if (offered) SSL_set_session(ssl, sess);
        if (SSL_connect(ssl) != 1 || exchange(ssl)) {
            fprintf(stderr, "tls_load: connection %ld failed\n", i);
            ERR_print_errors_fp(stderr);
            atomic_store(&failed, 1);
        } else {
            if (offered && !SSL_session_reused(ssl)) atomic_fetch_add(&fallbacks, 1);
            note_info(ssl);
        }
        SSL_set_app_data(ssl, NULL);
        SSL_free(ssl);
        abort_close(fd);
        if (!resume && sess) {
            SSL_SESSION_free(sess);
            sess = NULL;
        }
    }
    if (sess) SSL_SESSION_free(sess);
    return NULL;
}

/* Writes `total` bytes (the pattern in `out`, CHUNK bytes long, over and
 * over) and reads `want_back` bytes at once, on a non-blocking connection. */
static int stream_echo(SSL *ssl, int fd, const unsigned char *out, size_t total, size_t want_back) {
    static unsigned char in[CHUNK];
    size_t sent = 0, got = 0;
    while (got < want_back) {
        int progress = 0;
        if (sent < total) {
            size_t len = total - sent < CHUNK ? total - sent : CHUNK;
            int n = SSL_write(ssl, out + (sent % CHUNK), (int)len);
            if (n > 0) {
                sent += (size_t)n;
                progress = 1;
            } else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_WRITE &&
                       SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) {
                return -1;
            }
        }
        int n = SSL_read(ssl, in, sizeof in);
        if (n > 0) {
            got += (size_t)n;
            progress = 1;
        } else if (SSL_get_error(ssl, n) != SSL_ERROR_WANT_READ) {
            return -1;
        }
        if (!progress) {
            struct pollfd p = {fd, (short)(POLLIN | (sent < total ? POLLOUT : 0)), 0};
            if (poll(&p, 1, 10000) <= 0) return -1;
        }
    }
    return 0;
}

/* Reads one HTTP response to a POST /echo of `len` bytes: headers, then a
 * Content-Length or chunked body of `len` bytes. Blocking SSL reads. */
static int read_http_echo(SSL *ssl, int fd, size_t len) {
    static unsigned char in[CHUNK + 1];
    size_t have = 0, body = 0;
    int chunked = -1;
    char *p = NULL;
    for (;;) {
        int n = SSL_read(ssl, in + have, (int)(CHUNK - have));
        if (n <= 0) {
            if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) {
                struct pollfd pf = {fd, POLLIN, 0};
                if (poll(&pf, 1, 10000) <= 0) return -1;
                continue;
            }
            return -1;
        }
        have += (size_t)n;
        in[have] = 0;
        p = strstr((char *)in, "\r\n\r\n");
        if (p) break;
        if (have == CHUNK) return -1;
    }
    if (strncmp((char *)in, "HTTP/1.1 200", 12) != 0) return -1;
    chunked = strcasestr((char *)in, "transfer-encoding: chunked") != NULL;
    /* The bytes after the headers: what is left in `in`. */
    size_t off = (size_t)(p + 4 - (char *)in);
    if (!chunked) {
        body = have - off;
        while (body < len) {
            int n = SSL_read(ssl, in, CHUNK);
            if (n <= 0) {
                if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) {
                    struct pollfd pf = {fd, POLLIN, 0};
                    if (poll(&pf, 1, 10000) <= 0) return -1;
                    continue;
                }
                return -1;
            }
            body += (size_t)n;
        }
        return body == len ? 0 : -1;
    }
    /* Chunked: a small state machine over the byte stream. */
    enum { SIZE, SIZE_EXT, SIZE_LF, DATA, DATA_CR, DATA_LF, LAST } st = SIZE;
    size_t csize = 0, left = 0;
    unsigned char *q = in + off, *e = in + have;
    for (;;) {
        while (q < e) {
            unsigned char c = *q;
            switch (st) {
            case SIZE:
                if (c >= '0' && c <= '9')
                    csize = csize * 16 + (c - '0');
                else if (c >= 'a' && c <= 'f')
                    csize = csize * 16 + (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                    csize = csize * 16 + (c - 'A' + 10);
                else if (c == '\r')
                    st = SIZE_LF;
                else
                    st = SIZE_EXT;
                q++;
                break;
            case SIZE_EXT:
                if (c == '\r') st = SIZE_LF;
                q++;
                break;
            case SIZE_LF:
                q++;
                if (csize == 0)
                    st = LAST;
                else {
                    left = csize;
                    st = DATA;
                }
                break;
            case DATA: {
                size_t take = (size_t)(e - q) < left ? (size_t)(e - q) : left;
                q += take;
                left -= take;
                body += take;
                if (left == 0) st = DATA_CR;
                break;
            }
            case DATA_CR:
                q++;
                st = DATA_LF;
                break;
            case DATA_LF:
                q++;
                csize = 0;
                st = SIZE;
                break;
            case LAST: /* the final CRLF after the 0-size chunk */
                if (c == '\n') return body == len ? 0 : -1;
                q++;
                break;
            }
        }
        int n = SSL_read(ssl, in, CHUNK);
        if (n <= 0) {
            if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ) {
                struct pollfd pf = {fd, POLLIN, 0};
                if (poll(&pf, 1, 10000) <= 0) return -1;
                continue;
            }
            return -1;
        }
        q = in;
        e = in + n;
    }
}

/* Writes all of buf on the non-blocking connection. */
static int write_all(SSL *ssl, int fd, const void *buf, size_t len) {
    size_t sent = 0;
    while (sent < len) {
        int n = SSL_write(ssl, (const char *)buf + sent, (int)(len - sent));
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        int e = SSL_get_error(ssl, n);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return -1;
        struct pollfd p = {fd, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) return -1;
    }
    return 0;
}

static int bulk(double *secs) {
    static unsigned char out[CHUNK];
    for (size_t i = 0; i < sizeof out; i++) out[i] = (unsigned char)(i * 31 + 7);
    int fd = dial();
    if (fd < 0) return -1;
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    int rc = -1;
    if (SSL_connect(ssl) != 1 || exchange(ssl)) goto out;
    note_info(ssl);
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK)) goto out;
    double t0 = now();
    if (!http) {
        size_t total = (size_t)mib << 20;
        if (stream_echo(ssl, fd, out, total, total)) goto out;
    } else {
        char hdr[128];
        int hl =
            snprintf(hdr, sizeof hdr,
                     "POST /echo HTTP/1.1\r\nHost: bench\r\nContent-Length: %u\r\n\r\n", HTTP_BODY);
        for (int r = 0; r < mib; r++) {
            if (write_all(ssl, fd, hdr, (size_t)hl)) goto out;
            for (size_t s = 0; s < HTTP_BODY; s += CHUNK)
                if (write_all(ssl, fd, out, CHUNK)) goto out;
            if (read_http_echo(ssl, fd, HTTP_BODY)) goto out;
        }
    }
    *secs = now() - t0;
    rc = 0;
out:
    if (rc) ERR_print_errors_fp(stderr);
    SSL_free(ssl);
    abort_close(fd);
    return rc;
}

int main(int argc, char **argv) {
    const char *mode = NULL, *group = "x25519";
    int threads = 4;
    n_total = 2000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--http") == 0) {
            http = 1;
            continue;
        }
        if (i + 1 >= argc) {
            mode = NULL;
            break;
        }
        const char *v = argv[++i];
        if (strcmp(argv[i - 1], "--port") == 0)
            port = atoi(v);
        else if (strcmp(argv[i - 1], "--mode") == 0)
            mode = v;
        else if (strcmp(argv[i - 1], "--group") == 0)
            group = v;
        else if (strcmp(argv[i - 1], "--n") == 0)
            n_total = atol(v);
        else if (strcmp(argv[i - 1], "--threads") == 0)
            threads = atoi(v);
        else if (strcmp(argv[i - 1], "--mib") == 0)
            mib = atoi(v);
        else {
            mode = NULL;
            break;
        }
    }
    const char *curves = group && strcmp(group, "x25519") == 0 ? "X25519"
                         : group && strcmp(group, "p256") == 0 ? "P-256"
                                                               : NULL;
    if (!mode || !curves || port <= 0 || port > 65535 || n_total <= 0 || threads <= 0 ||
        threads > 64 || mib <= 0 ||
        (strcmp(mode, "full") && strcmp(mode, "resume") && strcmp(mode, "bulk"))) {
        fprintf(stderr,
                "usage: %s --port P --mode full|resume|bulk [--group x25519|p256] [--n N] "
                "[--threads T] [--mib M] [--http]\n",
                argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ctx = SSL_CTX_new(TLS_method());
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set1_curves_list(ctx, curves)) {
        fprintf(stderr, "tls_load: cannot set up the TLS context\n");
        return 1;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);

    if (strcmp(mode, "bulk") == 0) {
        double secs = 0;
        if (bulk(&secs)) {
            fprintf(stderr, "tls_load: bulk transfer failed\n");
            return 1;
        }
        printf("mib %d\nseconds %.4f\nmib_per_s %.1f\n", mib, secs, mib / secs);
    } else {
        int resume = strcmp(mode, "resume") == 0;
        pthread_t th[64];
        double t0 = now();
        for (int i = 0; i < threads; i++)
            if (pthread_create(&th[i], NULL, handshakes, &resume)) return 1;
        for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
        double secs = now() - t0;
        if (atomic_load(&failed)) return 1;
        printf("handshakes %ld\nseconds %.4f\nhs_per_s %.1f\nfull_fallbacks %ld\n", n_total, secs,
               (double)n_total / secs, atomic_load(&fallbacks));
    }
    printf("tls[%s] 1\ntls[%s] 1\ntls[%s] 1\n", info_version, info_cipher, info_group);
    return 0;
}
