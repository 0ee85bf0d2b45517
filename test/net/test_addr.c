/* Addresses: parsing, formatting, comparing, classifying, sockaddr. */
#include <criterion/criterion.h>
#ifdef _WIN32
#include <ws2tcpip.h>
#else
#include <netinet/in.h>
#endif
#include <string.h>

#include "axon.h"

static void round_trip_ip(const char *in, const char *expect) {
    ax_ip ip;
    cr_assert_eq(ax_ip_parse(in, &ip), 0, "%s did not parse", in);
    char out[AX_IP_STRLEN];
    cr_assert_geq(ax_ip_format(&ip, out, sizeof out), 0);
    cr_assert_str_eq(out, expect);
}

Test(addr, ip_parse_and_format) {
    round_trip_ip("192.0.2.1", "192.0.2.1");
    round_trip_ip("0.0.0.0", "0.0.0.0");
    round_trip_ip("255.255.255.255", "255.255.255.255");
    round_trip_ip("::1", "::1");
    round_trip_ip("2001:DB8:0:0:0:0:0:1", "2001:db8::1");
    round_trip_ip("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1");
    round_trip_ip("::ffff:192.0.2.1", "::ffff:192.0.2.1");
#ifdef _WIN32 /* scope ids stay numeric: no interface names (AX_WIN_NO_IFNAME) */
    round_trip_ip("fe80::1%1", "fe80::1%1");
    ax_ip named;
    cr_assert_eq(ax_ip_parse("fe80::1%lo", &named), AX_EINVAL);
#else
    round_trip_ip("fe80::1%1", "fe80::1%lo"); /* index 1 is lo here */
    round_trip_ip("fe80::1%lo", "fe80::1%lo");
#endif
    round_trip_ip("fe80::1%999", "fe80::1%999");
}

Test(addr, ip_parse_rejects) {
    const char *bad[] = {"",         "1.2.3",  "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                         "1.2.3.04", "1..2.3", "1.2.3.4 ",  " 1.2.3.4",  "a.b.c.d",
                         "1.2.3.-4", ":::",    "1::2::3",   "::1%",      "::1%nosuchif0",
                         "12345::",  "::g",    "1.2.3.4%1", "[::1]",     "1234.1.1.1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ax_ip ip;
        cr_assert_eq(ax_ip_parse(bad[i], &ip), AX_EINVAL, "accepted \"%s\"", bad[i]);
    }
    cr_assert_eq(ax_ip_parse(NULL, NULL), AX_EINVAL);
}

Test(addr, addr_parse_and_format) {
    struct {
        const char *in, *out;
        uint16_t port;
    } ok[] = {{"127.0.0.1:80", "127.0.0.1:80", 80},
              {"[::1]:443", "[::1]:443", 443},
              {"[2001:db8::1]:0", "[2001:db8::1]:0", 0},
              {"0.0.0.0:65535", "0.0.0.0:65535", 65535},
#ifdef _WIN32
              {"[fe80::1%7]:8080", "[fe80::1%7]:8080", 8080}};
#else
              {"[fe80::1%lo]:8080", "[fe80::1%lo]:8080", 8080}};
#endif
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        ax_addr a;
        cr_assert_eq(ax_addr_parse(ok[i].in, &a), 0, "%s", ok[i].in);
        cr_assert_eq(a.port, ok[i].port);
        char out[AX_ADDR_STRLEN];
        cr_assert_eq(ax_addr_format(&a, out, sizeof out), (int)strlen(ok[i].out));
        cr_assert_str_eq(out, ok[i].out);
    }
    const char *bad[] = {
        "127.0.0.1", "127.0.0.1:",     "127.0.0.1:65536", "::1:80",       "[::1]80",
        "[::1]:",    "[127.0.0.1]:80", "[]:80",           "1.2.3.4:8a",   "1.2.3.4:-1",
        ":80",       "[::1]:123456",   "[::1:80",         "1.2.3.4:80:1", "host:80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ax_addr a;
        cr_assert_eq(ax_addr_parse(bad[i], &a), AX_EINVAL, "accepted \"%s\"", bad[i]);
    }
}

Test(addr, format_reports_short_buffers) {
    ax_addr a;
    cr_assert_eq(ax_addr_parse("[2001:db8::1]:443", &a), 0);
    char out[8];
    cr_assert_eq(ax_addr_format(&a, out, sizeof out), AX_ENOSPC);
    cr_assert_eq(ax_ip_format(&a.ip, out, 4), AX_ENOSPC);
    cr_assert_eq(ax_ip_format(&a.ip, out, 0), AX_ENOSPC);
    ax_ip bad = {.family = (ax_family)9};
    cr_assert_eq(ax_ip_format(&bad, out, sizeof out), AX_EINVAL);
}

