/* udp_echo: a UDP echo server and a client on 127.0.0.1 in one program.
 * The server answers each datagram to whoever sent it; the client sends a
 * few and waits for each echo with a deadline.
 *
 *   build/examples/udp_echo
 */
#include <stdio.h>
#include <string.h>

#include "axon.h"

static void *server(void *arg) {
    ax_udp *srv = arg;
    char buf[1500];
    for (;;) {
        ax_addr from;
        unsigned flags;
        ssize_t n = ax_udp_recv_from(srv, buf, sizeof buf, &from, &flags, AX_NO_DEADLINE);
        if (n < 0) return NULL;                 /* AX_ECANCELED when main aborts us */
        if (flags & AX_UDP_TRUNCATED) continue; /* too big for our buffer: drop it */
        ax_udp_send_to(srv, buf, (size_t)n, &from, ax_deadline_in_ms(1000));
    }
}

static void *main_task(void *arg) {
    ax_addr local = ax_addr_loopback(AX_INET, 0); /* port 0: any free port */
    ax_udp *srv, *cli;
    int err = ax_udp_bind(&local, NULL, &srv);
    if (!err) err = ax_udp_bind(&local, NULL, &cli);
    if (err) {
        fprintf(stderr, "bind: %s\n", ax_strerror(err));
        return (void *)1;
    }
    ax_addr srv_addr;
    ax_udp_local_addr(srv, &srv_addr);
    ax_udp_connect(cli, &srv_addr); /* the client talks to the server only */
    ax_task *t;
    ax_spawn(&t, server, srv);

    const char *words[] = {"one", "two", "three"};
    int echoed = 0;
    for (int i = 0; i < 3; i++) {
        char buf[64];
        ax_udp_send(cli, words[i], strlen(words[i]), ax_deadline_in_ms(1000));
        ssize_t n = ax_udp_recv(cli, buf, sizeof buf - 1, NULL, ax_deadline_in_ms(1000));
        if (n < 0) {
            printf("no echo: %s\n", ax_strerror((int)n));
            continue;
        }
        buf[n] = '\0';
        printf("echo: %s\n", buf);
        echoed++;
    }
    printf("%d of 3 echoed\n", echoed);
    ax_abort(t);
    ax_join(t, NULL);
    ax_udp_close(cli);
    ax_udp_close(srv);
    return echoed == 3 ? NULL : (void *)1;
}

int main(void) {
    ax_runtime *rt;
    int err = ax_runtime_new(&rt, NULL);
    if (err) {
        fprintf(stderr, "ax_runtime_new: %s\n", ax_strerror(err));
        return 1;
    }
    void *res = NULL;
    err = ax_run(rt, main_task, NULL, &res);
    ax_runtime_free(rt);
    return err || res ? 1 : 0;
}
