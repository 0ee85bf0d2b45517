/* Server metrics over real requests: status classes, the latency
 * histogram, connections and bytes, as JSON and as Prometheus text (every
 * sample line well formed, buckets cumulative), with the runtime's own
 * counters appended; and a server without metrics counts nothing. */
#include <math.h>

#include "test/http/http_util.h"

static bool metrics_on = true;

static void *metrics_start_task(void *arg) {
    cr_assert_eq(ax_http_router_new(&router), 0);
    ax_http_router_add(router, "GET", "/", h_hello, NULL);
    ax_http_router_add(router, "GET", "/fail", h_fail, NULL);
    ax_http_router_add(router, "POST", "/echo", h_echo, NULL);
    ax_http_server_opts_init(&srv_opts);
    cr_assert_eq(ax_http_server_new(&srv, &srv_opts, ax_http_router_handler, router), 0);
    ax_http_router_add(router, "GET", "/metrics", ax_http_metrics_handler, srv);
    ax_http_router_add(router, "GET", "/metrics.json", ax_http_metrics_json_handler, srv);
    if (metrics_on) cr_assert_eq(ax_http_server_enable_metrics(srv), 0);
    ax_addr a = ax_addr_loopback(AX_INET, 0);
    cr_assert_eq(ax_http_server_listen(srv, &a), 0);
    cr_assert_eq(ax_http_server_enable_metrics(srv), metrics_on ? AX_EBUSY : AX_EBUSY);
    ax_addr bound;
    ax_http_server_addr(srv, &bound);
    srv_port = bound.port;
    return NULL;
}

static void metrics_up(void) {
    rt_two();
    cr_assert_eq(ax_run(rt, metrics_start_task, NULL, NULL), 0);
}

TestSuite(http_metrics, .init = metrics_up, .fini = srv_down, .timeout = 60);

/* The number after key in text. */
static long long num_after(const char *text, const char *key) {
    const char *p = strstr(text, key);
    cr_assert_not_null(p, "%s not in %s", key, text);
    return atoll(p + strlen(key));
}

