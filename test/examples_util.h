/* test/examples_util.h - running the built examples from tests (POSIX):
 * AXON_EXAMPLES names their folder (make test sets it), and
 * AXON_EXAMPLES_WRAPPER, when set, runs cross-built ones (qemu-user). */
#ifndef AX_TEST_EXAMPLES_UTIL_H
#define AX_TEST_EXAMPLES_UTIL_H

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts AXON_EXAMPLES/<name> with args (NULL-terminated, argv[0]
 * excluded; args may be NULL) and its stdout on a pipe whose read end is
 * *out_fd. Returns the child's pid. */
static inline pid_t example_spawn(const char *name, const char *const *args, int *out_fd) {
    const char *dir = getenv("AXON_EXAMPLES");
    cr_assert_not_null(dir, "AXON_EXAMPLES is not set (run through make test)");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        const char *argv[32];
        int k = 0;
        const char *wrap = getenv("AXON_EXAMPLES_WRAPPER");
        if (wrap && *wrap) argv[k++] = wrap;
        argv[k++] = path;
        for (int i = 0; args && args[i] && k < 31; i++) argv[k++] = args[i];
        argv[k] = NULL;
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

/* Reads the child's stdout from fd to its end into out (NUL-terminated,
 * cut at cap - 1 bytes), closes fd, waits for the child and returns its
 * wait status. */
static inline int example_collect(pid_t pid, int fd, char *out, size_t cap) {
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)n;
    out[len] = 0;
    close(fd);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

#endif
