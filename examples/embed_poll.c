/* embed_poll: a host program with its own poll() loop drives Axon.
 *
 * The host owns the loop (think of a game loop rendering frames): it waits
 * on its own descriptor and on ax_runtime_fd(), bounded by its frame time
 * and ax_runtime_timeout_ms(), and calls ax_run_once() each time round.
 * Axon tasks meanwhile sleep, wait on a channel the host feeds, and wait on
 * a pipe written by another thread.
 *
 *   build/examples/embed_poll [frames]      (default 30 frames of 10 ms)
 */
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "axon.h"

static int pipe_fds[2];
static ax_mpsc_tx *frames_tx;
static ax_mpsc_rx *frames_rx;

static void *ticker(void *arg) {
    for (int i = 1; i <= 3; i++) {
        ax_sleep(25);
        printf("task: slept %d x 25 ms\n", i);
    }
    return NULL;
}

static void *frame_counter(void *arg) {
    long frame, seen = 0;
    while (ax_mpsc_recv(frames_rx, &frame, AX_NO_DEADLINE) == 0) seen++;
    printf("task: the host sent %ld frame numbers\n", seen);
    return NULL;
}

static void *pipe_reader(void *arg) {
    char c;
    if (ax_wait_readable(pipe_fds[0], AX_NO_DEADLINE) == 0 && read(pipe_fds[0], &c, 1) == 1)
        printf("task: a byte arrived from another thread\n");
    return NULL;
}

static void *other_thread(void *arg) {
    usleep(50000);
    if (write(pipe_fds[1], "!", 1) != 1) perror("write");
    return NULL;
}

int main(int argc, char **argv) {
    long frames = argc > 1 ? atol(argv[1]) : 30;
    ax_runtime *rt;
    int err = ax_runtime_new(&rt, &(ax_runtime_opts){.flavor = AX_RUNTIME_CURRENT_THREAD});
    if (!err) err = ax_mpsc_new(&frames_tx, &frames_rx, sizeof(long), 0);
    if (err || pipe(pipe_fds)) {
        fprintf(stderr, "setup: %s\n", ax_strerror(err));
        return 1;
    }
    ax_task *tasks[3];
    ax_spawn_on(rt, &tasks[0], ticker, NULL);
    ax_spawn_on(rt, &tasks[1], frame_counter, NULL);
    ax_spawn_on(rt, &tasks[2], pipe_reader, NULL);
    pthread_t th;
    pthread_create(&th, NULL, other_thread, NULL);

    long polls = 0;
    for (long frame = 1; frame <= frames; frame++) {
        ax_instant frame_end = ax_deadline_in_ms(10);
        ax_mpsc_try_send(frames_tx, &frame);
        /* the host's own work would go here; then wait for the frame's end
         * or for Axon, whichever comes first */
        for (ax_instant now = ax_now(); now < frame_end; now = ax_now()) {
            int wait = (int)((frame_end - now) / 1000000) + 1;
            int axon = ax_runtime_timeout_ms(rt);
            if (axon >= 0 && axon < wait) wait = axon;
            struct pollfd p = {ax_runtime_fd(rt), POLLIN, 0};
            poll(&p, 1, wait);
            int n = ax_run_once(rt, 0);
            if (n > 0) polls += n;
        }
    }
    ax_mpsc_tx_release(frames_tx); /* closes the channel: frame_counter ends */
    for (int i = 0; i < 3; i++) {
        ax_join_future jf;
        ax_join_future_init(&jf, tasks[i]);
        ax_block_on(rt, &jf.base); /* drives the runtime on this thread */
    }
    pthread_join(th, NULL);
    printf("host: %ld frames, %ld task polls, all tasks done\n", frames, polls);
    ax_mpsc_rx_release(frames_rx);
    ax_runtime_free(rt);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}
