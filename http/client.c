/* http/client.c - the client record: options, default headers, the pool
 * and its connector (TCP, and TLS for https in builds that have it). */
#include <stdlib.h>
#include <string.h>

#include "http/chars.h"
#include "http/client_internal.h"

void ax_http_client_opts_init(ax_http_client_opts *o) {
    memset(o, 0, sizeof *o);
    o->max_idle_per_host = 64;
    o->idle_timeout_ms = 90000;
    o->connect_timeout_ms = 10000;
    o->max_redirects = 10;
    o->max_retries = 2;
    o->retry_backoff_ms = 50;
    o->max_body = 64u << 20;
    o->max_head = 16384;
}

static char *dup_or_null(const char *s, bool *fail) {
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *fail = true;
    return d;
}

int ax_http_client_new(const ax_http_client_opts *opts, ax_http_client **out) {
    if (!out) return AX_EINVAL;
    *out = NULL;
    ax_http_client *c = calloc(1, sizeof *c);
    if (!c) return AX_ENOMEM;
    if (opts)
        c->o = *opts;
    else
        ax_http_client_opts_init(&c->o);
    if (c->o.max_head == 0) c->o.max_head = 16384;
    if (c->o.max_head < 256 || c->o.max_head > (1u << 20)) {
        free(c);
        return AX_EINVAL;
    }
    if (c->o.user_agent && !ax__hc_header_ok("User-Agent", c->o.user_agent)) {
        free(c);
        return AX_EINVAL;
    }
    bool fail = false;
    c->ca_file = dup_or_null(c->o.ca_file, &fail);
    c->ca_dir = dup_or_null(c->o.ca_dir, &fail);
    c->user_agent = dup_or_null(c->o.user_agent ? c->o.user_agent : "axon/1", &fail);
    c->o.ca_file = c->ca_file;
    c->o.ca_dir = c->ca_dir;
    c->o.user_agent = c->user_agent;
    pthread_mutex_init(&c->tls_mu, NULL);
    ax_pool_opts po;
    ax_pool_opts_init(&po);
    po.max_per_key = c->o.max_conns_per_host;
    po.max_idle_per_key = c->o.max_idle_per_host;
    po.idle_timeout_ms = c->o.idle_timeout_ms;
    po.connect = ax__hc_connect;
    po.connect_ctx = c;
    if (fail || ax_pool_new(&po, &c->pool) != 0) {
        ax_http_client_free(c);
        return AX_ENOMEM;
    }
    *out = c;
    return 0;
}

void ax_http_client_free(ax_http_client *c) {
    if (!c) return;
    if (c->pool) ax_pool_free(c->pool);
    for (size_t i = 0; i < c->ndefaults; i++) {
        free(c->defaults[i].name);
        free(c->defaults[i].value);
    }
    free(c->defaults);
#ifdef AX_HAVE_TLS
    if (c->tls_cfg) ax_tls_config_free(c->tls_cfg);
#endif
    pthread_mutex_destroy(&c->tls_mu);
    free(c->ca_file);
    free(c->ca_dir);
    free(c->user_agent);
    free(c);
}

bool ax__hc_header_ok(const char *name, const char *value) {
    if (!name || !value || !*name) return false;
    for (const char *p = name; *p; p++)
        if (!ax__http_is_token((unsigned char)*p)) return false;
    for (const char *p = value; *p; p++)
        if (!ax__http_is_value((unsigned char)*p)) return false;
    return true;
}

int ax_http_client_set_header(ax_http_client *c, const char *name, const char *value) {
    if (!c || !ax__hc_header_ok(name, value)) return AX_EINVAL;
    ax__hc_header *d = realloc(c->defaults, (c->ndefaults + 1) * sizeof *d);
    if (!d) return AX_ENOMEM;
    c->defaults = d;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return AX_ENOMEM;
    }
    c->defaults[c->ndefaults].name = n;
    c->defaults[c->ndefaults].value = v;
    c->ndefaults++;
    return 0;
}

void ax_http_client_pool_stats(ax_http_client *c, ax_pool_stats *st) {
    ax_pool_stats_get(c->pool, st);
}

#ifdef AX_HAVE_TLS
/* The TLS configuration, made once (reading the trust anchors) at the
 * first https connect. The mutex is held for the load only, which does
 * not suspend. */
static int tls_config(ax_http_client *c, ax_tls_config **out) {
    pthread_mutex_lock(&c->tls_mu);
    if (!c->tls_cfg && !c->tls_err) {
        ax_tls_opts o;
        ax_tls_opts_init(&o);
        o.ca_file = c->ca_file;
        o.ca_dir = c->ca_dir;
        o.insecure_skip_verify = c->o.insecure_skip_verify;
        o.alpn = "http/1.1";
        ax_tls_config *cfg = NULL;
        c->tls_err = ax_tls_client_config_new(&o, &cfg);
        if (!c->tls_err) c->tls_cfg = cfg;
    }
    int err = c->tls_err;
    *out = c->tls_cfg;
    pthread_mutex_unlock(&c->tls_mu);
    return err;
}
#endif

int ax__hc_connect(void *ctx, const char *host, uint16_t port, bool secure, ax_instant deadline,
                   ax_stream **out) {
    ax_http_client *c = ctx;
#ifndef AX_HAVE_TLS
    if (secure) return AX_ENOTSUP;
#endif
    if (c->o.connect_timeout_ms)
        deadline = ax__hc_min_deadline(deadline, ax_deadline_in_ms(c->o.connect_timeout_ms));
    ax_tcp *t;
    int err = ax_tcp_connect_host(host, port, deadline, &t);
    if (err) return err;
    ax_tcp_set_nodelay(t, true);
    if (!secure) {
        *out = ax_tcp_stream(t);
        return 0;
    }
#ifdef AX_HAVE_TLS
    ax_tls_config *cfg;
    err = tls_config(c, &cfg);
    if (err) {
        ax_tcp_close(t);
        return err;
    }
    ax_tls *tls;
    err = ax_tls_client(cfg, ax_tcp_stream(t), host, &tls); /* owns t from here */
    if (err) return err;
    err = ax_tls_handshake(tls, deadline);
    if (err) {
        ax_tls_close(tls);
        return err;
    }
    *out = ax_tls_stream(tls);
    return 0;
#else
    ax_tcp_close(t);
    return AX_ENOTSUP;
#endif
}
