/* Windows only: name resolution there (the default resolver uses
 * getaddrinfo on the blocking pool plus the Windows hosts file; test_dns.c,
 * which starts dnsmasq, does not build for Windows): literals, localhost,
 * bad names, a name that does not exist, a resolver that reads a hosts
 * file of ours, and a TCP connect by host name. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "test/net/net_util.h"

static void expect_ip(const ax_ip *ip, const char *text) {
    char s[AX_IP_STRLEN];
    cr_assert_geq(ax_ip_format(ip, s, sizeof s), 0);
    cr_assert_str_eq(s, text);
}

Test(dns_win, literals_and_arguments) {
    ax_ip out[4];
    cr_assert_eq(ax_resolve("127.0.0.1", 0, out, 4, AX_NO_DEADLINE), 1);
    expect_ip(&out[0], "127.0.0.1");
    cr_assert_eq(ax_resolve("::1", 0, out, 4, AX_NO_DEADLINE), 1);
    expect_ip(&out[0], "::1");
    cr_assert_eq(ax_resolve("127.0.0.1", AX_INET6, out, 4, AX_NO_DEADLINE), AX_ENOADDR);
    cr_assert_eq(ax_resolve("127.0.0.1", 5, out, 4, AX_NO_DEADLINE), AX_EINVAL);
    cr_assert_eq(ax_resolve("example.test", 0, out, 4, AX_NO_DEADLINE), AX_ENOTASK);
}

static void *names(void *arg) {
    (void)arg;
    ax_ip out[8];
    int n = ax_resolve("localhost", AX_INET, out, 8, ax_deadline_in_ms(10000));
    cr_assert_geq(n, 1, "localhost: %s", ax_err_name(n));
    expect_ip(&out[0], "127.0.0.1");
    cr_assert_eq(ax_resolve("bad name", 0, out, 8, ax_deadline_in_ms(1000)), AX_EINVAL);
    cr_assert_eq(ax_resolve("a..b", 0, out, 8, ax_deadline_in_ms(1000)), AX_EINVAL);
    /* .invalid never resolves (RFC 2606): an error, whichever the system's
     * resolver gives without a network (NXDOMAIN, SERVFAIL, a timeout). */
    n = ax_resolve("no-such-host.invalid", 0, out, 8, ax_deadline_in_ms(10000));
    cr_assert_lt(n, 0, "no-such-host.invalid resolved to %d addresses", n);
    return NULL;
}

Test(dns_win, localhost_bad_and_missing_names, .init = rt_two, .fini = rt_done) {
    run_task(names, NULL);
}

/* A resolver whose hosts file is ours: the file is consulted before the
 * system's resolver. */
static void *own_hosts(void *arg) {
    const char *path = arg;
    ax_resolver_config cfg;
    ax_resolver_config_init(&cfg);
    cr_assert(cfg.use_getaddrinfo, "Windows resolves through getaddrinfo by default");
    snprintf(cfg.hosts_path, sizeof cfg.hosts_path, "%s", path);
    ax_resolver *r;
    cr_assert_eq(ax_resolver_new(&cfg, &r), 0);
    ax_ip out[4];
    int n = ax_resolver_lookup(r, "service.test", AX_INET, out, 4, ax_deadline_in_ms(5000));
    cr_assert_eq(n, 1, "got %s", ax_err_name(n));
    expect_ip(&out[0], "127.0.0.7");
    ax_resolver_free(r);
    return NULL;
}

Test(dns_win, hosts_file_first, .init = rt_one, .fini = rt_done) {
    char dir[MAX_PATH], path[MAX_PATH];
    cr_assert(GetTempPathA(sizeof dir, dir));
    cr_assert(GetTempFileNameA(dir, "axh", 0, path));
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fputs("# test hosts\n127.0.0.7 service.test\n", f);
    fclose(f);
    run_task(own_hosts, path);
    remove(path);
}

static void *connect_by_name(void *arg) {
    (void)arg;
    ax_addr bound;
    ax_tcp_listener *l = listen_loopback(AX_INET, &bound);
    ax_tcp *c, *s;
    int err = ax_tcp_connect_host("localhost", bound.port, ax_deadline_in_ms(10000), &c);
    cr_assert_eq(err, 0, "connect localhost:%u: %s", bound.port, ax_err_name(err));
    cr_assert_eq(ax_tcp_accept(l, &s, NULL, ax_deadline_in_ms(5000)), 0);
    cr_assert_eq(ax_tcp_write_all(c, "hi", 2, ax_deadline_in_ms(5000)), 0);
    char buf[2];
    cr_assert_eq(ax_tcp_read_exact(s, buf, 2, ax_deadline_in_ms(5000)), 0);
    cr_assert_eq(memcmp(buf, "hi", 2), 0);
    ax_tcp_close(c);
    ax_tcp_close(s);
    ax_tcp_listener_close(l);
    return NULL;
}

Test(dns_win, tcp_connect_by_host_name, .init = rt_two, .fini = rt_done) {
    run_task(connect_by_name, NULL);
}
