/* Unix domain sockets: stream echo over a path and over an abstract name,
 * socket pairs, end of stream and half-close, descriptor passing (and the
 * extras closed when the receiver's array is too small), datagrams, names
 * that are too long, connect errors, unlink on listener close, peer
 * credentials, the policy, deadlines and cancellation mid-read. */
#include <criterion/criterion.h>

#include "test/os_compat.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon.h"
#include "axon/unix.h"
#include "test/executor/fixtures.h"

#define SOON(ms) ax_deadline_in_ms(ms)

static char dir[64];

static void make_dir(void) {
    strcpy(dir, "/tmp/axon-unix-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    rt_two();
}

static void remove_dir(void) {
    rt_done();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void path_in_dir(char *out, size_t cap, const char *file) {
    snprintf(out, cap, "%s/%s", dir, file);
}

static bool exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* An abstract name no other test (or test process) uses. */
static void abstract_name(char *out, size_t cap, const char *what) {
    static atomic_int seq;
    snprintf(out, cap, "@axon-test-%d-%d-%s", (int)getpid(), atomic_fetch_add(&seq, 1), what);
}

/* --- stream echo ----------------------------------------------------------- */

static void *echo_server(void *arg) {
    ax_unix_listener *l = arg;
    ax_unix *c;
    int r = ax_unix_accept(l, &c, SOON(5000));
    if (r) return (void *)(intptr_t)r;
    char buf[4096];
    for (;;) {
        ssize_t n = ax_unix_read(c, buf, sizeof buf, SOON(5000));
        if (n <= 0) {
            r = (int)n;
            break;
        }
        if ((r = ax_unix_write_all(c, buf, (size_t)n, SOON(5000)))) break;
    }
    ax_unix_close(c);
    return (void *)(intptr_t)r;
}

static char echo_out[100 * 1024];

static void *echo_writer(void *arg) {
    return (void *)(intptr_t)ax_stream_write_all(ax_unix_stream(arg), echo_out, sizeof echo_out,
                                                 SOON(5000));
}

/* Connects to name, sends 100 KiB through the echo server, reads it back. */
static void echo_through(ax_unix_listener *l, const char *name) {
    ax_task *srv;
    cr_assert_eq(ax_spawn(&srv, echo_server, l), 0);
    ax_unix *c;
    cr_assert_eq(ax_unix_connect(name, SOON(5000), &c), 0);
    ax_unix_addr peer, local;
    cr_assert_eq(ax_unix_peer_addr(c, &peer), 0);
    cr_assert_str_eq(peer.name, name);
    cr_assert_eq(ax_unix_local_addr(c, &local), 0);
    cr_assert_str_eq(local.name, "", "a connecting socket is unnamed");
    ax_unix_cred cred;
    cr_assert_eq(ax_unix_peer_cred(c, &cred), 0);
    cr_assert_eq(cred.pid, getpid());
    cr_assert_eq(cred.uid, getuid());
    cr_assert_eq(cred.gid, getgid());

    /* a second task writes: the echo would otherwise fill both buffers */
    for (size_t i = 0; i < sizeof echo_out; i++) echo_out[i] = (char)(i * 31 + 7);
    ax_task *w;
    cr_assert_eq(ax_spawn(&w, echo_writer, c), 0);
    static char in[sizeof echo_out];
    cr_assert_eq(ax_unix_read_exact(c, in, sizeof in, SOON(5000)), 0);
    void *wres;
    cr_assert_eq(ax_join(w, &wres), 0);
    cr_assert_eq((intptr_t)wres, 0);
    cr_assert_eq(memcmp(in, echo_out, sizeof in), 0);
    cr_assert_eq(ax_unix_shutdown(c, AX_SHUT_WR), 0);
    char b;
    cr_assert_eq(ax_unix_read(c, &b, 1, SOON(5000)), 0, "the server closed after our EOF");
    void *res;
    cr_assert_eq(ax_join(srv, &res), 0);
    cr_assert_eq((intptr_t)res, 0);
    ax_unix_close(c);
}

static void *echo_path_main(void *arg) {
    char path[128];
    path_in_dir(path, sizeof path, "echo.sock");
    ax_unix_listener *l;
    cr_assert_eq(ax_unix_listen(path, NULL, &l), 0);
    cr_assert(exists(path));
    ax_unix_addr la;
    cr_assert_eq(ax_unix_listener_addr(l, &la), 0);
    cr_assert_str_eq(la.name, path);
    cr_assert_eq(fcntl(ax_unix_listener_fd(l), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    echo_through(l, path);
    /* a second listener on the same path is refused, the file is kept */
    ax_unix_listener *l2;
    cr_assert_eq(ax_unix_listen(path, NULL, &l2), AX_EADDRINUSE);
    cr_assert(exists(path));
    ax_unix_listener_close(l);
    cr_assert(!exists(path), "closing the listener unlinked its socket file");
    ax_unix_listener_close(NULL);
    return NULL;
}

Test(unix, stream_echo_over_a_path, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, echo_path_main, NULL, NULL), 0);
}

static void *echo_abstract_main(void *arg) {
    char name[96];
    abstract_name(name, sizeof name, "echo");
    ax_unix_listener *l;
    cr_assert_eq(ax_unix_listen(name, NULL, &l), 0);
    ax_unix_addr la;
    cr_assert_eq(ax_unix_listener_addr(l, &la), 0);
    cr_assert_str_eq(la.name, name);
    cr_assert(!exists(name + 1), "no file for an abstract name");
    echo_through(l, name);
    ax_unix_listener_close(l);
    /* the name is gone with the socket */
    ax_unix *c;
    cr_assert_eq(ax_unix_connect(name, SOON(1000), &c), AX_ECONNREFUSED);
    return NULL;
}

Test(unix, stream_echo_over_an_abstract_name, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, echo_abstract_main, NULL, NULL), 0);
}

