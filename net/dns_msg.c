/* net/dns_msg.c - DNS messages (RFC 1035): building a query, and parsing
 * the answer to it.
 *
 * The answer comes from the network, so the parser trusts nothing: every
 * read is checked against the message's length, a compression pointer
 * must point strictly before the label that holds it (so following
 * pointers always terminates) and at most AX__DNS_MAX_HOPS are followed,
 * a decoded name may not exceed 255 bytes, and counts in the header are
 * only upper bounds for loops that also stop at the end of the message.
 */
#include <string.h>

#include "axon/error.h"
#include "net/dns_internal.h"

#define AX__DNS_HDR        12
#define AX__DNS_MAX_HOPS   64
#define AX__DNS_MAX_CNAMES 16

int ax__dns_build_query(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *name, size_t name_len,
                        uint16_t qtype) {
    size_t need = AX__DNS_HDR + name_len + 4;
    if (cap < need) return AX_ENOSPC;
    memset(buf, 0, AX__DNS_HDR);
    buf[0] = (uint8_t)(id >> 8);
    buf[1] = (uint8_t)id;
    buf[2] = 0x01; /* RD: recursion desired */
    buf[5] = 1;    /* QDCOUNT */
    memcpy(buf + AX__DNS_HDR, name, name_len);
    uint8_t *q = buf + AX__DNS_HDR + name_len;
    q[0] = (uint8_t)(qtype >> 8);
    q[1] = (uint8_t)qtype;
    q[2] = 0;
    q[3] = AX__DNS_C_IN;
    return (int)need;
}

