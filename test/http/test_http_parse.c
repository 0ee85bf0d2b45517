/* The HTTP/1.1 parsers through axon/http_parse.h: good heads field by
 * field, incremental feeding byte by byte, and every malformed or smuggling
 * shape with the status the server must answer. */
#include <criterion/criterion.h>
#include <string.h>

#include "axon.h"

static ax_http_header hdrs[64];

static ssize_t req(const char *text, ax_http_request_head *h) {
    return ax_http_parse_request(text, strlen(text), h, hdrs, 64, NULL);
}

static bool str_is(ax_http_str s, const char *lit) {
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

Test(http_parse, simple_get) {
    const char *t = "GET /users/42?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nAccept:  */*  \r\n"
                    "X-Empty:\r\n\r\nBODY";
    ax_http_request_head h;
    ssize_t n = req(t, &h);
    cr_assert_eq(n, (ssize_t)(strlen(t) - 4));
    cr_assert_eq(h.method_id, AX_HTTP_GET);
    cr_assert(str_is(h.method, "GET"));
    cr_assert(str_is(h.target, "/users/42?x=1&y=2"));
    cr_assert(str_is(h.path, "/users/42"));
    cr_assert(str_is(h.query, "x=1&y=2"));
    cr_assert_eq(h.minor_version, 1);
    cr_assert_eq(h.nheaders, 3);
    cr_assert(str_is(h.headers[1].name, "Accept"));
    cr_assert(str_is(h.headers[1].value, "*/*"), "value trimmed");
    cr_assert(str_is(h.headers[2].value, ""));
    cr_assert(str_is(h.host, "example.com"));
    cr_assert_eq(h.content_length, -1);
    cr_assert(h.keep_alive);
    cr_assert(!h.chunked);
    /* zero copy: slices point into the input */
    cr_assert(h.path.ptr == t + 4);
}

Test(http_parse, incremental_byte_by_byte) {
    const char *t = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n";
    size_t len = strlen(t);
    ax_http_request_head h;
    for (size_t i = 0; i < len; i++)
        cr_assert_eq(ax_http_parse_request(t, i, &h, hdrs, 64, NULL), 0, "prefix %zu", i);
    cr_assert_eq(ax_http_parse_request(t, len, &h, hdrs, 64, NULL), (ssize_t)len);
    cr_assert_eq(h.content_length, 5);
    cr_assert_eq(h.method_id, AX_HTTP_POST);
}

Test(http_parse, connection_and_versions) {
    ax_http_request_head h;
    cr_assert_gt(req("GET / HTTP/1.0\r\n\r\n", &h), 0);
    cr_assert(!h.keep_alive, "1.0 closes by default");
    cr_assert_gt(req("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), 0);
    cr_assert(h.keep_alive);
    cr_assert_gt(req("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &h), 0);
    cr_assert(!h.keep_alive);
    cr_assert_gt(req("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", &h), 0);
    cr_assert(h.expect_continue);
    cr_assert_gt(req("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n", &h), 0);
    cr_assert(h.chunked);
    cr_assert_gt(req("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0, "one leading CRLF");
    cr_assert_gt(req("FOO-BAR /x HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
    cr_assert_eq(h.method_id, AX_HTTP_OTHER);
}

/* Each malformed head with the status a server answers. */
static const struct {
    const char *text;
    int status;
} bad[] = {
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},                 /* bare LF ends the line */
    {"GET / HTTP/1.1\r\nHost: a\n\r\n", 400},                 /* bare LF in headers */
    {"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},         /* bare CR */
    {"GET / HTTP/1.1\r\nHost: a\r\n X: folded\r\n\r\n", 400}, /* obs-fold */
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tmore\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},             /* space before colon */
    {"GET / HTTP/1.1\r\nHo(st: a\r\n\r\n", 400},             /* bad name */
    {"GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400},       /* empty name */
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\001b\r\n\r\n", 400}, /* control byte */
    {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
    {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* two spaces */
    {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 400},
    {"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/1.1\r\n\r\n", 400},                       /* no Host in 1.1 */
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400}, /* two Hosts */
    {"GET / HTTP/1.1x\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTPS/1.1\r\nHost: a\r\n\r\n", 400},
    {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
    {"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
    {"G\x80T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"
     "\r\n",
     400},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
    {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
    {"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
    {"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9000000000\r\n\r\n", 413},
    {"GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417},
    {"\r\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
};

Test(http_parse, malformed_requests_get_their_status) {
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ax_http_request_head h;
        ssize_t n = req(bad[i].text, &h);
        cr_expect_eq(n, AX_EPROTO, "case %zu: %s -> %zd", i, bad[i].text, n);
        cr_expect_eq(h.status, bad[i].status, "case %zu: %s -> status %d", i, bad[i].text,
                     h.status);
    }
}

Test(http_parse, limits) {
    ax_http_limits l;
    ax_http_limits_init(&l);
    l.max_request_line = 64;
    l.max_head = 256;
    l.max_headers = 4;
    static char t[4096];
    ax_http_request_head h;
    /* A request line longer than the limit: 414 before it even ends. */
    memset(t, 0, sizeof t);
    strcpy(t, "GET /");
    memset(t + 5, 'a', 100);
    cr_assert_eq(ax_http_parse_request(t, strlen(t), &h, hdrs, 64, &l), AX_EPROTO);
    cr_assert_eq(h.status, 414);
    /* A head longer than max_head: 431, also while incomplete. */
    strcpy(t, "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    size_t k = strlen(t);
    memset(t + k, 'b', 300);
    t[k + 300] = 0;
    cr_assert_eq(ax_http_parse_request(t, strlen(t), &h, hdrs, 64, &l), AX_EPROTO);
    cr_assert_eq(h.status, 431);
    /* Too many headers: 431. */
    strcpy(t, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n");
    cr_assert_eq(ax_http_parse_request(t, strlen(t), &h, hdrs, 64, &l), AX_EPROTO);
    cr_assert_eq(h.status, 431);
    /* Exactly at the limit is fine. */
    strcpy(t, "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    cr_assert_gt(ax_http_parse_request(t, strlen(t), &h, hdrs, 64, &l), 0);
    /* The caller's array is a limit too. */
    cr_assert_eq(ax_http_parse_request(t, strlen(t), &h, hdrs, 2, NULL), AX_EPROTO);
    cr_assert_eq(h.status, 431);
}

Test(http_parse, responses) {
    ax_http_response_head r;
    const char *t = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nServer: x\r\n\r\nHello";
    ssize_t n = ax_http_parse_response(t, strlen(t), &r, hdrs, 64, NULL);
    cr_assert_eq(n, (ssize_t)strlen(t) - 5);
    cr_assert_eq(r.status, 200);
    cr_assert(str_is(r.reason, "OK"));
    cr_assert_eq(r.content_length, 13);
    cr_assert(r.keep_alive);
    t = "HTTP/1.0 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n";
    cr_assert_gt(ax_http_parse_response(t, strlen(t), &r, hdrs, 64, NULL), 0);
    cr_assert(r.chunked);
    cr_assert(!r.keep_alive);
    t = "HTTP/1.1 204\r\n\r\n";
    cr_assert_gt(ax_http_parse_response(t, strlen(t), &r, hdrs, 64, NULL), 0);
    cr_assert_eq(r.status, 204);
    t = "HTTP/1.1 200 OK\r\nContent-Length: 1";
    cr_assert_eq(ax_http_parse_response(t, strlen(t), &r, hdrs, 64, NULL), 0);
    static const char *const badr[] = {
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 099 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "XTTP/1.1 200 OK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof badr / sizeof badr[0]; i++)
        cr_expect_eq(ax_http_parse_response(badr[i], strlen(badr[i]), &r, hdrs, 64, NULL),
                     AX_EPROTO, "case %zu", i);
}

/* Decodes all of t, feeding `step` bytes at a time; returns the result
 * code and the payload in out. */
static ssize_t dechunk(const char *t, size_t len, size_t step, char *out, size_t *olen, int *status,
                       uint64_t max) {
    ax_http_chunked d;
    ax_http_chunked_init(&d, max);
    *olen = 0;
    size_t pos = 0, avail = 0;
    while (!ax_http_chunked_done(&d)) {
        if (pos == avail) {
            if (avail == len) return 0; /* incomplete */
            avail = avail + step > len ? len : avail + step;
        }
        const char *data;
        size_t dl;
        ssize_t n = ax_http_chunked_decode(&d, t + pos, avail - pos, 3, &data, &dl, status);
        if (n < 0) return n;
        memcpy(out + *olen, data, dl);
        *olen += dl;
        pos += (size_t)n;
    }
    return (ssize_t)pos;
}

Test(http_parse, chunked_good) {
    const char *t =
        "5\r\nHello\r\n7;ext=1;q=\"x\"\r\n, World\r\n1 \r\n!\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    char out[64];
    size_t ol;
    int st = 0;
    for (size_t step = 1; step <= strlen(t); step++) {
        ssize_t n = dechunk(t, strlen(t), step, out, &ol, &st, 0);
        cr_assert_eq(n, (ssize_t)strlen(t) - 4, "step %zu: %zd", step, n);
        cr_assert_eq(ol, 13);
        cr_assert_eq(memcmp(out, "Hello, World!", 13), 0);
    }
    /* upper-case hex, leading zeros */
    t = "000A\r\n0123456789\r\n0\r\n\r\n";
    cr_assert_gt(dechunk(t, strlen(t), 100, out, &ol, &st, 0), 0);
    cr_assert_eq(ol, 10);
}

Test(http_parse, chunked_bad) {
    static const struct {
        const char *t;
        int status;
    } cases[] = {
        {"x\r\n", 400},
        {"\r\n", 400},
        {" 5\r\nHello\r\n0\r\n\r\n", 400},
        {"-5\r\nHello\r\n0\r\n\r\n", 400},
        {"0x5\r\nHello\r\n0\r\n\r\n", 400},
        {"5\nHello\r\n0\r\n\r\n", 400},
        {"5\r\nHelloX\r\n0\r\n\r\n", 400},
        {"5\r\nHello\n0\r\n\r\n", 400},
        {"5\r\nHello\r\n0\r\n\n", 400},
        {"5\r\nHello\r\n0\r\n folded\r\n\r\n", 400},
        {"5\r\nHello\r\n0\r\nBad Name: x\r\n\r\n", 400},
        {"5;\001\r\nHello\r\n0\r\n\r\n", 400},
        {"11111111111111111\r\n", 400}, /* 17 digits */
        {"5\rX", 400},
    };
    char out[64];
    size_t ol;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st = 0;
        ssize_t n = dechunk(cases[i].t, strlen(cases[i].t), 1, out, &ol, &st, 0);
        cr_expect_eq(n, AX_EPROTO, "case %zu", i);
        cr_expect_eq(st, cases[i].status, "case %zu", i);
    }
    /* over max_body: 413 */
    int st = 0;
    const char *t = "10\r\n0123456789abcdef\r\n0\r\n\r\n";
    cr_assert_eq(dechunk(t, strlen(t), 4, out, &ol, &st, 15), AX_EMSGSIZE);
    cr_assert_eq(st, 413);
    cr_assert_gt(dechunk(t, strlen(t), 4, out, &ol, &st, 16), 0);
}

Test(http_parse, helpers) {
    cr_assert_str_eq(ax_http_reason(404), "Not Found");
    cr_assert_str_eq(ax_http_reason(799), "Unknown");
    cr_assert_str_eq(ax_http_method_name(AX_HTTP_PATCH), "PATCH");
    cr_assert_null(ax_http_method_name(AX_HTTP_OTHER));
    ax_http_str s = {"Content-TYPE", 12};
    cr_assert(ax_http_str_eq(s, "content-type"));
    cr_assert(!ax_http_str_eq(s, "content-typ"));
}

Test(http_parse, json_writer) {
    char buf[128];
    ax_json j;
    ax_json_init(&j, buf, sizeof buf);
    ax_json_object_begin(&j);
    ax_json_key(&j, "s");
    ax_json_string(&j, "a\"b\\c\n\x01");
    ax_json_key(&j, "n");
    ax_json_int(&j, -42);
    ax_json_key(&j, "a");
    ax_json_array_begin(&j);
    ax_json_bool(&j, true);
    ax_json_null(&j);
    ax_json_int(&j, INT64_MIN);
    ax_json_array_end(&j);
    ax_json_object_end(&j);
    ssize_t n = ax_json_finish(&j);
    cr_assert_gt(n, 0);
    cr_assert_str_eq(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":-42,\"a\":[true,null,"
                          "-9223372036854775808]}");
    ax_json_init(&j, buf, 8);
    ax_json_string(&j, "too long for eight");
    cr_assert_eq(ax_json_finish(&j), AX_ENOSPC);
}

Test(http_parse, form_values) {
    const char *f = "a=1&name=J%C3%B6rg+Doe&empty=&flag&bad=%zz";
    ax_http_str form = {f, strlen(f)};
    char out[64];
    cr_assert_eq(ax_http_form_value(form, "a", out, sizeof out), 1);
    cr_assert_str_eq(out, "1");
    cr_assert_eq(ax_http_form_value(form, "name", out, sizeof out), 9);
    cr_assert_str_eq(out, "J\xc3\xb6rg Doe");
    cr_assert_eq(ax_http_form_value(form, "empty", out, sizeof out), 0);
    cr_assert_eq(ax_http_form_value(form, "flag", out, sizeof out), 0);
    cr_assert_eq(ax_http_form_value(form, "missing", out, sizeof out), AX_ENOENT);
    cr_assert_eq(ax_http_form_value(form, "bad", out, sizeof out), AX_EINVAL);
    cr_assert_eq(ax_http_form_value(form, "name", out, 4), AX_ENOSPC);
}