/* --- pairs, EOF, half-close --------------------------------------------------- */

static void *pair_main(void *arg) {
    ax_unix *a, *b;
    cr_assert_eq(ax_unix_pair(&a, &b), 0);
    char buf[32];
    cr_assert_eq(ax_unix_write_all(a, "left", 4, SOON(1000)), 0);
    cr_assert_eq(ax_unix_read_exact(b, buf, 4, SOON(1000)), 0);
    cr_assert_eq(memcmp(buf, "left", 4), 0);
    cr_assert_eq(ax_stream_write_all(ax_unix_stream(b), "right", 5, SOON(1000)), 0);
    cr_assert_eq(ax_stream_read_exact(ax_unix_stream(a), buf, 5, SOON(1000)), 0);
    cr_assert_eq(memcmp(buf, "right", 5), 0);
    ax_unix_addr n;
    cr_assert_eq(ax_unix_peer_addr(a, &n), 0);
    cr_assert_str_eq(n.name, "");
    ax_unix_cred cred;
    cr_assert_eq(ax_unix_peer_cred(b, &cred), 0);
    cr_assert_eq(cred.pid, getpid());

    /* half-close: a ends its side, b still reads the bytes before it and
     * then end of stream, and can still answer */
    cr_assert_eq(ax_unix_write_all(a, "bye", 3, SOON(1000)), 0);
    cr_assert_eq(ax_unix_shutdown(a, AX_SHUT_WR), 0);
    cr_assert_eq(ax_unix_read_exact(b, buf, 3, SOON(1000)), 0);
    cr_assert_eq(ax_unix_read(b, buf, sizeof buf, SOON(1000)), 0);
    cr_assert_eq(ax_unix_read(b, buf, sizeof buf, SOON(1000)), 0, "EOF stays EOF");
    cr_assert_eq(ax_unix_write_all(b, "ack", 3, SOON(1000)), 0);
    cr_assert_eq(ax_unix_read_exact(a, buf, 3, SOON(1000)), 0);
    cr_assert_eq(memcmp(buf, "ack", 3), 0);
    cr_assert_eq(ax_unix_write(a, "x", 1, SOON(1000)), AX_EPIPE, "a's write side is shut");
    cr_assert_eq(ax_unix_shutdown(a, 7), AX_EINVAL);

    /* read_exact that meets the end of the stream */
    cr_assert_eq(ax_unix_write_all(b, "ab", 2, SOON(1000)), 0);
    ax_unix_close(b);
    cr_assert_eq(ax_unix_read_exact(a, buf, 3, SOON(1000)), AX_EOF);
    ax_unix_close(a);
    return NULL;
}

