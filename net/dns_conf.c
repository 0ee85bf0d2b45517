/* net/dns_conf.c - the resolver's configuration: host name checks, the
 * hosts file and resolv.conf. Files are read whole (they are small) and
 * parsed from memory, so the parsers are plain functions of their text. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "axon/error.h"
#include "net/dns_internal.h"

static bool ax__dns_label_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int ax__dns_name_to_wire(const char *text, uint8_t wire[AX__DNS_WIRE_MAX]) {
    size_t tl = strlen(text), w = 0;
    if (tl == 0) return AX_EINVAL;
    if (tl > 1 && text[tl - 1] == '.') tl--; /* absolute: "example.com." */
    if (tl == 1 && text[0] == '.') return AX_EINVAL;
    size_t i = 0;
    while (i < tl) {
        size_t start = i;
        while (i < tl && text[i] != '.') {
            if (!ax__dns_label_char((unsigned char)text[i])) return AX_EINVAL;
            i++;
        }
        size_t ll = i - start;
        if (ll == 0 || ll > 63) return AX_EINVAL;
        if (w + 1 + ll + 1 > AX__DNS_WIRE_MAX) return AX_EINVAL;
        wire[w++] = (uint8_t)ll;
        for (size_t k = start; k < i; k++) wire[w++] = (uint8_t)tolower((unsigned char)text[k]);
        if (i < tl) {
            i++;                           /* the dot */
            if (i == tl) return AX_EINVAL; /* "a..": an empty label */
        }
    }
    wire[w++] = 0;
    return (int)w;
}

unsigned ax__dns_name_dots(const char *text) {
    size_t n = strlen(text);
    unsigned dots = 0;
    if (n && text[n - 1] == '.') n--;
    for (size_t i = 0; i < n; i++) dots += text[i] == '.';
    return dots;
}

#ifndef O_CLOEXEC
#define O_CLOEXEC 0 /* Windows: handles are not inherited by default */
#endif
#ifndef O_BINARY
#define O_BINARY 0
#endif