static void traffic(void) {
    cli_res r;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(one_request("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
        cli_res_free(&r);
    }
    cr_assert_eq(one_request("GET /fail HTTP/1.1\r\nHost: a\r\n\r\n", &r), 500);
    cli_res_free(&r);
    cr_assert_eq(one_request("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", &r), 404);
    cli_res_free(&r);
    cr_assert_eq(one_request("GET / HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", &r), 400);
    cli_res_free(&r);
}

Test(http_metrics, json_counts_by_class_latency_and_bytes) {
    traffic();
    cli_res r;
    cr_assert_eq(one_request("GET /metrics.json HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert(strstr(r.head, "Content-Type: application/json\r\n"));
    const char *j = r.body;
    cr_assert_eq(num_after(j, "\"requests\":"), 6, "%s", j);
    cr_assert_eq(num_after(j, "\"2xx\":"), 3, "%s", j);
    cr_assert_eq(num_after(j, "\"4xx\":"), 2, "%s", j);
    cr_assert_eq(num_after(j, "\"5xx\":"), 1, "%s", j);
    cr_assert_eq(num_after(j, "\"1xx\":"), 0, "%s", j);
    cr_assert_eq(num_after(j, "\"count\":"), 5, "%s", j); /* the 400 was not timed */
    cr_assert_geq(num_after(j, "\"connections_open\":"), 1);
    cr_assert_geq(num_after(j, "\"connections_total\":"), 7);
    cr_assert_eq(num_after(j, "\"handlers_inflight\":"), 1); /* this one */
    cr_assert_gt(num_after(j, "\"bytes_in\":"), 6 * 25);
    cr_assert_gt(num_after(j, "\"bytes_out\":"), 6 * 60);
    cr_assert_eq(num_after(j, "\"runtime\":{\"workers\":"), 2, "%s", j);
    cr_assert_eq(j[r.body_len - 1], '}');
    /* The histogram's buckets add up to the count. */
    long long sum = 0;
    for (const char *p = strstr(j, "\"n\":"); p; p = strstr(p + 1, "\"n\":")) sum += atoll(p + 4);
    cr_assert_eq(sum, 5);
    cli_res_free(&r);
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_geq(m.requests, 7);
    cr_assert_eq(m.status_class[5], 1);
}

Test(http_metrics, prometheus_text_is_well_formed) {
    traffic();
    cli_res r;
    cr_assert_eq(one_request("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert(strstr(r.head, "Content-Type: text/plain; version=0.0.4\r\n"), "%s", r.head);
    const char *t = r.body;
    cr_assert_eq(num_after(t, "axon_http_requests_total{class=\"2xx\"} "), 3);
    cr_assert_eq(num_after(t, "axon_http_requests_total{class=\"4xx\"} "), 2);
    cr_assert_eq(num_after(t, "axon_http_requests_total{class=\"5xx\"} "), 1);
    cr_assert_eq(num_after(t, "axon_http_request_duration_seconds_count "), 5);
    cr_assert_eq(num_after(t, "axon_http_request_duration_seconds_bucket{le=\"+Inf\"} "), 5);
    cr_assert(strstr(t, "# TYPE axon_http_request_duration_seconds histogram\n"));
    cr_assert(strstr(t, "# TYPE axon_http_connections_open gauge\n"));
    cr_assert_gt(num_after(t, "\naxon_http_sent_bytes_total "), 0);
    cr_assert_gt(num_after(t, "\naxon_tasks_spawned_total "), 0); /* the runtime's */
    /* Every sample: a metric name, optional labels, a space, a number;
     * histogram buckets never decrease. */
    long long last_bucket = -1;
    char *copy = strdup(t);
    int samples = 0;
    for (char *save, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            cr_assert(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0, "%s",
                      line);
            continue;
        }
        size_t n = strspn(line, "abcdefghijklmnopqrstuvwxyz_0123456789");
        cr_assert_gt(n, 0, "bad sample: %s", line);
        const char *v = line + n;
        if (*v == '{') {
            v = strchr(v, '}');
            cr_assert_not_null(v, "%s", line);
            v++;
        }
        cr_assert_eq(*v, ' ', "%s", line);
        char *end;
        double d = strtod(v + 1, &end);
        cr_assert(*end == 0 && isfinite(d) && d >= 0, "bad value: %s", line);
        if (strncmp(line, "axon_http_request_duration_seconds_bucket", 41) == 0) {
            cr_assert_geq((long long)d, last_bucket, "%s", line);
            last_bucket = (long long)d;
        }
        samples++;
    }
    cr_assert_gt(samples, 30);
    free(copy);
    cli_res_free(&r);
}

Test(http_metrics, texts_report_their_full_length) {
    char small[16];
    size_t need = ax_http_server_metrics_json(srv, small, sizeof small);
    cr_assert_gt(need, sizeof small);
    cr_assert_eq(strlen(small), sizeof small - 1);
    char *big = malloc(need + 1);
    cr_assert_eq(ax_http_server_metrics_json(srv, big, need + 1), need);
    cr_assert_eq(strlen(big), need);
    free(big);
    need = ax_http_server_metrics_prometheus(srv, NULL, 0);
    big = malloc(need + 1);
    cr_assert_eq(ax_http_server_metrics_prometheus(srv, big, need + 1), need);
    cr_assert_eq(big[need - 1], '\n');
    free(big);
}

static void metrics_off_up(void) {
    metrics_on = false;
    metrics_up();
    metrics_on = true;
}

Test(http_metrics, off_counts_nothing, .init = metrics_off_up) {
    traffic();
    ax_http_metrics m;
    ax_http_server_metrics(srv, &m);
    cr_assert_eq(m.requests, 0);
    cr_assert_eq(m.bytes_in, 0);
    cr_assert_eq(m.latency_count, 0);
    cli_res r;
    cr_assert_eq(one_request("GET /metrics.json HTTP/1.1\r\nHost: a\r\n\r\n", &r), 200);
    cr_assert_eq(num_after(r.body, "\"requests\":"), 0);
    cli_res_free(&r);
}