Test(unix, socketpair_eof_and_half_close, .init = rt_one, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, pair_main, NULL, NULL), 0);
}

/* --- descriptor passing ---------------------------------------------------------- */

static bool cloexec(int fd) {
    return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
}

static void *fds_main(void *arg) {
    ax_unix *a, *b;
    cr_assert_eq(ax_unix_pair(&a, &b), 0);

    /* a pipe's read end and a file, with the data they hold */
    int p[2];
    cr_assert_eq(ax__pipe(p, 0), 0);
    cr_assert_eq(write(p[1], "through the pipe", 16), 16);
    char path[128];
    path_in_dir(path, sizeof path, "file");
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    cr_assert_geq(f, 0);
    cr_assert_eq(write(f, "in the file", 11), 11);
    int send[2] = {p[0], f};
    cr_assert_eq(ax_unix_send_fds(a, "fds", 3, send, 2, SOON(1000)), 3);
    close(p[0]); /* ours: the kernel sent duplicates */
    close(f);
    unlink(path);

    char buf[32];
    int got[4] = {-1, -1, -1, -1};
    size_t n = 4;
    unsigned flags = 99;
    cr_assert_eq(ax_unix_recv_fds(b, buf, sizeof buf, got, &n, &flags, SOON(1000)), 3);
    cr_assert_eq(memcmp(buf, "fds", 3), 0);
    cr_assert_eq(n, 2);
    cr_assert_eq(flags, 0);
    cr_assert(cloexec(got[0]) && cloexec(got[1]), "received descriptors are close-on-exec");
    cr_assert_eq(read(got[0], buf, sizeof buf), 16);
    cr_assert_eq(memcmp(buf, "through the pipe", 16), 0);
    cr_assert_eq(pread(got[1], buf, sizeof buf, 0), 11);
    cr_assert_eq(memcmp(buf, "in the file", 11), 0);
    close(got[0]);
    close(got[1]);

    /* more descriptors than the receiver's array holds: the extras are
     * closed. They are two copies of a pipe's write end; once ours is closed
     * too, the read end sees EOF only if no copy is left anywhere. */
    cr_assert_eq(ax__pipe(p, 1), 0);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int three[3] = {devnull, p[1], p[1]};
    cr_assert_eq(ax_unix_send_fds(a, "x", 1, three, 3, SOON(1000)), 1);
    close(p[1]);
    close(devnull);
    n = 1;
    cr_assert_eq(ax_unix_recv_fds(b, buf, sizeof buf, got, &n, &flags, SOON(1000)), 1);
    cr_assert_eq(n, 1);
    cr_assert_eq(flags, AX_UNIX_FDS_TRUNCATED);
    struct stat st, nul;
    cr_assert_eq(fstat(got[0], &st), 0);
    cr_assert_eq(stat("/dev/null", &nul), 0);
    cr_assert_eq(st.st_rdev, nul.st_rdev, "the first descriptor is the one kept");
    close(got[0]);
    cr_assert_eq(read(p[0], buf, sizeof buf), 0, "the extra write ends were closed");

    /* no room at all (and no flags pointer): all closed */
    cr_assert_eq(ax__pipe(p, 1), 0);
    cr_assert_eq(ax_unix_send_fds(a, "y", 1, &p[1], 1, SOON(1000)), 1);
    close(p[1]);
    cr_assert_eq(ax_unix_recv_fds(b, buf, sizeof buf, NULL, NULL, NULL, SOON(1000)), 1);
    cr_assert_eq(read(p[0], buf, sizeof buf), 0);
    close(p[0]);

    /* bytes without descriptors */
    cr_assert_eq(ax_unix_send_fds(a, "z", 1, NULL, 0, SOON(1000)), 1);
    n = 4;
    cr_assert_eq(ax_unix_recv_fds(b, buf, sizeof buf, got, &n, &flags, SOON(1000)), 1);
    cr_assert_eq(n, 0);
    cr_assert_eq(flags, 0);

    /* refused before the kernel sees them */
    int many[AX_UNIX_MAX_FDS + 1] = {0};
    cr_assert_eq(ax_unix_send_fds(a, "", 0, send, 1, SOON(1000)), AX_EINVAL);
    cr_assert_eq(ax_unix_send_fds(a, "x", 1, many, AX_UNIX_MAX_FDS + 1, SOON(1000)), AX_EINVAL);
    cr_assert_eq(ax_unix_send_fds(a, "x", 1, (int[]){-1}, 1, SOON(1000)), AX_EBADF);

    /* a descriptor-carrying message read with a plain read: the kernel
     * drops the descriptor (nothing leaks) */
    cr_assert_eq(ax__pipe(p, 1), 0);
    cr_assert_eq(ax_unix_send_fds(a, "w", 1, &p[1], 1, SOON(1000)), 1);
    close(p[1]);
    cr_assert_eq(ax_unix_read(b, buf, 1, SOON(1000)), 1);
    cr_assert_eq(read(p[0], buf, sizeof buf), 0);
    close(p[0]);
    ax_unix_close(a);
    ax_unix_close(b);
    return NULL;
}

