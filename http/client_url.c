/* http/client_url.c - absolute http(s) URLs taken apart, and references
 * (Location headers) resolved against them (RFC 3986 sections 3 and 5). */
#include <stdlib.h>
#include <string.h>

#include "axon/error.h"
#include "axon/http_client.h"
#include "http/chars.h"

/* A byte allowed in a URL as sent on the wire: visible ASCII. */
static bool url_byte(unsigned char c) {
    return c > 0x20 && c < 0x7f;
}

static bool host_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static bool ipv6_byte(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

int ax_http_url_parse(const char *url, size_t len, ax_http_url *out) {
    if (!url || !out) return AX_EINVAL;
    memset(out, 0, sizeof *out);
    size_t i = 0;
    while (i < len && url[i] != ':') {
        unsigned char c = (unsigned char)url[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alpha && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
            return AX_EINVAL;
        i++;
    }
    if (i == len || i == 0) return AX_EINVAL;
    if (i == 4 && ax__http_ieq(url, "http", 4)) {
        out->secure = false;
    } else if (i == 5 && ax__http_ieq(url, "https", 5)) {
        out->secure = true;
    } else {
        return AX_ENOTSUP;
    }
    if (len - i < 3 || url[i + 1] != '/' || url[i + 2] != '/') return AX_EINVAL;
    for (size_t k = 0; k < len; k++)
        if (!url_byte((unsigned char)url[k])) return AX_EINVAL;
    size_t a = i + 3, e = a;
    while (e < len && url[e] != '/' && url[e] != '?' && url[e] != '#') e++;
    /* authority = url[a, e) */
    if (memchr(url + a, '@', e - a)) return AX_EINVAL; /* userinfo */
    size_t h = a, hend;
    if (h < e && url[h] == '[') {
        const char *close = memchr(url + h, ']', e - h);
        if (!close) return AX_EINVAL;
        hend = (size_t)(close - url);
        if (hend == h + 1) return AX_EINVAL;
        for (size_t k = h + 1; k < hend; k++)
            if (!ipv6_byte((unsigned char)url[k])) return AX_EINVAL;
        if (!memchr(url + h + 1, ':', hend - h - 1)) return AX_EINVAL;
        out->host = (ax_http_str){url + h + 1, hend - h - 1};
        out->ipv6 = true;
        hend++;
    } else {
        hend = h;
        while (hend < e && url[hend] != ':') {
            if (!host_byte((unsigned char)url[hend])) return AX_EINVAL;
            hend++;
        }
        if (hend == h) return AX_EINVAL;
        out->host = (ax_http_str){url + h, hend - h};
    }
    if (out->host.len > 253) return AX_EINVAL;
    out->port = out->secure ? 443 : 80;
    out->default_port = true;
    if (hend < e) {
        if (url[hend] != ':') return AX_EINVAL;
        size_t p = hend + 1;
        if (p < e) { /* "host:" with an empty port means the default (RFC 3986 3.2.3) */
            uint32_t v = 0;
            for (; p < e; p++) {
                unsigned char c = (unsigned char)url[p];
                if (c < '0' || c > '9') return AX_EINVAL;
                v = v * 10 + (uint32_t)(c - '0');
                if (v > 65535) return AX_EINVAL;
            }
            if (v == 0) return AX_EINVAL;
            out->port = (uint16_t)v;
            out->default_port = v == (out->secure ? 443u : 80u);
        }
    }
    /* The target: path and query up to the fragment. */
    const char *hash = memchr(url + e, '#', len - e);
    size_t tend = hash ? (size_t)(hash - url) : len;
    if (tend == e) {
        out->target = (ax_http_str){"/", 1};
    } else {
        /* "http://h?q" keeps its '?' first: the request writer puts the
         * path's "/" in front. */
        out->target = (ax_http_str){url + e, tend - e};
    }
    return 0;
}

/* --- resolving references ---------------------------------------------------- */

typedef struct outbuf {
    char *p;
    size_t cap, len;
    bool over;
} outbuf;

static void put(outbuf *o, const char *s, size_t n) {
    if (o->len + n >= o->cap) {
        o->over = true;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

/* Appends path[0, n) to o with its dot segments removed (RFC 3986 5.2.4),
 * working segment by segment on the output written so far from `root`
 * (where the path starts in o). */
static void put_path(outbuf *o, size_t root, const char *path, size_t n) {
    size_t i = 0;
    while (i < n && !o->over) {
        /* one segment: "/seg" (the path always starts with '/') */
        size_t s = i + 1, end = s;
        while (end < n && path[end] != '/') end++;
        size_t sl = end - s;
        bool last = end == n;
        if (sl == 1 && path[s] == '.') {
            if (last) put(o, "/", 1);
        } else if (sl == 2 && path[s] == '.' && path[s + 1] == '.') {
            while (o->len > root && o->p[o->len - 1] != '/') o->len--;
            if (o->len > root) o->len--; /* the slash */
            o->p[o->len] = 0;
            if (last) put(o, "/", 1);
        } else {
            put(o, path + i, end - i);
        }
        i = end;
    }
    if (o->len == root) put(o, "/", 1);
}

/* After an authority just put: the path in [p, end) without its dot
 * segments ("/" when empty) and the query that follows it. The length of
 * out, or AX_ENOSPC. */
static ssize_t put_path_query(outbuf *o, const char *p, const char *end) {
    size_t root = o->len;
    const char *q = memchr(p, '?', (size_t)(end - p));
    size_t plen = (size_t)((q ? q : end) - p);
    if (plen)
        put_path(o, root, p, plen);
    else
        put(o, "/", 1);
    if (q) put(o, q, (size_t)(end - q));
    return o->over ? AX_ENOSPC : (ssize_t)o->len;
}

/* Resolves into out, which the caller sized for any result (the base and
 * the reference together, plus a little): dot segments are removed as
 * they are copied, so intermediate text may be longer than the result. */
static ssize_t resolve_into(const char *base, const char *ref, size_t ref_len, char *out,
                            size_t cap) {
    ax_http_url b;
    int err = ax_http_url_parse(base, strlen(base), &b);
    if (err) return err;
    for (size_t k = 0; k < ref_len; k++)
        if (!url_byte((unsigned char)ref[k])) return AX_EINVAL;
    /* Drop the reference's fragment. */
    const char *hash = memchr(ref, '#', ref_len);
    if (hash) ref_len = (size_t)(hash - ref);
    outbuf o = {out, cap, 0, false};
    out[0] = 0;
    /* An absolute reference has a scheme: letters, then ':' before any
     * '/', '?'. */
    size_t k = 0;
    while (k < ref_len && ref[k] != ':' && ref[k] != '/' && ref[k] != '?') k++;
    if (k > 0 && k < ref_len && ref[k] == ':') {
        ax_http_url u;
        err = ax_http_url_parse(ref, ref_len, &u);
        if (err) return err;
        put(&o, ref, k + 3); /* scheme:// */
        const char *ae = ref + k + 3;
        while (ae < ref + ref_len && *ae != '/' && *ae != '?') ae++;
        put(&o, ref + k + 3, (size_t)(ae - (ref + k + 3)));
        return put_path_query(&o, ae, ref + ref_len);
    }
    /* The base's scheme and authority. */
    const char *bauth = strstr(base, "//") + 2;
    const char *bae = bauth;
    while (*bae && *bae != '/' && *bae != '?' && *bae != '#') bae++;
    put(&o, base, (size_t)(bauth - base));
    if (ref_len >= 2 && ref[0] == '/' && ref[1] == '/') { /* network-path reference */
        const char *ae = ref + 2;
        while (ae < ref + ref_len && *ae != '/' && *ae != '?') ae++;
        /* Validate the new authority by parsing scheme://authority. */
        char tmp[300];
        size_t sl = (size_t)(bauth - base), al = (size_t)(ae - (ref + 2));
        if (sl + al >= sizeof tmp) return AX_EINVAL;
        memcpy(tmp, base, sl);
        memcpy(tmp + sl, ref + 2, al);
        ax_http_url chk;
        err = ax_http_url_parse(tmp, sl + al, &chk);
        if (err) return err;
        put(&o, ref + 2, al);
        return put_path_query(&o, ae, ref + ref_len);
    }
    put(&o, bauth, (size_t)(bae - bauth));
    size_t root = o.len;
    /* The base's path and query. */
    const char *bp = bae, *bq = bae, *bend = bae;
    while (*bend && *bend != '#') bend++;
    while (bq < bend && *bq != '?') bq++;
    if (ref_len == 0) { /* the base itself, without fragment */
        if (bq > bp)
            put(&o, bp, (size_t)(bq - bp));
        else
            put(&o, "/", 1);
        put(&o, bq, (size_t)(bend - bq));
        return o.over ? AX_ENOSPC : (ssize_t)o.len;
    }
    const char *q = memchr(ref, '?', ref_len);
    size_t plen = (size_t)((q ? q : ref + ref_len) - ref);
    if (plen == 0) { /* "?query": the base path, the new query */
        if (bq > bp)
            put(&o, bp, (size_t)(bq - bp));
        else
            put(&o, "/", 1);
    } else if (ref[0] == '/') {
        put_path(&o, root, ref, plen);
    } else {
        /* Merge: the base path up to its last '/', then the reference. */
        char *merged = malloc((size_t)(bq - bp) + plen + 2);
        if (!merged) return AX_ENOMEM;
        size_t dir = 0;
        for (const char *p = bp; p < bq; p++)
            if (*p == '/') dir = (size_t)(p - bp) + 1;
        if (bq == bp) { /* empty base path: "/" + ref */
            merged[0] = '/';
            dir = 1;
        } else {
            memcpy(merged, bp, dir);
        }
        memcpy(merged + dir, ref, plen);
        put_path(&o, root, merged, dir + plen);
        free(merged);
    }
    if (q) put(&o, q, (size_t)(ref + ref_len - q));
    return o.over ? AX_ENOSPC : (ssize_t)o.len;
}

ssize_t ax_http_url_resolve(const char *base, const char *ref, size_t ref_len, char *out,
                            size_t cap) {
    if (!base || !ref || !out || cap == 0) return AX_EINVAL;
    size_t scap = strlen(base) + ref_len + 16;
    char *scratch = malloc(scap);
    if (!scratch) return AX_ENOMEM;
    ssize_t n = resolve_into(base, ref, ref_len, scratch, scap);
    if (n >= 0 && (size_t)n >= cap) n = AX_ENOSPC;
    if (n >= 0)
        memcpy(out, scratch, (size_t)n + 1);
    else
        out[0] = 0;
    free(scratch);
    return n;
}
