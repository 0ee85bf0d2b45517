/* examples/fetch.c - a small curl: fetches URLs with Axon's HTTP client and
 * prints each response's status line, headers and body, in the order the
 * URLs were given. Several URLs are fetched concurrently (ax_http_fetch_all).
 *
 *   build/examples/fetch [-X METHOD] [-H 'Name: value']... [-d BODY]
 *                        [--cafile F] URL...
 *
 * -d sends BODY (POST unless -X says otherwise); --cafile trusts the CA
 * certificates in F for https (the system store otherwise). Redirects are
 * followed (up to 10). Exits 1 when any request failed, 2 on bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon.h"

#define MAX_HEADERS 32

typedef struct args {
    const char *method, *body, *cafile;
    ax_http_kv headers[MAX_HEADERS];
    char *hdr_text[MAX_HEADERS];
    size_t nheaders;
    char **urls;
    size_t nurls;
} args;

static int usage(void) {
    fprintf(stderr,
            "usage: fetch [-X METHOD] [-H 'Name: value']... [-d BODY] [--cafile F] URL...\n");
    return 2;
}

/* "Name: value" into a header (the text is copied and split in place). */
static int add_header(args *a, const char *line) {
    if (a->nheaders == MAX_HEADERS) return -1;
    char *t = strdup(line);
    char *colon = t ? strchr(t, ':') : NULL;
    if (!colon) {
        free(t);
        return -1;
    }
    *colon = 0;
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    a->hdr_text[a->nheaders] = t;
    a->headers[a->nheaders++] = (ax_http_kv){t, v};
    return 0;
}

static void print_response(const char *url, const ax_http_response *r, int err, size_t i,
                           size_t n) {
    if (n > 1) printf("==> %s <==\n", url);
    if (err) {
        printf("error: %s (%s)\n", ax_strerror(err), ax_err_name(err));
    } else {
        printf("HTTP/1.%d %d %.*s\n", r->minor_version, r->status, (int)r->reason.len,
               r->reason.ptr);
        for (size_t h = 0; h < r->nheaders; h++)
            printf("%.*s: %.*s\n", (int)r->headers[h].name.len, r->headers[h].name.ptr,
                   (int)r->headers[h].value.len, r->headers[h].value.ptr);
        printf("\n");
        fwrite(r->body, 1, r->body_len, stdout);
        if (r->body_len && r->body[r->body_len - 1] != '\n') printf("\n");
    }
    if (n > 1 && i + 1 < n) printf("\n");
}

static void *fetch_main(void *arg) {
    args *a = arg;
    ax_http_client_opts o;
    ax_http_client_opts_init(&o);
    o.ca_file = a->cafile;
    o.timeout_ms = 30000;
    ax_http_client *c;
    int err = ax_http_client_new(&o, &c);
    if (err) {
        fprintf(stderr, "fetch: %s\n", ax_strerror(err));
        return (void *)1;
    }
    ax_http_request *reqs = calloc(a->nurls, sizeof *reqs);
    ax_http_response *out = calloc(a->nurls, sizeof *out);
    int *errs = calloc(a->nurls, sizeof *errs);
    if (!reqs || !out || !errs) {
        free(reqs);
        free(out);
        free(errs);
        ax_http_client_free(c);
        return (void *)1;
    }
    for (size_t i = 0; i < a->nurls; i++) {
        ax_http_request_init(&reqs[i], a->method, a->urls[i]);
        reqs[i].headers = a->headers;
        reqs[i].nheaders = a->nheaders;
        if (a->body) {
            reqs[i].body = a->body;
            reqs[i].body_len = strlen(a->body);
        }
    }
    ssize_t failed = ax_http_fetch_all(c, reqs, a->nurls, 16, out, errs);
    for (size_t i = 0; i < a->nurls; i++) {
        print_response(a->urls[i], &out[i], errs[i], i, a->nurls);
        ax_http_response_free(&out[i]);
    }
    free(reqs);
    free(out);
    free(errs);
    ax_http_client_free(c);
    return (void *)(intptr_t)(failed != 0);
}

/* Reads the command line into a; false on bad usage. */
static bool parse_args(args *a, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(s, "-X") && more)
            a->method = argv[++i];
        else if (!strcmp(s, "-H") && more) {
            if (add_header(a, argv[++i])) return false;
        } else if (!strcmp(s, "-d") && more)
            a->body = argv[++i];
        else if (!strcmp(s, "--cafile") && more)
            a->cafile = argv[++i];
        else if (s[0] == '-')
            return false;
        else
            a->urls[a->nurls++] = argv[i];
    }
    return a->nurls > 0;
}

int main(int argc, char **argv) {
    args a = {0};
    a.urls = calloc((size_t)argc, sizeof *a.urls);
    if (!a.urls) return 1;
    int rc = 2;
    if (parse_args(&a, argc, argv)) {
        if (!a.method) a.method = a.body ? "POST" : "GET";
        ax_runtime *rt;
        rc = 1;
        if (ax_runtime_new(&rt, NULL) == 0) {
            void *res = (void *)1;
            ax_run(rt, fetch_main, &a, &res);
            ax_runtime_free(rt);
            rc = (int)(intptr_t)res;
        }
    } else {
        usage();
    }
    fflush(stdout);
    for (size_t i = 0; i < a.nheaders; i++) free(a.hdr_text[i]);
    free(a.urls);
    return rc;
}
