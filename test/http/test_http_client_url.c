/* URLs for the HTTP client: parsing (schemes, default ports, IPv6
 * literals, userinfo refused, bad bytes and ports) and resolving Location
 * references against a base (RFC 3986 section 5.4's examples among them). */
#include <criterion/criterion.h>
#include <string.h>

#include "axon.h"

static ax_http_url parse_ok(const char *s) {
    ax_http_url u;
    int err = ax_http_url_parse(s, strlen(s), &u);
    cr_assert_eq(err, 0, "%s: %s", s, ax_err_name(err));
    return u;
}

static void expect_str(ax_http_str s, const char *want) {
    cr_assert_eq(s.len, strlen(want), "'%.*s' vs '%s'", (int)s.len, s.ptr, want);
    cr_assert_eq(memcmp(s.ptr, want, s.len), 0, "'%.*s' vs '%s'", (int)s.len, s.ptr, want);
}

Test(http_client_url, parses) {
    ax_http_url u = parse_ok("http://example.com");
    cr_assert(!u.secure);
    expect_str(u.host, "example.com");
    cr_assert_eq(u.port, 80);
    cr_assert(u.default_port);
    expect_str(u.target, "/");
    u = parse_ok("HTTPS://Example.COM:8443/a/b?x=1&y=%20#frag");
    cr_assert(u.secure);
    cr_assert_eq(u.port, 8443);
    cr_assert(!u.default_port);
    expect_str(u.host, "Example.COM");
    expect_str(u.target, "/a/b?x=1&y=%20");
    u = parse_ok("https://h:443/");
    cr_assert(u.default_port);
    u = parse_ok("http://h:/p"); /* empty port: the default */
    cr_assert_eq(u.port, 80);
    u = parse_ok("http://[::1]:8080/x");
    cr_assert(u.ipv6);
    expect_str(u.host, "::1");
    cr_assert_eq(u.port, 8080);
    u = parse_ok("http://[2001:db8::7]");
    expect_str(u.host, "2001:db8::7");
    cr_assert_eq(u.port, 80);
    u = parse_ok("http://127.0.0.2:1/?q");
    expect_str(u.target, "/?q");
    u = parse_ok("http://h?q=1");
    expect_str(u.target, "?q=1");
    u = parse_ok("http://h#f");
    expect_str(u.target, "/");
}

Test(http_client_url, refuses) {
    const char *bad[] = {
        "",
        "http:",
        "http:/x",
        "http://",
        "http:///path",
        "http://user@host/",
        "http://user:pw@host/",
        "http://host:0/",
        "http://host:65536/",
        "http://host:12a/",
        "http://ho st/",
        "http://host/a b",
        "http://host/\x01",
        "http://host/\xc3\xa9",
        "http://[::1/",
        "http://[]/",
        "http://[1.2.3.4]/",
        "http://[::1]x/",
        "://host/",
        "1http://host/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ax_http_url u;
        cr_assert_eq(ax_http_url_parse(bad[i], strlen(bad[i]), &u), AX_EINVAL, "'%s'", bad[i]);
    }
    ax_http_url u;
    cr_assert_eq(ax_http_url_parse("ftp://h/", 8, &u), AX_ENOTSUP);
    cr_assert_eq(ax_http_url_parse("ws://h/", 7, &u), AX_ENOTSUP);
    cr_assert_eq(ax_http_url_parse(NULL, 0, &u), AX_EINVAL);
}

static void expect_resolve(const char *base, const char *ref, const char *want) {
    char out[256];
    ssize_t n = ax_http_url_resolve(base, ref, strlen(ref), out, sizeof out);
    cr_assert_geq(n, 0, "%s + %s: %s", base, ref, ax_err_name((int)n));
    cr_assert_str_eq(out, want, "%s + %s", base, ref);
    cr_assert_eq((size_t)n, strlen(want));
}

Test(http_client_url, resolves_references) {
    const char *b = "http://a/b/c/d;p?q";
    /* RFC 3986 5.4.1 (normal) and 5.4.2 (abnormal) examples for http. */
    expect_resolve(b, "g", "http://a/b/c/g");
    expect_resolve(b, "./g", "http://a/b/c/g");
    expect_resolve(b, "g/", "http://a/b/c/g/");
    expect_resolve(b, "/g", "http://a/g");
    expect_resolve(b, "//g", "http://g/");
    expect_resolve(b, "?y", "http://a/b/c/d;p?y");
    expect_resolve(b, "g?y", "http://a/b/c/g?y");
    expect_resolve(b, "#s", "http://a/b/c/d;p?q");
    expect_resolve(b, "g#s", "http://a/b/c/g");
    expect_resolve(b, ";x", "http://a/b/c/;x");
    expect_resolve(b, "", "http://a/b/c/d;p?q");
    expect_resolve(b, ".", "http://a/b/c/");
    expect_resolve(b, "./", "http://a/b/c/");
    expect_resolve(b, "..", "http://a/b/");
    expect_resolve(b, "../", "http://a/b/");
    expect_resolve(b, "../g", "http://a/b/g");
    expect_resolve(b, "../..", "http://a/");
    expect_resolve(b, "../../g", "http://a/g");
    expect_resolve(b, "../../../g", "http://a/g");
    expect_resolve(b, "/./g", "http://a/g");
    expect_resolve(b, "/../g", "http://a/g");
    expect_resolve(b, "g.", "http://a/b/c/g.");
    expect_resolve(b, "..g", "http://a/b/c/..g");
    expect_resolve(b, "./../g", "http://a/b/g");
    expect_resolve(b, "g/./h", "http://a/b/c/g/h");
    expect_resolve(b, "g/../h", "http://a/b/c/h");
    /* Absolute references replace the base. */
    expect_resolve(b, "https://x:8443/p/../q?z", "https://x:8443/q?z");
    expect_resolve(b, "http://x", "http://x/");
    expect_resolve("https://h:1/a", "//k:2/z", "https://k:2/z");
    expect_resolve("http://[::1]:8/a/b", "c", "http://[::1]:8/a/c");
    expect_resolve("http://h", "x", "http://h/x");
    /* A long segment that ".." removes: the result fits a small buffer
     * even though the text before the removal would not (found by
     * fuzz_http_url). */
    char small[32];
    const char *lb = "http://a//))))))))))))))))))))))))))))))))))))))jc/d;p?q";
    cr_assert_eq(ax_http_url_resolve(lb, "..", 2, small, sizeof small), 10);
    cr_assert_str_eq(small, "http://a//");
    /* Errors. */
    char out[16];
    cr_assert_eq(ax_http_url_resolve(b, "http://u@x/", 11, out, sizeof out), AX_EINVAL);
    cr_assert_eq(ax_http_url_resolve(b, "ftp://x/", 8, out, sizeof out), AX_ENOTSUP);
    cr_assert_eq(ax_http_url_resolve(b, "a b", 3, out, sizeof out), AX_EINVAL);
    cr_assert_eq(ax_http_url_resolve(b, "/a-long-path-here", 17, out, sizeof out), AX_ENOSPC);
    cr_assert_eq(ax_http_url_resolve("nope", "/a", 2, out, sizeof out), AX_EINVAL);
}