Test(unix, descriptor_passing, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, fds_main, NULL, NULL), 0);
}

/* --- datagrams ----------------------------------------------------------------- */

static void *dgram_main(void *arg) {
    char pa[128], pb[128];
    path_in_dir(pa, sizeof pa, "a.dgram");
    path_in_dir(pb, sizeof pb, "b.dgram");
    ax_unix_dgram *a, *b, *anon;
    cr_assert_eq(ax_unix_dgram_bind(pa, &a), 0);
    cr_assert_eq(ax_unix_dgram_bind(pb, &b), 0);
    ax_unix_addr from;
    char buf[64];
    unsigned flags = 99;

    cr_assert_eq(ax_unix_dgram_send_to(a, "to b", 4, pb, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv_from(b, buf, sizeof buf, &from, &flags, SOON(1000)), 4);
    cr_assert_eq(memcmp(buf, "to b", 4), 0);
    cr_assert_str_eq(from.name, pa);
    cr_assert_eq(flags, 0);
    cr_assert_eq(ax_unix_dgram_send_to(b, "back", 4, from.name, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv(a, buf, sizeof buf, NULL, SOON(1000)), 4);

    /* an unbound sender has no name; truncation is reported */
    cr_assert_eq(ax_unix_dgram_unbound(&anon), 0);
    static char big[3000];
    cr_assert_eq(ax_unix_dgram_send_to(anon, big, sizeof big, pb, SOON(1000)), 3000);
    cr_assert_eq(ax_unix_dgram_recv_from(b, buf, 10, &from, &flags, SOON(1000)), 10);
    cr_assert_eq(flags, AX_UNIX_TRUNCATED);
    cr_assert_str_eq(from.name, "");

    /* connected: send / recv; others are kept out */
    cr_assert_eq(ax_unix_dgram_send(anon, "x", 1, SOON(1000)), AX_ENOTCONN);
    cr_assert_eq(ax_unix_dgram_connect(anon, pa), 0);
    cr_assert_eq(ax_unix_dgram_send(anon, "conn", 4, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv(a, buf, sizeof buf, &flags, SOON(1000)), 4);
    cr_assert_eq(memcmp(buf, "conn", 4), 0);

    /* to nobody */
    char none[128];
    path_in_dir(none, sizeof none, "nobody");
    cr_assert_eq(ax_unix_dgram_send_to(a, "x", 1, none, SOON(1000)), AX_ENOENT);
    cr_assert_eq(ax_unix_dgram_connect(anon, none), AX_ENOENT);

    /* abstract and autobound names */
    char an[96];
    abstract_name(an, sizeof an, "dgram");
    ax_unix_dgram *ab, *auto_;
    cr_assert_eq(ax_unix_dgram_bind(an, &ab), 0);
    cr_assert_eq(ax_unix_dgram_bind("@", &auto_), 0);
    ax_unix_addr auto_name;
    cr_assert_eq(ax_unix_dgram_local_addr(auto_, &auto_name), 0);
    cr_assert_eq(auto_name.name[0], '@');
    cr_assert_gt(strlen(auto_name.name), 1, "the kernel picked a name");
    cr_assert_eq(ax_unix_dgram_send_to(auto_, "auto", 4, an, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv_from(ab, buf, sizeof buf, &from, NULL, SOON(1000)), 4);
    cr_assert_str_eq(from.name, auto_name.name);
    cr_assert_eq(ax_unix_dgram_send_to(ab, "reply", 5, from.name, SOON(1000)), 5);
    cr_assert_eq(ax_unix_dgram_recv(auto_, buf, sizeof buf, NULL, SOON(1000)), 5);

    /* a pair */
    ax_unix_dgram *p1, *p2;
    cr_assert_eq(ax_unix_dgram_pair(&p1, &p2), 0);
    cr_assert_eq(ax_unix_dgram_send(p1, "pair", 4, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv(p2, buf, sizeof buf, NULL, SOON(1000)), 4);
    cr_assert_eq(ax_unix_dgram_recv(p2, buf, sizeof buf, NULL, SOON(20)), AX_ETIMEDOUT);

    ax_unix_dgram_close(a);
    ax_unix_dgram_close(b);
    cr_assert(!exists(pa) && !exists(pb), "closing unlinked the bound files");
    ax_unix_dgram_close(anon);
    ax_unix_dgram_close(ab);
    ax_unix_dgram_close(auto_);
    ax_unix_dgram_close(p1);
    ax_unix_dgram_close(p2);
    ax_unix_dgram_close(NULL);
    return NULL;
}

Test(unix, datagram_round_trips, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, dgram_main, NULL, NULL), 0);
}

/* A receiver whose queue is full of another socket's datagrams holds an
 * unconnected sender back, and Linux sends that sender no wake-up when the
 * queue drains (it is woken only when its own datagrams are consumed). The
 * sender must still get through once the receiver drains, and must respect
 * its deadline meanwhile. */
static atomic_int drained;

static void *drainer(void *arg) {
    ax_unix_dgram *rx = arg;
    ax_sleep(30);
    char buf[64];
    int n = 0;
    while (ax_unix_dgram_recv(rx, buf, sizeof buf, NULL, SOON(200)) >= 0) n++;
    atomic_store(&drained, n);
    return NULL;
}

static void *full_queue_main(void *arg) {
    char pr[128];
    path_in_dir(pr, sizeof pr, "rx.dgram");
    ax_unix_dgram *rx, *tx, *filler;
    cr_assert_eq(ax_unix_dgram_bind(pr, &rx), 0);
    cr_assert_eq(ax_unix_dgram_unbound(&tx), 0);
    cr_assert_eq(ax_unix_dgram_unbound(&filler), 0);
    int sent = 0;
    ssize_t r;
    while ((r = ax_unix_dgram_send_to(filler, "fill", 4, pr, SOON(20))) == 4) sent++;
    cr_assert_eq(r, AX_ETIMEDOUT, "a full queue waits until the deadline");
    cr_assert_gt(sent, 0);
    cr_assert_eq(ax_unix_dgram_send_to(tx, "wait", 4, pr, SOON(20)), AX_ETIMEDOUT);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, drainer, rx), 0);
    cr_assert_eq(ax_unix_dgram_send_to(tx, "last", 4, pr, SOON(5000)), 4);
    cr_assert_eq(ax_join(t, NULL), 0);
    cr_assert_geq(atomic_load(&drained), sent + 1);
    ax_unix_dgram_close(rx);
    ax_unix_dgram_close(tx);
    ax_unix_dgram_close(filler);
    return NULL;
}

Test(unix, datagram_sender_waits_for_a_full_receiver, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, full_queue_main, NULL, NULL), 0);
}

