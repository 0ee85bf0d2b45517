/* executor/policy_impl.h - private to policy.c and policy_net.c: the layout
 * of a policy. Other files use axon/policy.h and executor/policy_internal.h.
 */
#ifndef AX_EXECUTOR_POLICY_IMPL_H
#define AX_EXECUTOR_POLICY_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>

#include "axon/policy.h"
#include "executor/array.h"

#pragma GCC visibility push(hidden)

/* A directory some root names: canonical path and its descriptor. */
typedef struct ax__dir {
    char *canon;
    int fd;
} ax__dir;

/* One spelling of a root (canonical, or as given), with its rights
 * (AX__POLICY_READ | AX__POLICY_WRITE) and its directory. */
typedef struct ax__root {
    char *path; /* clean, absolute */
    size_t len;
    unsigned access;
    size_t dir; /* index in dirs */
} ax__root;

enum { AX__R_ANY, AX__R_NAME, AX__R_SUFFIX, AX__R_V4, AX__R_V6 };
enum { AX__RULES_CONNECT = 0, AX__RULES_BIND = 1 };

/* One connect or bind rule. */
typedef struct ax__net_rule {
    uint8_t kind;     /* AX__R_* */
    uint8_t prefix;   /* V4, V6: prefix length */
    uint16_t lo, hi;  /* ports, inclusive */
    uint8_t addr[16]; /* V4: first 4 bytes; host bits zero */
    char *name;       /* NAME: "example.com"; SUFFIX: ".example.com" (lower case) */
    size_t name_len;
} ax__net_rule;

struct ax_policy {
    _Atomic size_t refs;
    atomic_bool frozen; /* installed somewhere: read-only from then on */
    ax__dir *dirs;
    size_t ndirs, capdirs;
    ax__root *roots;
    size_t nroots, caproots;
    ax__net_rule *rules[2]; /* AX__RULES_CONNECT, AX__RULES_BIND */
    size_t nrules[2], caprules[2];
};

/* Writes a formatted message into why (if why && cap). */
void ax__why(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Makes path absolute (getcwd) and clean (no //, ., .., trailing /). */
int ax__path_clean(const char *path, char *out, size_t cap);

#pragma GCC visibility pop

#endif
