/* grep: searches many files concurrently, line by line, streaming.
 *
 *     build/examples/grep PATTERN FILE...
 *
 * One task per file reads it as a stream of lines (ax_fs_lines: an
 * ax_bufreader over the file, so memory stays bounded whatever the file's
 * size) and prints "file:line:text" for each line containing PATTERN (a
 * plain substring). Output lines of one file come in order; files
 * interleave. Exit status: 0 if something matched, 1 if not, 2 on error. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "axon.h"

typedef struct {
    const char *pattern;
    const char *path;
    atomic_int *matched, *failed;
} job;

static void *search(void *arg) {
    job *j = arg;
    ax_item_stream *lines;
    int r = ax_fs_lines(j->path, 0, &lines);
    void *item;
    while (r == 0 && (r = ax_items_next(lines, &item, AX_NO_DEADLINE)) == 1) {
        ax_fs_line *l = item;
        if (strstr(l->text, j->pattern)) {
            /* one fprintf per line: stdio's lock keeps lines whole */
            printf("%s:%llu:%s\n", j->path, (unsigned long long)l->lineno, l->text);
            atomic_store(j->matched, 1);
        }
        ax_items_free_item(lines, item);
        r = 0;
    }
    if (r < 0) {
        fprintf(stderr, "grep: %s: %s\n", j->path, ax_strerror(r));
        atomic_store(j->failed, 1);
    }
    if (lines) ax_items_close(lines);
    return NULL;
}

static void *grep_main(void *arg) {
    char **argv = arg;
    atomic_int matched = 0, failed = 0;
    int n = 0;
    while (argv[2 + n]) n++;
    job jobs[n > 0 ? n : 1];
    ax_scope scope;
    ax_scope_init(&scope);
    for (int i = 0; i < n; i++) {
        jobs[i] = (job){argv[1], argv[2 + i], &matched, &failed};
        ax_scope_spawn(&scope, NULL, search, &jobs[i]);
    }
    ax_scope_join(&scope);
    fflush(stdout);
    return (void *)(intptr_t)(failed ? 2 : matched ? 0 : 1);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: grep PATTERN FILE...\n");
        return 2;
    }
    ax_runtime *rt;
    if (ax_runtime_new(&rt, NULL)) return 2;
    void *res = NULL;
    int err = ax_run(rt, grep_main, argv, &res);
    ax_runtime_free(rt);
    return err ? 2 : (int)(intptr_t)res;
}