/* --- names and connect errors -------------------------------------------------- */

static void *names_main(void *arg) {
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    ax_unix_listener *l;
    ax_unix *c;
    ax_unix_dgram *d;
    cr_assert_eq(ax_unix_listen(longp, NULL, &l), AX_ENAMETOOLONG);
    cr_assert_eq(ax_unix_connect(longp, SOON(1000), &c), AX_ENAMETOOLONG);
    cr_assert_eq(ax_unix_dgram_bind(longp, &d), AX_ENAMETOOLONG);
    longp[108] = '\0'; /* 108 bytes: no room for the NUL */
    cr_assert_eq(ax_unix_listen(longp, NULL, &l), AX_ENAMETOOLONG);
    /* abstract: up to 107 bytes after the '@' */
    char abs[110];
    memset(abs, 'z', sizeof abs);
    abs[0] = '@';
    abs[109] = '\0'; /* 108 after the '@' */
    cr_assert_eq(ax_unix_listen(abs, NULL, &l), AX_ENAMETOOLONG);
    snprintf(abs, 12, "@%010d", (int)getpid());
    memset(abs + 11, 'z', 97);
    abs[108] = '\0'; /* 107 after the '@' */
    cr_assert_eq(ax_unix_listen(abs, NULL, &l), 0);
    ax_unix_addr la;
    cr_assert_eq(ax_unix_listener_addr(l, &la), 0);
    cr_assert_str_eq(la.name, abs);
    ax_unix_listener_close(l);

    cr_assert_eq(ax_unix_listen("", NULL, &l), AX_EINVAL);
    cr_assert_eq(ax_unix_connect("", SOON(1000), &c), AX_EINVAL);
    cr_assert_eq(ax_unix_connect("@", SOON(1000), &c), AX_EINVAL);

    /* a missing path, and a path where nothing listens */
    char p[128];
    path_in_dir(p, sizeof p, "missing.sock");
    cr_assert_eq(ax_unix_connect(p, SOON(1000), &c), AX_ENOENT);
    path_in_dir(p, sizeof p, "stale.sock");
    ax_unix_listen_opts o = {.keep_path = true};
    cr_assert_eq(ax_unix_listen(p, &o, &l), 0);
    ax_unix_listener_close(l);
    cr_assert(exists(p), "keep_path leaves the socket file");
    cr_assert_eq(ax_unix_connect(p, SOON(1000), &c), AX_ECONNREFUSED);
    cr_assert_eq(ax_unix_listen(p, NULL, &l), AX_EADDRINUSE, "a stale file is not removed");
    unlink(p);
    /* a directory that does not exist */
    path_in_dir(p, sizeof p, "no/such/dir.sock");
    cr_assert_eq(ax_unix_listen(p, NULL, &l), AX_ENOENT);
    return NULL;
}

