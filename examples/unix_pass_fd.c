/* unix_pass_fd: hands an open descriptor to another task over a Unix
 * socket (SCM_RIGHTS), the way a supervisor gives a worker process its
 * listening socket or a log file. Here the two ends are a socket pair in
 * one process; across processes, ax_unix_listen / ax_unix_connect on a
 * path or an "@abstract" name give the same connection.
 *
 *   build/examples/unix_pass_fd
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "axon.h"

static void *receiver(void *arg) {
    ax_unix *c = arg;
    char tag[16];
    int fds[1];
    size_t nfds = 1; /* room for one descriptor */
    unsigned flags;
    ssize_t n =
        ax_unix_recv_fds(c, tag, sizeof tag - 1, fds, &nfds, &flags, ax_deadline_in_ms(1000));
    if (n <= 0 || nfds != 1) return (void *)1;
    tag[n] = '\0';
    /* fds[0] is ours now (close-on-exec): read what the sender wrote */
    char buf[64];
    ssize_t k = read(fds[0], buf, sizeof buf - 1);
    close(fds[0]);
    if (k < 0) return (void *)1;
    buf[k] = '\0';
    printf("received a descriptor tagged \"%s\"; it reads: %s\n", tag, buf);
    return NULL;
}

static void *main_task(void *arg) {
    ax_unix *a, *b;
    int err = ax_unix_pair(&a, &b);
    if (err) {
        fprintf(stderr, "pair: %s\n", ax_strerror(err));
        return (void *)1;
    }
    int p[2];
    if (pipe(p) != 0) return (void *)1;
    const char *msg = "hello through a passed pipe";
    if (write(p[1], msg, strlen(msg)) < 0) return (void *)1;
    close(p[1]);

    ax_task *t;
    ax_spawn(&t, receiver, b);
    /* the kernel sends a duplicate: our p[0] stays ours to close */
    ssize_t n = ax_unix_send_fds(a, "pipe", 4, &p[0], 1, ax_deadline_in_ms(1000));
    close(p[0]);
    void *res = (void *)1;
    ax_join(t, &res);
    ax_unix_close(a);
    ax_unix_close(b);
    return n == 4 ? res : (void *)1;
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
