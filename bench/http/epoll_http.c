/* epoll_http: the hand-written baseline for the HTTP benchmark. One
 * thread, edge-triggered epoll, no parser beyond counting the blank lines
 * that end each request head, the same response bytes as Axon's demo sends
 * for GET / (the Date text is fixed). Pipelined requests are answered with
 * one write per read.
 *
 *   epoll_http PORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char RESP[] = "HTTP/1.1 200 OK\r\nServer: axon\r\nDate: Sun, 22 Nov 2026 04:36:40 "
                           "GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, "
                           "World!";

struct conn {
    int fd;
    int match; /* how much of "\r\n\r\n" the previous read ended with */
};

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1024)) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    static char in[65536], out[65536 / 16 * sizeof RESP + sizeof RESP];
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event e = {.events = EPOLLIN | EPOLLET, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
                }
                continue;
            }
            for (;;) {
                ssize_t r = read(c->fd, in, sizeof in);
                if (r <= 0) {
                    if (r < 0 && errno == EAGAIN) break;
                    close(c->fd);
                    free(c);
                    break;
                }
                size_t reqs = 0;
                static const char end[] = "\r\n\r\n";
                for (ssize_t k = 0; k < r; k++) {
                    if (in[k] == end[c->match])
                        c->match++;
                    else
                        c->match = in[k] == '\r' ? 1 : 0;
                    if (c->match == 4) {
                        reqs++;
                        c->match = 0;
                    }
                }
                size_t len = 0;
                for (size_t k = 0; k < reqs; k++) {
                    if (len + sizeof RESP > sizeof out) {
                        if (write(c->fd, out, len) < 0) break;
                        len = 0;
                    }
                    memcpy(out + len, RESP, sizeof RESP - 1);
                    len += sizeof RESP - 1;
                }
                if (len && write(c->fd, out, len) < 0) break;
                if ((size_t)r < sizeof in) break;
            }
        }
    }
}