Test(unix, names_and_connect_errors, .init = make_dir, .fini = remove_dir) {
    cr_assert_eq(ax_run(rt, names_main, NULL, NULL), 0);
}

/* A relative name is unlinked from the directory it was created in. */
static void *relative_main(void *arg) {
    ax_unix_listener *l;
    cr_assert_eq(ax_unix_listen("rel.sock", NULL, &l), 0);
    char p[128];
    path_in_dir(p, sizeof p, "rel.sock");
    cr_assert(exists(p));
    return l;
}

Test(unix, relative_path_unlinked_where_it_was_made, .init = make_dir, .fini = remove_dir) {
    char old[512];
    cr_assert_not_null(getcwd(old, sizeof old));
    cr_assert_eq(chdir(dir), 0);
    void *l = NULL;
    int r = ax_run(rt, relative_main, NULL, &l);
    cr_assert_eq(chdir(old), 0);
    cr_assert_eq(r, 0);
    ax_unix_listener_close(l);
    char p[128];
    path_in_dir(p, sizeof p, "rel.sock");
    cr_assert(!exists(p));
}

Test(unix, outside_a_task) {
    ax_unix *a, *b;
    ax_unix_listener *l;
    cr_assert_eq(ax_unix_pair(&a, &b), AX_ENOTASK);
    cr_assert_eq(ax_unix_listen("@x", NULL, &l), AX_ENOTASK);
    cr_assert_eq(ax_unix_connect("@x", AX_NO_DEADLINE, &a), AX_ENOTASK);
}

/* --- the policy ---------------------------------------------------------------- */

