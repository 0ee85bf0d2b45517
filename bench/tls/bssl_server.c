/* bssl_server: the minimal single-purpose TLS server of the TLS benchmark
 * (bench/tls/README.md), the floor Axon's TLS server is measured against.
 *
 *   bssl_server --port P --cert CHAIN.pem --key KEY.pem
 *
 * One thread, one edge-triggered epoll loop over non-blocking sockets (so
 * many connections are in flight at once, as with Axon's one worker):
 * accept, TLS handshake (BoringSSL's defaults, as Axon's server has them:
 * TLS 1.2 and 1.3, stateless session tickets under a key BoringSSL makes),
 * then echo every byte back until the peer closes. Nothing else: no
 * timeouts, no logging but start-up errors. Built against the same
 * BoringSSL as the Axon build it is compared with (shared or static).
 * Listens on 127.0.0.1:P, prints "listening on 127.0.0.1:P", runs until
 * killed.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef OPENSSL_IS_BORINGSSL
#error "bssl_server is built against BoringSSL"
#endif

struct conn {
    int fd;
    int handshaken;
    int pend; /* bytes in buf still to write back */
    SSL *ssl;
    unsigned char buf[16384]; /* one TLS record's worth of plaintext */
};

static void drop(struct conn *c) {
    ERR_clear_error();
    SSL_free(c->ssl);
    close(c->fd); /* also leaves the epoll set */
    free(c);
}

/* Moves the connection on until BoringSSL wants the socket again. */
static void drive(struct conn *c) {
    int n;
    if (!c->handshaken) {
        n = SSL_do_handshake(c->ssl);
        if (n != 1) goto blocked;
        c->handshaken = 1;
    }
    for (;;) {
        if (c->pend) {
            n = SSL_write(c->ssl, c->buf, c->pend);
            if (n <= 0) goto blocked;
            c->pend = 0;
        }
        n = SSL_read(c->ssl, c->buf, sizeof c->buf);
        if (n <= 0) goto blocked;
        c->pend = n;
    }
blocked:
    n = SSL_get_error(c->ssl, n);
    if (n != SSL_ERROR_WANT_READ && n != SSL_ERROR_WANT_WRITE) drop(c);
}

int main(int argc, char **argv) {
    const char *cert = NULL, *key = NULL;
    long port = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--cert") == 0)
            cert = argv[i + 1];
        else if (strcmp(argv[i], "--key") == 0)
            key = argv[i + 1];
        else
            port = -2;
    }
    if (port < 0 || port > 65535 || !cert || !key || argc % 2 == 0) {
        fprintf(stderr, "usage: %s --port P --cert CHAIN.pem --key KEY.pem\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_method());
    if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "bssl_server: %s / %s: cannot load\n", cert, key);
        return 1;
    }
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096)) {
        perror("bssl_server: listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}; /* NULL: the listener */
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev)) {
        perror("bssl_server: epoll");
        return 1;
    }
    printf("listening on 127.0.0.1:%ld\n", port);
    fflush(stdout);
    struct epoll_event evs[256];
    for (;;) {
        int k = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < k; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c) {
                drive(c);
                continue;
            }
            int fd;
            while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = calloc(1, sizeof *c);
                if (!c || !(c->ssl = SSL_new(ctx))) {
                    free(c);
                    close(fd);
                    continue;
                }
                c->fd = fd;
                SSL_set_fd(c->ssl, fd);
                SSL_set_accept_state(c->ssl);
                struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                          .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev)) {
                    drop(c);
                    continue;
                }
                drive(c);
            }
        }
    }
}
