/* test/http/curl_util.h - runs curl, the real peer of the HTTP tests, and
 * collects what it printed. Included by the test files that drive it. */
#ifndef AX_TEST_HTTP_CURL_UTIL_H
#define AX_TEST_HTTP_CURL_UTIL_H

#include <fcntl.h>
#ifndef _WIN32
#include <sys/wait.h>
#endif

#include "test/http/http_util.h"

/* Runs curl with args (NULL-terminated); stdout and stderr go to files
 * whose contents are returned in out / err (malloc'd). Returns the exit
 * status. */
static int curl(const char *const *args, char **out, size_t *out_len, char **err) {
    AX_WIN_SKIP(AX_WIN_NO_CURL);
#ifdef _WIN32
    return -1;
#else
    char opath[] = "/tmp/axon-curl-out-XXXXXX", epath[] = "/tmp/axon-curl-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath);
    cr_assert(ofd >= 0 && efd >= 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(ofd, 1);
        dup2(efd, 2);
        const char *argv[32];
        int k = 0;
        argv[k++] = "curl";
        argv[k++] = "--max-time";
        argv[k++] = "60";
        for (int i = 0; args[i] && k < 31; i++) argv[k++] = args[i];
        argv[k] = NULL;
        execvp("curl", (char *const *)argv);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    char **dst[2] = {out, err};
    int fds[2] = {ofd, efd};
    for (int i = 0; i < 2; i++) {
        off_t n = lseek(fds[i], 0, SEEK_END);
        *dst[i] = malloc((size_t)n + 1);
        cr_assert_eq(pread(fds[i], *dst[i], (size_t)n, 0), n);
        (*dst[i])[n] = 0;
        if (i == 0 && out_len) *out_len = (size_t)n;
        close(fds[i]);
    }
    unlink(opath);
    unlink(epath);
    cr_assert(WIFEXITED(st), "curl died");
    return WEXITSTATUS(st);
#endif
}

#endif