static void *policy_main(void *arg) {
    char ok[128], denied[128];
    path_in_dir(ok, sizeof ok, "allowed/s.sock");
    path_in_dir(denied, sizeof denied, "other/s.sock");
    ax_unix_listener *l, *l2;
    ax_unix *c;
    ax_unix_dgram *d;
    cr_assert_eq(ax_unix_listen(ok, NULL, &l), 0);
    cr_assert_eq(ax_unix_listen(denied, NULL, &l2), AX_EPOLICY);
    cr_assert(!exists(denied));
    cr_assert_eq(ax_unix_dgram_bind(denied, &d), AX_EPOLICY);
    cr_assert_eq(ax_unix_connect(denied, SOON(1000), &c), AX_EPOLICY);
    cr_assert_eq(ax_unix_connect(ok, SOON(1000), &c), 0);
    ax_unix_close(c);
    ax_unix_listener_close(l);
    /* abstract names have no file and are not checked */
    char an[96];
    abstract_name(an, sizeof an, "policy");
    cr_assert_eq(ax_unix_listen(an, NULL, &l), 0);
    ax_unix_listener_close(l);
    return NULL;
}

Test(unix, policy_checks_paths_as_writes, .init = make_dir, .fini = remove_dir) {
    char allowed[128], other[128];
    path_in_dir(allowed, sizeof allowed, "allowed");
    path_in_dir(other, sizeof other, "other");
    cr_assert_eq(mkdir(allowed, 0700), 0);
    cr_assert_eq(mkdir(other, 0700), 0);
    ax_policy *p;
    cr_assert_eq(ax_policy_new(&p), 0);
    cr_assert_eq(ax_policy_allow_write(p, allowed), 0);
    cr_assert_eq(ax_runtime_set_policy(rt, p), 0);
    ax_policy_free(p);
    cr_assert_eq(ax_run(rt, policy_main, NULL, NULL), 0);
}

/* --- deadlines and cancellation ------------------------------------------------ */

static atomic_int reading, hook_ran;

static void on_cancel(void *arg) {
    atomic_store(&hook_ran, 1);
}

static void *reader(void *arg) {
    ax_unix *c = arg;
    ax_cancel_hook h;
    ax_on_cancel(&h, on_cancel, NULL);
    char buf[16];
    atomic_store(&reading, 1);
    ssize_t r = ax_unix_read(c, buf, sizeof buf, AX_NO_DEADLINE);
    ax_on_cancel_pop(&h);
    return (void *)(intptr_t)r;
}

static void *cancel_main(void *arg) {
    ax_unix *a, *b;
    cr_assert_eq(ax_unix_pair(&a, &b), 0);
    char buf[8];
    ax_instant t0 = ax_now();
    cr_assert_eq(ax_unix_read(a, buf, sizeof buf, SOON(30)), AX_ETIMEDOUT);
    cr_assert_geq(ax_now() - t0, 25 * 1000000ull);

    atomic_store(&reading, 0);
    atomic_store(&hook_ran, 0);
    ax_task *t;
    cr_assert_eq(ax_spawn(&t, reader, a), 0);
    while (!atomic_load(&reading)) ax_sleep(1);
    ax_sleep(20);
    ax_abort(t);
    void *res = NULL;
    cr_assert_eq(ax_join(t, &res), AX_ECANCELED);
    cr_assert_eq((intptr_t)res, AX_ECANCELED);
    cr_assert_eq(atomic_load(&hook_ran), 1);
    /* nothing was consumed by the abandoned read, and the socket works */
    cr_assert_eq(ax_unix_write_all(b, "after", 5, SOON(1000)), 0);
    cr_assert_eq(ax_unix_read_exact(a, buf, 5, SOON(1000)), 0);
    cr_assert_eq(memcmp(buf, "after", 5), 0);

    /* accept is cancellable too */
    char an[96];
    abstract_name(an, sizeof an, "accept");
    ax_unix_listener *l;
    cr_assert_eq(ax_unix_listen(an, NULL, &l), 0);
    ax_unix *c;
    cr_assert_eq(ax_unix_accept(l, &c, SOON(20)), AX_ETIMEDOUT);
    ax_unix_listener_close(l);
    ax_unix_close(a);
    ax_unix_close(b);
    return NULL;
}

Test(unix, deadline_and_cancel_mid_read, .init = rt_two, .fini = rt_done) {
    cr_assert_eq(ax_run(rt, cancel_main, NULL, NULL), 0);
}