static uint16_t ax__rd16(const uint8_t *p) {
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t ax__rd32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes the (possibly compressed) name at msg[*off] into lower-case wire
 * form in out (AX__DNS_WIRE_MAX bytes). *off moves past the name as it
 * appears at its place (a pointer counts 2 bytes). Returns the wire length
 * or AX_EBADRESP. */
static int ax__dns_read_name(const uint8_t *msg, size_t len, size_t *off, uint8_t *out) {
    size_t p = *off, w = 0, after = 0;
    int hops = 0;
    bool jumped = false;
    for (;;) {
        if (p >= len) return AX_EBADRESP;
        uint8_t c = msg[p];
        if ((c & 0xC0) == 0xC0) {
            if (p + 1 >= len) return AX_EBADRESP;
            size_t target = (size_t)(c & 0x3F) << 8 | msg[p + 1];
            /* Strictly backwards: a pointer can never lead back to itself. */
            if (target >= p || ++hops > AX__DNS_MAX_HOPS) return AX_EBADRESP;
            if (!jumped) after = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (c & 0xC0) return AX_EBADRESP; /* 0x40 / 0x80: extended label types, unused */
        if (c == 0) {
            if (w + 1 > AX__DNS_WIRE_MAX) return AX_EBADRESP;
            out[w++] = 0;
            *off = jumped ? after : p + 1;
            return (int)w;
        }
        if (p + 1 + c > len || w + 1 + c + 1 > AX__DNS_WIRE_MAX) return AX_EBADRESP;
        out[w++] = c;
        for (size_t i = 0; i < c; i++) {
            uint8_t b = msg[p + 1 + i];
            out[w++] = (b >= 'A' && b <= 'Z') ? (uint8_t)(b + 32) : b;
        }
        p += 1 + (size_t)c;
    }
}

/* One resource record's fixed part, located. */
typedef struct ax__dns_rr {
    uint8_t name[AX__DNS_WIRE_MAX];
    int name_len;
    uint16_t type, cls;
    uint32_t ttl;
    size_t rdata, rdlen; /* offset and length of the data, within the message */
} ax__dns_rr;

static int ax__dns_read_rr(const uint8_t *msg, size_t len, size_t *off, ax__dns_rr *rr) {
    rr->name_len = ax__dns_read_name(msg, len, off, rr->name);
    if (rr->name_len < 0) return AX_EBADRESP;
    if (len - *off < 10) return AX_EBADRESP;
    const uint8_t *p = msg + *off;
    rr->type = ax__rd16(p);
    rr->cls = ax__rd16(p + 2);
    rr->ttl = ax__rd32(p + 4);
    if (rr->ttl > 0x7FFFFFFFu) rr->ttl = 0; /* RFC 2181 8: treat as zero */
    rr->rdlen = ax__rd16(p + 8);
    rr->rdata = *off + 10;
    if (rr->rdlen > len - rr->rdata) return AX_EBADRESP;
    *off = rr->rdata + rr->rdlen;
    return 0;
}

static bool ax__dns_same(const uint8_t *a, int al, const uint8_t *b, size_t bl) {
    return al >= 0 && (size_t)al == bl && memcmp(a, b, bl) == 0;
}

int ax__dns_parse_answer(const uint8_t *msg, size_t len, uint16_t id, const uint8_t *name,
                         size_t name_len, uint16_t qtype, ax__dns_answer *a) {
    a->n = 0;
    a->ttl = UINT32_MAX;
    a->truncated = false;
    a->rcode = 0;
    if (len < AX__DNS_HDR || name_len == 0 || name_len > AX__DNS_WIRE_MAX) return AX_EBADRESP;
    if (ax__rd16(msg) != id) return AX_EBADRESP;
    uint8_t f1 = msg[2], f2 = msg[3];
    if (!(f1 & 0x80)) return AX_EBADRESP;            /* QR: not a response */
    if (((f1 >> 3) & 0x0F) != 0) return AX_EBADRESP; /* opcode: not QUERY */
    a->truncated = (f1 & 0x02) != 0;
    a->rcode = f2 & 0x0F;
    unsigned qd = ax__rd16(msg + 4), an = ax__rd16(msg + 6), ns = ax__rd16(msg + 8);

    /* The question must be ours. (A FORMERR or truncated reply may omit it;
     * then only the id vouches for it, which is what other stubs accept.) */
    size_t off = AX__DNS_HDR;
    if (qd > 1) return AX_EBADRESP;
    if (qd == 1) {
        uint8_t qn[AX__DNS_WIRE_MAX];
        int ql = ax__dns_read_name(msg, len, &off, qn);
        if (ql < 0 || len - off < 4) return AX_EBADRESP;
        if (!ax__dns_same(qn, ql, name, name_len) || ax__rd16(msg + off) != qtype ||
            ax__rd16(msg + off + 2) != AX__DNS_C_IN)
            return AX_EBADRESP;
        off += 4;
    } else if (a->rcode == AX__DNS_RCODE_NOERROR && !a->truncated) {
        return AX_EBADRESP; /* an answer to no question */
    }
    if (a->truncated) return 0; /* the rest is asked again over TCP */
    if (a->rcode != AX__DNS_RCODE_NOERROR && a->rcode != AX__DNS_RCODE_NXDOMAIN) return 0;

    /* Answer section: validated once, then walked again per CNAME hop, so
     * CNAMEs in any order are followed. `cur` is the name whose records
     * count: the question, then each CNAME target. */
    size_t an_start = off;
    ax__dns_rr rr;
    for (unsigned i = 0; i < an; i++)
        if (ax__dns_read_rr(msg, len, &off, &rr)) return AX_EBADRESP;
    size_t an_end = off;

    uint8_t cur[AX__DNS_WIRE_MAX];
    size_t cur_len = name_len;
    memcpy(cur, name, name_len);
    uint32_t ttl = UINT32_MAX;
    for (int hop = 0;; hop++) {
        bool moved = false;
        off = an_start;
        for (unsigned i = 0; i < an && !moved; i++) {
            if (ax__dns_read_rr(msg, len, &off, &rr)) return AX_EBADRESP;
            if (rr.cls != AX__DNS_C_IN || rr.type != AX__DNS_T_CNAME ||
                !ax__dns_same(rr.name, rr.name_len, cur, cur_len))
                continue;
            if (hop >= AX__DNS_MAX_CNAMES) return AX_EBADRESP; /* a chain too long, or a loop */
            size_t t = rr.rdata;
            int tl = ax__dns_read_name(msg, len, &t, cur);
            if (tl < 0 || t != rr.rdata + rr.rdlen) return AX_EBADRESP;
            cur_len = (size_t)tl;
            if (rr.ttl < ttl) ttl = rr.ttl;
            moved = true;
        }
        if (!moved) break;
    }

    off = an_start;
    for (unsigned i = 0; i < an; i++) {
        if (ax__dns_read_rr(msg, len, &off, &rr)) return AX_EBADRESP;
        if (rr.cls != AX__DNS_C_IN || rr.type != qtype ||
            !ax__dns_same(rr.name, rr.name_len, cur, cur_len))
            continue;
        size_t want = qtype == AX__DNS_T_A ? 4 : 16;
        if (rr.rdlen != want) return AX_EBADRESP;
        if (a->n < AX__DNS_MAX_ADDRS) {
            ax_ip ip;
            memset(&ip, 0, sizeof ip);
            ip.family = qtype == AX__DNS_T_A ? AX_INET : AX_INET6;
            memcpy(ip.bytes, msg + rr.rdata, want);
            bool dup = false;
            for (size_t k = 0; k < a->n && !dup; k++) dup = ax_ip_equal(&a->addrs[k], &ip);
            if (!dup) a->addrs[a->n++] = ip;
        }
        if (rr.ttl < ttl) ttl = rr.ttl;
    }
    if (a->rcode == AX__DNS_RCODE_NXDOMAIN) a->n = 0; /* addresses with NXDOMAIN: nonsense */

    if (a->n > 0) {
        a->ttl = ttl;
        return 0;
    }
    /* Negative: the authority section's SOA says how long to believe it. */
    off = an_end;
    for (unsigned i = 0; i < ns; i++) {
        if (ax__dns_read_rr(msg, len, &off, &rr)) return AX_EBADRESP;
        if (rr.type != AX__DNS_T_SOA || rr.cls != AX__DNS_C_IN) continue;
        /* MNAME and RNAME, then five 32-bit fields; MINIMUM is the last. */
        uint8_t skip[AX__DNS_WIRE_MAX];
        size_t t = rr.rdata;
        if (ax__dns_read_name(msg, len, &t, skip) < 0 || ax__dns_read_name(msg, len, &t, skip) < 0)
            return AX_EBADRESP;
        if (t + 20 != rr.rdata + rr.rdlen) return AX_EBADRESP;
        uint32_t minimum = ax__rd32(msg + t + 16);
        a->ttl = rr.ttl < minimum ? rr.ttl : minimum;
        break;
    }
    return 0;
}
