/* axon/addr.h - IPv4 and IPv6 addresses and socket addresses.
 *
 * ax_ip is an IP address of either family held by value (no allocation);
 * ax_addr is an IP address and a port. Both are plain structs a program may
 * copy, compare with the functions below (not memcmp: unused bytes are
 * kept zero by every function here, but a struct filled by hand may not),
 * and convert to and from struct sockaddr.
 *
 * Text forms:
 *   IPv4        "192.0.2.1"          (exactly four decimal parts, no leading
 *                                     zeros: "010.1.1.1" is ambiguous, refused)
 *   IPv6        "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0", "fe80::1%3"
 *   with port   "192.0.2.1:80", "[2001:db8::1]:443", "[fe80::1%eth0]:80"
 * A scope (zone) id names an interface: by name (looked up with
 * if_nametoindex) or by number. Formatting writes the canonical forms of
 * RFC 5952 (lower case, longest zero run compressed) and the scope as an
 * interface name when the interface exists, else as a number.
 *
 * Thread-safety: every function is pure or uses only its arguments, and
 * may be called from any thread.
 */
#ifndef AXON_ADDR_H
#define AXON_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/socket.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ax_family { AX_INET = 4, AX_INET6 = 6 } ax_family;

/* An IP address. bytes holds 4 bytes (network order) for AX_INET, 16 for
 * AX_INET6; scope_id is an interface index for scoped IPv6 addresses
 * (link-local), else 0. */
typedef struct ax_ip {
    ax_family family;
    uint32_t scope_id;
    uint8_t bytes[16];
} ax_ip;

/* An IP address and a port (host order). */
typedef struct ax_addr {
    ax_ip ip;
    uint16_t port;
} ax_addr;

/* Buffer sizes that always fit a formatted address, terminator included. */
#define AX_IP_STRLEN   64 /* 45 for the address, '%' and an interface name */
#define AX_ADDR_STRLEN 72 /* brackets, ':' and five digits more */

/* Parses an IPv4 or IPv6 address (with an optional %scope for IPv6).
 * Returns 0, or AX_EINVAL when s is not an address (or names an interface
 * that does not exist). */
int ax_ip_parse(const char *s, ax_ip *out);

/* Parses "ip:port" or "[ipv6]:port" (port 0..65535, decimal). A bare IPv6
 * address without brackets is refused (its last group would be ambiguous).
 * Returns 0 or AX_EINVAL. */
int ax_addr_parse(const char *s, ax_addr *out);

/* Formats ip / addr into buf (capacity cap, NUL-terminated). Returns the
 * length written (without the NUL), AX_ENOSPC when it does not fit, or
 * AX_EINVAL for an unknown family. */
int ax_ip_format(const ax_ip *ip, char *buf, size_t cap);
int ax_addr_format(const ax_addr *addr, char *buf, size_t cap);

/* Constructors. ax_ip_v4(192,0,2,1); ax_ip_v6 takes 16 bytes in network
 * order. ax_addr_any / ax_addr_loopback: 0.0.0.0 / :: and 127.0.0.1 / ::1. */
ax_ip ax_ip_v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
ax_ip ax_ip_v6(const uint8_t bytes[16], uint32_t scope_id);
ax_addr ax_addr_make(ax_ip ip, uint16_t port);
ax_addr ax_addr_any(ax_family family, uint16_t port);
ax_addr ax_addr_loopback(ax_family family, uint16_t port);

/* Total order: IPv4 before IPv6, then bytes, then scope id (and then port
 * for addresses). Returns <0, 0, >0. */
int ax_ip_compare(const ax_ip *a, const ax_ip *b);
int ax_addr_compare(const ax_addr *a, const ax_addr *b);
bool ax_ip_equal(const ax_ip *a, const ax_ip *b);
bool ax_addr_equal(const ax_addr *a, const ax_addr *b);

/* Classification. An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is
 * classified as the IPv4 address it carries.
 *   loopback     127.0.0.0/8, ::1
 *   private      10/8, 172.16/12, 192.168/16, fc00::/7 (unique local)
 *   multicast    224.0.0.0/4, ff00::/8
 *   link-local   169.254/16, fe80::/10
 *   unspecified  0.0.0.0, :: */
bool ax_ip_is_loopback(const ax_ip *ip);
bool ax_ip_is_private(const ax_ip *ip);
bool ax_ip_is_multicast(const ax_ip *ip);
bool ax_ip_is_link_local(const ax_ip *ip);
bool ax_ip_is_unspecified(const ax_ip *ip);
/* True for ::ffff:a.b.c.d; ax_ip_unmap turns it into a.b.c.d (any other
 * address is returned unchanged). */
bool ax_ip_is_v4_mapped(const ax_ip *ip);
ax_ip ax_ip_unmap(const ax_ip *ip);

/* Converts to a sockaddr_in / sockaddr_in6 in *ss; *len receives its size.
 * Returns 0 or AX_EINVAL (unknown family). */
int ax_addr_to_sockaddr(const ax_addr *addr, struct sockaddr_storage *ss, socklen_t *len);
/* Converts from a sockaddr of family AF_INET or AF_INET6. Returns 0, or
 * AX_EINVAL (other family, or len too short). */
int ax_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, ax_addr *out);

#ifdef __cplusplus
}
#endif
#endif
