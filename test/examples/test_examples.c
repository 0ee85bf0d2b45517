/* The examples build with the suite and must run: `make test` passes their
 * folder in AXON_EXAMPLES. */
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs AXON_EXAMPLES/<name> with args; returns its exit status and its
 * stdout in out. With sig > 0 the signal is sent after delay_ms. */
static int run_example(const char *name, char *const args[], char *out, size_t cap, int sig,
                       int delay_ms) {
    const char *dir = getenv("AXON_EXAMPLES");
    cr_assert_not_null(dir, "AXON_EXAMPLES is not set (run through make test)");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int p[2];
    cr_assert_eq(pipe(p), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        /* AXON_EXAMPLES_WRAPPER runs cross-built examples (qemu-user). */
        char *argv[10];
        int k = 0;
        const char *wrap = getenv("AXON_EXAMPLES_WRAPPER");
        if (wrap && *wrap) argv[k++] = (char *)wrap;
        argv[k++] = path;
        for (int i = 0; args && args[i] && i < 6; i++) argv[k++] = args[i];
        argv[k] = NULL;
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    if (sig) {
        usleep((useconds_t)delay_ms * 1000);
        kill(pid, sig);
    }
    size_t len = 0;
    ssize_t n;
    while (len + 1 < cap && (n = read(p[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
    out[len] = 0;
    close(p[0]);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return st;
}

Test(examples, hello, .timeout = 30) {
    char out[4096];
    int st = run_example("hello", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "slept 60 ms in total"), "output: %s", out);
}

Test(examples, demo_runs_for_a_second, .timeout = 60) {
    char out[8192];
    char *args[] = {"--seconds", "1", NULL};
    int st = run_example("demo", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "spawned and joined 100000 tasks"), "output: %s", out);
    cr_assert_not_null(strstr(out, "10000 tasks slept"), "output: %s", out);
    cr_assert_not_null(strstr(out, "tick 1"), "output: %s", out);
}

Test(examples, demo_stops_on_sigint, .timeout = 60) {
    char out[8192];
    int st = run_example("demo", NULL, out, sizeof(out), SIGINT, 1500);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "got signal 2 (SIGINT), stopping"), "output: %s", out);
}

Test(examples, demo_rejects_bad_arguments) {
    char out[1024];
    char *args[] = {"--bogus", NULL};
    int st = run_example("demo", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
}

Test(examples, embed_poll_host_loop_drives_axon, .timeout = 60) {
    char out[8192];
    char *args[] = {"30", NULL};
    int st = run_example("embed_poll", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "task: slept 3 x 25 ms"), "output: %s", out);
    cr_assert_not_null(strstr(out, "task: a byte arrived from another thread"), "output: %s", out);
    cr_assert_not_null(strstr(out, "task: the host sent 30 frame numbers"), "output: %s", out);
    cr_assert_not_null(strstr(out, "host: 30 frames"), "output: %s", out);
}

Test(examples, udp_echo, .timeout = 30) {
    char out[4096];
    int st = run_example("udp_echo", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "3 of 3 echoed"), "output: %s", out);
}

Test(examples, unix_pass_fd, .timeout = 30) {
    char out[4096];
    int st = run_example("unix_pass_fd", NULL, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    cr_assert_not_null(strstr(out, "it reads: hello through a passed pipe"), "output: %s", out);
}

/* grep over three files at once, one of them missing. */
Test(examples, grep_searches_files_concurrently, .timeout = 60) {
    char d[] = "/tmp/axgrep.XXXXXX", a[64], b[64], c[64];
    cr_assert_not_null(mkdtemp(d));
    snprintf(a, sizeof a, "%s/a.txt", d);
    snprintf(b, sizeof b, "%s/b.txt", d);
    snprintf(c, sizeof c, "%s/missing", d);
    FILE *f = fopen(a, "w");
    fputs("alpha needle\nbeta\r\nneedle gamma", f);
    fclose(f);
    f = fopen(b, "w");
    for (int i = 1; i <= 5000; i++)
        fprintf(f, i == 4321 ? "line %d has the needle\n" : "line %d\n", i);
    fclose(f);
    char out[8192];
    char *args[] = {"needle", a, b, c, NULL};
    int st = run_example("grep", args, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d, output: %s", st, out);
    char want[128];
    snprintf(want, sizeof want, "%s:1:alpha needle\n", a);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    snprintf(want, sizeof want, "%s:3:needle gamma\n", a);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    snprintf(want, sizeof want, "%s:4321:line 4321 has the needle\n", b);
    cr_assert_not_null(strstr(out, want), "output: %s", out);
    cr_assert_null(strstr(out, "beta"), "output: %s", out);
    char *args2[] = {"needle", a, NULL};
    st = run_example("grep", args2, out, sizeof(out), 0, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d, output: %s", st, out);
    remove(a);
    remove(b);
    remove(d);
}