Test(addr, compare_and_equal) {
    ax_addr a, b, c, d;
    ax_addr_parse("10.0.0.1:80", &a);
    ax_addr_parse("10.0.0.1:81", &b);
    ax_addr_parse("[::1]:80", &c);
    ax_addr_parse("10.0.0.2:1", &d);
    cr_assert_lt(ax_addr_compare(&a, &b), 0);
    cr_assert_lt(ax_addr_compare(&a, &c), 0); /* IPv4 before IPv6 */
    cr_assert_lt(ax_addr_compare(&b, &d), 0); /* address before port */
    cr_assert_gt(ax_addr_compare(&c, &a), 0);
    cr_assert(ax_addr_equal(&a, &a));
    cr_assert_not(ax_addr_equal(&a, &b));
    ax_ip s1, s2;
    ax_ip_parse("fe80::1%1", &s1);
    ax_ip_parse("fe80::1%2", &s2);
    cr_assert_not(ax_ip_equal(&s1, &s2)); /* the scope counts */
    ax_addr l4 = ax_addr_loopback(AX_INET, 5), l6 = ax_addr_loopback(AX_INET6, 5);
    char out[AX_ADDR_STRLEN];
    ax_addr_format(&l4, out, sizeof out);
    cr_assert_str_eq(out, "127.0.0.1:5");
    ax_addr_format(&l6, out, sizeof out);
    cr_assert_str_eq(out, "[::1]:5");
    ax_addr any = ax_addr_any(AX_INET6, 0);
    cr_assert(ax_ip_is_unspecified(&any.ip));
}

static bool check(const char *s, bool (*fn)(const ax_ip *)) {
    ax_ip ip;
    cr_assert_eq(ax_ip_parse(s, &ip), 0, "%s", s);
    return fn(&ip);
}

Test(addr, classify) {
    cr_assert(check("127.0.0.1", ax_ip_is_loopback));
    cr_assert(check("127.255.0.9", ax_ip_is_loopback));
    cr_assert(check("::1", ax_ip_is_loopback));
    cr_assert(check("::ffff:127.0.0.1", ax_ip_is_loopback));
    cr_assert_not(check("128.0.0.1", ax_ip_is_loopback));
    cr_assert_not(check("::2", ax_ip_is_loopback));
    cr_assert(check("10.1.2.3", ax_ip_is_private));
    cr_assert(check("172.16.0.1", ax_ip_is_private));
    cr_assert(check("172.31.255.255", ax_ip_is_private));
    cr_assert_not(check("172.32.0.1", ax_ip_is_private));
    cr_assert_not(check("172.15.0.1", ax_ip_is_private));
    cr_assert(check("192.168.1.1", ax_ip_is_private));
    cr_assert(check("fd00::1", ax_ip_is_private));
    cr_assert(check("fc00::1", ax_ip_is_private));
    cr_assert_not(check("fe00::1", ax_ip_is_private));
    cr_assert_not(check("8.8.8.8", ax_ip_is_private));
    cr_assert(check("224.0.0.1", ax_ip_is_multicast));
    cr_assert(check("239.255.255.255", ax_ip_is_multicast));
    cr_assert_not(check("240.0.0.1", ax_ip_is_multicast));
    cr_assert(check("ff02::1", ax_ip_is_multicast));
    cr_assert(check("169.254.1.1", ax_ip_is_link_local));
    cr_assert(check("fe80::1", ax_ip_is_link_local));
    cr_assert(check("febf::1", ax_ip_is_link_local));
    cr_assert_not(check("fec0::1", ax_ip_is_link_local));
    cr_assert(check("0.0.0.0", ax_ip_is_unspecified));
    cr_assert(check("::", ax_ip_is_unspecified));
    cr_assert(check("::ffff:1.2.3.4", ax_ip_is_v4_mapped));
    ax_ip m;
    ax_ip_parse("::ffff:1.2.3.4", &m);
    ax_ip u = ax_ip_unmap(&m), v4 = ax_ip_v4(1, 2, 3, 4);
    cr_assert(ax_ip_equal(&u, &v4));
}

Test(addr, sockaddr_conversion) {
    ax_addr a, back;
    struct sockaddr_storage ss;
    socklen_t len;
    ax_addr_parse("[fe80::5%1]:9", &a);
    cr_assert_eq(ax_addr_to_sockaddr(&a, &ss, &len), 0);
    cr_assert_eq(len, sizeof(struct sockaddr_in6));
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    cr_assert_eq(ntohs(in6->sin6_port), 9);
    cr_assert_eq(in6->sin6_scope_id, 1);
    cr_assert_eq(ax_addr_from_sockaddr((struct sockaddr *)&ss, len, &back), 0);
    cr_assert(ax_addr_equal(&a, &back));
    ax_addr_parse("192.0.2.7:65000", &a);
    cr_assert_eq(ax_addr_to_sockaddr(&a, &ss, &len), 0);
    cr_assert_eq(len, sizeof(struct sockaddr_in));
    cr_assert_eq(ax_addr_from_sockaddr((struct sockaddr *)&ss, len, &back), 0);
    cr_assert(ax_addr_equal(&a, &back));
    cr_assert_eq(ax_addr_from_sockaddr((struct sockaddr *)&ss, 4, &back), AX_EINVAL);
    ss.ss_family = AF_UNIX;
    cr_assert_eq(ax_addr_from_sockaddr((struct sockaddr *)&ss, sizeof ss, &back), AX_EINVAL);
}