/* Reads a whole small file into a NUL-terminated malloc'd buffer. */
static int ax__dns_read_file(const char *path, char **out, size_t *len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_BINARY);
    if (fd < 0) return ax_translate_sys_error(errno);
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    int err = buf ? 0 : AX_ENOMEM;
    while (!err) {
        if (n + 1 >= cap) {
            if (cap >= (16u << 20)) break; /* 16 MiB of hosts is plenty */
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                err = AX_ENOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) err = ax_translate_sys_error(errno);
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (err) {
        free(buf);
        return err;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

/* Splits text into lines, strips comments, and hands out words. */
typedef struct ax__dns_lines {
    const char *p, *end;
    const char *line_end;
} ax__dns_lines;

static bool ax__dns_next_line(ax__dns_lines *l, const char *comment_chars) {
    if (l->p >= l->end) return false;
    const char *e = memchr(l->p, '\n', (size_t)(l->end - l->p));
    if (!e) e = l->end;
    const char *c = l->p;
    while (c < e && !strchr(comment_chars, *c)) c++;
    l->line_end = c;
    return true;
}

static void ax__dns_end_line(ax__dns_lines *l) {
    const char *e = memchr(l->p, '\n', (size_t)(l->end - l->p));
    l->p = e ? e + 1 : l->end;
}

/* The next word of the current line into w (capacity cap; longer words are
 * cut and flagged by returning their full length). 0: none left. */
static size_t ax__dns_word(ax__dns_lines *l, char *w, size_t cap) {
    while (l->p < l->line_end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\r')) l->p++;
    const char *s = l->p;
    while (l->p < l->line_end && *l->p != ' ' && *l->p != '\t' && *l->p != '\r') l->p++;
    size_t n = (size_t)(l->p - s), c = n < cap - 1 ? n : cap - 1;
    memcpy(w, s, c);
    w[c] = 0;
    return n;
}

/* --- hosts ------------------------------------------------------------------ */

static int ax__dns_hosts_add(ax__dns_hosts *h, const ax_ip *ip, const uint8_t *wire, int wl) {
    if (h->n == h->cap) {
        size_t nc = h->cap ? h->cap * 2 : 16;
        ax__dns_host_entry *nv = realloc(h->v, nc * sizeof *nv);
        if (!nv) return AX_ENOMEM;
        h->v = nv;
        h->cap = nc;
    }
    ax__dns_host_entry *e = &h->v[h->n++];
    e->ip = *ip;
    memcpy(e->name, wire, (size_t)wl);
    e->name_len = (uint8_t)wl;
    return 0;
}

int ax__dns_hosts_parse(ax__dns_hosts *h, const char *text, size_t len) {
    ax__dns_lines l = {text, text + len, NULL};
    char word[AX_RESOLVER_NAME_MAX + 8];
    while (ax__dns_next_line(&l, "#\n")) {
        ax_ip ip;
        size_t wl = ax__dns_word(&l, word, sizeof word);
        if (wl && wl < sizeof word && ax_ip_parse(word, &ip) == 0) {
            while ((wl = ax__dns_word(&l, word, sizeof word)) != 0) {
                uint8_t wire[AX__DNS_WIRE_MAX];
                int n = wl < sizeof word ? ax__dns_name_to_wire(word, wire) : AX_EINVAL;
                if (n < 0) continue; /* not a name we could ever be asked */
                int err = ax__dns_hosts_add(h, &ip, wire, n);
                if (err) return err;
            }
        }
        ax__dns_end_line(&l);
    }
    return 0;
}

int ax__dns_hosts_load(ax__dns_hosts *h, const char *path) {
    char *text;
    size_t len;
    memset(h, 0, sizeof *h);
    if (!path || !path[0]) return 0;
    int err = ax__dns_read_file(path, &text, &len);
    if (err) return err == AX_ENOENT || err == AX_ENOTDIR ? 0 : err;
    err = ax__dns_hosts_parse(h, text, len);
    free(text);
    if (err) ax__dns_hosts_free(h);
    return err;
}

void ax__dns_hosts_free(ax__dns_hosts *h) {
    free(h->v);
    memset(h, 0, sizeof *h);
}

size_t ax__dns_hosts_find(const ax__dns_hosts *h, const uint8_t *name, size_t name_len, int family,
                          ax_ip *out, size_t cap) {
    size_t n = 0;
    for (size_t i = 0; i < h->n && n < cap; i++) {
        const ax__dns_host_entry *e = &h->v[i];
        if (e->name_len != name_len || memcmp(e->name, name, name_len) != 0) continue;
        if (family && (int)e->ip.family != family) continue;
        bool dup = false;
        for (size_t k = 0; k < n && !dup; k++) dup = ax_ip_equal(&out[k], &e->ip);
        if (!dup) out[n++] = e->ip;
    }
    return n;
}

/* --- resolv.conf -------------------------------------------------------------- */

void ax_resolver_config_init(ax_resolver_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->ndots = 1;
    cfg->timeout_ms = 5000;
    cfg->attempts = 2;
    cfg->cache = true;
    cfg->cache_size = 1024;
#ifdef _WIN32
    /* Windows: its hosts file, and the system's resolver (getaddrinfo on
     * the blocking pool): there is no resolv.conf to find nameservers in. */
    strcpy(cfg->hosts_path, "C:\\Windows\\System32\\drivers\\etc\\hosts");
    cfg->use_getaddrinfo = true;
#else
    strcpy(cfg->hosts_path, "/etc/hosts");
#endif
}

int ax_resolver_config_add_nameserver(ax_resolver_config *cfg, const char *addr) {
    ax_addr a;
    if (!cfg || !addr) return AX_EINVAL;
    if (ax_addr_parse(addr, &a) != 0) {
        ax_ip ip;
        if (ax_ip_parse(addr, &ip) != 0) return AX_EINVAL;
        a = ax_addr_make(ip, 53);
    }
    if (a.port == 0) return AX_EINVAL;
    if (cfg->n_nameservers >= AX_RESOLVER_MAX_NAMESERVERS) return AX_ENOSPC;
    cfg->nameservers[cfg->n_nameservers++] = a;
    return 0;
}

int ax_resolver_config_add_search(ax_resolver_config *cfg, const char *domain) {
    uint8_t wire[AX__DNS_WIRE_MAX];
    if (!cfg || !domain || ax__dns_name_to_wire(domain, wire) < 0) return AX_EINVAL;
    size_t n = strlen(domain);
    if (n > 1 && domain[n - 1] == '.') n--;
    if (n >= AX_RESOLVER_NAME_MAX) return AX_EINVAL;
    if (cfg->n_search >= AX_RESOLVER_MAX_SEARCH) return AX_ENOSPC;
    memcpy(cfg->search[cfg->n_search], domain, n);
    cfg->search[cfg->n_search][n] = 0;
    cfg->n_search++;
    return 0;
}

/* "name:value" with value a decimal number capped at max; false when the
 * option is not `name`. */
static bool ax__dns_opt_num(const char *w, const char *name, unsigned max, unsigned *out) {
    size_t n = strlen(name);
    if (strncmp(w, name, n) != 0 || w[n] != ':') return false;
    const char *p = w + n + 1;
    if (!isdigit((unsigned char)*p)) return true; /* malformed: ignored */
    unsigned long v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > max) v = max;
    }
    *out = (unsigned)v;
    return true;
}

void ax__dns_conf_parse(ax_resolver_config *cfg, const char *text, size_t len) {
    ax__dns_lines l = {text, text + len, NULL};
    char word[AX_RESOLVER_NAME_MAX + 8];
    while (ax__dns_next_line(&l, "#;\n")) {
        size_t wl = ax__dns_word(&l, word, sizeof word);
        if (wl == 0 || wl >= sizeof word) {
            ax__dns_end_line(&l);
            continue;
        }
        if (strcmp(word, "nameserver") == 0) {
            ax_ip ip;
            wl = ax__dns_word(&l, word, sizeof word);
            if (wl && wl < sizeof word && ax_ip_parse(word, &ip) == 0 &&
                cfg->n_nameservers < AX_RESOLVER_MAX_NAMESERVERS)
                cfg->nameservers[cfg->n_nameservers++] = ax_addr_make(ip, 53);
        } else if (strcmp(word, "search") == 0 || strcmp(word, "domain") == 0) {
            cfg->n_search = 0; /* the last search or domain line wins */
            while ((wl = ax__dns_word(&l, word, sizeof word)) != 0)
                if (wl < sizeof word) (void)ax_resolver_config_add_search(cfg, word);
        } else if (strcmp(word, "options") == 0) {
            while ((wl = ax__dns_word(&l, word, sizeof word)) != 0) {
                unsigned v;
                if (wl >= sizeof word) continue;
                if (ax__dns_opt_num(word, "ndots", 15, &cfg->ndots)) continue;
                if (ax__dns_opt_num(word, "attempts", 5, &cfg->attempts)) {
                    if (cfg->attempts == 0) cfg->attempts = 1;
                    continue;
                }
                if (ax__dns_opt_num(word, "timeout", 30, &v)) {
                    cfg->timeout_ms = v ? v * 1000 : 1000;
                    continue;
                }
                if (strcmp(word, "rotate") == 0) cfg->rotate = true;
            }
        }
        ax__dns_end_line(&l);
    }
}

int ax_resolver_config_load(ax_resolver_config *cfg, const char *path) {
    char *text;
    size_t len;
    if (!cfg) return AX_EINVAL;
    int err = ax__dns_read_file(path ? path : "/etc/resolv.conf", &text, &len);
    if (err) return err;
    ax__dns_conf_parse(cfg, text, len);
    free(text);
    return 0;
}
