/* http/json.c - a small JSON writer for responses: commas, quoting and
 * escaping (RFC 8259), into a caller buffer. */
#include <string.h>

#include "axon/error.h"
#include "axon/http.h"

void ax_json_init(ax_json *j, char *buf, size_t cap) {
    memset(j, 0, sizeof *j);
    j->buf = buf;
    j->cap = cap;
}

static void ax__json_raw(ax_json *j, const char *s, size_t n) {
    if (j->overflow) return;
    if (j->cap == 0 || n > j->cap - 1 - j->len) {
        j->overflow = true;
        return;
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
}

/* Before a value: a comma when the container already has one. */
static void ax__json_value(ax_json *j) {
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    uint64_t bit = (uint64_t)1 << (j->depth & 63);
    if (j->need_comma & bit) ax__json_raw(j, ",", 1);
    j->need_comma |= bit;
}

static void ax__json_open(ax_json *j, char c) {
    ax__json_value(j);
    ax__json_raw(j, &c, 1);
    j->depth++;
    j->need_comma &= ~((uint64_t)1 << (j->depth & 63));
}

static void ax__json_close(ax_json *j, char c) {
    if (j->depth) j->depth--;
    ax__json_raw(j, &c, 1);
}

void ax_json_object_begin(ax_json *j) {
    ax__json_open(j, '{');
}
void ax_json_object_end(ax_json *j) {
    ax__json_close(j, '}');
}
void ax_json_array_begin(ax_json *j) {
    ax__json_open(j, '[');
}
void ax_json_array_end(ax_json *j) {
    ax__json_close(j, ']');
}

static void ax__json_quoted(ax_json *j, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    ax__json_raw(j, "\"", 1);
    size_t run = 0; /* bytes copied as they are, written in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[6];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20) {
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
        } else {
            run++;
            continue;
        }
        ax__json_raw(j, s + i - run, run);
        run = 0;
        if (esc)
            ax__json_raw(j, esc, 2);
        else
            ax__json_raw(j, u, 6);
    }
    ax__json_raw(j, s + n - run, run);
    ax__json_raw(j, "\"", 1);
}

void ax_json_key(ax_json *j, const char *key) {
    ax__json_value(j);
    ax__json_quoted(j, key, strlen(key));
    ax__json_raw(j, ":", 1);
    j->after_key = true;
}

void ax_json_string_n(ax_json *j, const char *s, size_t n) {
    ax__json_value(j);
    ax__json_quoted(j, s, n);
}

void ax_json_string(ax_json *j, const char *s) {
    ax_json_string_n(j, s, strlen(s));
}

void ax_json_int(ax_json *j, int64_t v) {
    ax__json_value(j);
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) tmp[sizeof tmp - 1 - n++] = '-';
    ax__json_raw(j, tmp + sizeof tmp - n, (size_t)n);
}

void ax_json_bool(ax_json *j, bool v) {
    ax__json_value(j);
    ax__json_raw(j, v ? "true" : "false", v ? 4 : 5);
}

void ax_json_null(ax_json *j) {
    ax__json_value(j);
    ax__json_raw(j, "null", 4);
}

ssize_t ax_json_finish(ax_json *j) {
    if (j->overflow || j->cap == 0) {
        if (j->cap) j->buf[0] = 0;
        return AX_ENOSPC;
    }
    j->buf[j->len] = 0;
    return (ssize_t)j->len;
}
