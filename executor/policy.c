/* executor/policy.c - the permission policy object, path roots, and its
 * installation on a runtime. Host and address rules are in policy_net.c.
 *
 * Installation without a lock on the read side. rt->policy is read on
 * every check, from any thread, while another thread may replace it and
 * drop the old policy's last reference; so a reader cannot just load the
 * pointer and then take a reference (the policy could be freed between the
 * two). The pointer's low bits (policies are 64-byte aligned) hold a count
 * of readers inside that window and a CLOSING flag:
 *   reader:    CAS p|n -> p|n+1 (unless CLOSING); p->refs += 1; then
 *              CAS p|k -> p|k-1. While its count is in the slot, the slot
 *              keeps holding p, so p (and the runtime's reference) stays.
 *   installer: CAS p|n -> p|n|CLOSING; wait until the count is 0 (each
 *              reader is a few instructions from giving it back); store
 *              the new pointer; drop the runtime's reference to p.
 * Readers arriving while CLOSING is set wait (yielding) for the store, and
 * so do other installers. Installation is rare and its window is a few
 * instructions long; a check never takes a lock.
 */
#include "executor/policy_internal.h"
#include "executor/policy_impl.h"
#include "executor/internal.h"
#ifndef _WIN32
#include "reactor/os_unix.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifndef AT_FDCWD
#define AT_FDCWD (-100) /* Windows: no *at() calls; the value is never used */
#endif

#define AX__POLICY_ALIGN 64u
#define AX__TAG          ((uintptr_t)AX__POLICY_ALIGN - 1) /* low bits of rt->policy */
#define AX__CLOSING      ((uintptr_t)32)                   /* an installer is swapping */
#define AX__READERS      ((uintptr_t)31)                   /* readers mid-acquire */

void ax__why(char *why, size_t cap, const char *fmt, ...) {
    if (!why || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

/* ---- the object ---------------------------------------------------------------------------- */

int ax_policy_new(ax_policy **out) {
    size_t size = (sizeof(ax_policy) + AX__POLICY_ALIGN - 1) & ~(size_t)AX__TAG;
#ifdef _WIN32
    ax_policy *p = _aligned_malloc(size, AX__POLICY_ALIGN);
#else
    ax_policy *p = aligned_alloc(AX__POLICY_ALIGN, size);
#endif
    if (!p) return AX_ENOMEM;
    memset(p, 0, sizeof(*p));
    atomic_init(&p->refs, 1);
    atomic_init(&p->frozen, false);
    *out = p;
    return 0;
}

ax_policy *ax_policy_ref(ax_policy *p) {
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void ax_policy_free(ax_policy *p) {
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < p->ndirs; i++) {
        close(p->dirs[i].fd);
        free(p->dirs[i].canon);
    }
    for (size_t i = 0; i < p->nroots; i++) free(p->roots[i].path);
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < p->nrules[k]; i++) free(p->rules[k][i].name);
        free(p->rules[k]);
    }
    free(p->dirs);
    free(p->roots);
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}

static char *ax__strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

int ax_policy_clone(const ax_policy *src, ax_policy **out) {
    ax_policy *p;
    int err = ax_policy_new(&p);
    if (err) return err;
    for (size_t i = 0; i < src->ndirs && !err; i++) {
        err = ax__grow((void **)&p->dirs, &p->capdirs, p->ndirs, sizeof(ax__dir));
        if (err) break;
#ifdef _WIN32
        ax__dir d = {ax__strdup(src->dirs[i].canon), -1}; /* never reached: no roots there */
        errno = ENOTSUP;
#else
        ax__dir d = {ax__strdup(src->dirs[i].canon), fcntl(src->dirs[i].fd, F_DUPFD_CLOEXEC, 0)};
#endif
        if (!d.canon || d.fd < 0) {
            err = d.fd < 0 ? ax_translate_sys_error(errno) : AX_ENOMEM;
            if (d.fd >= 0) close(d.fd);
            free(d.canon);
            break;
        }
        p->dirs[p->ndirs++] = d;
    }
    for (size_t i = 0; i < src->nroots && !err; i++) {
        err = ax__grow((void **)&p->roots, &p->caproots, p->nroots, sizeof(ax__root));
        if (err) break;
        ax__root r = src->roots[i];
        if (!(r.path = ax__strdup(r.path))) {
            err = AX_ENOMEM;
            break;
        }
        p->roots[p->nroots++] = r;
    }
    for (int k = 0; k < 2 && !err; k++) {
        for (size_t i = 0; i < src->nrules[k] && !err; i++) {
            err = ax__grow((void **)&p->rules[k], &p->caprules[k], p->nrules[k],
                           sizeof(ax__net_rule));
            if (err) break;
            ax__net_rule r = src->rules[k][i];
            if (r.name && !(r.name = ax__strdup(r.name))) {
                err = AX_ENOMEM;
                break;
            }
            p->rules[k][p->nrules[k]++] = r;
        }
    }
    if (err) {
        ax_policy_free(p);
        return err;
    }
    *out = p;
    return 0;
}

/* ---- paths --------------------------------------------------------------------------------- */

/* Appends the components of s to out (length *n, capacity cap), resolving
 * "", "." and ".." on the string. out holds "" for "/" while building. */
static int ax__path_append(char *out, size_t *n, size_t cap, const char *s) {
    while (*s) {
        while (*s == '/') s++;
        const char *e = s;
        while (*e && *e != '/') e++;
        size_t len = (size_t)(e - s);
        if (len == 0 || (len == 1 && s[0] == '.')) {
            /* nothing */
        } else if (len == 2 && s[0] == '.' && s[1] == '.') {
            while (*n > 0 && out[*n - 1] != '/') (*n)--;
            if (*n > 0) (*n)--; /* the slash; ".." of "/" is "/" */
        } else {
            if (*n + 1 + len + 1 > cap) return AX_ENAMETOOLONG;
            out[(*n)++] = '/';
            memcpy(out + *n, s, len);
            *n += len;
        }
        s = e;
    }
    return 0;
}

int ax__path_clean(const char *path, char *out, size_t cap) {
    size_t n = 0;
    if (cap < 2) return AX_ENAMETOOLONG;
    if (path[0] != '/') {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return errno == ERANGE ? AX_ENAMETOOLONG : ax_translate_sys_error(errno);
        int err = ax__path_append(out, &n, cap, cwd);
        if (err) return err;
    }
    int err = ax__path_append(out, &n, cap, path);
    if (err) return err;
    if (n == 0) out[n++] = '/';
    out[n] = '\0';
    return 0;
}

/* Is the clean path (length plen) the root or below it, component-wise? */
static bool ax__under(const char *path, size_t plen, const ax__root *r) {
    if (r->len == 1) return true; /* "/" */
    return plen >= r->len && memcmp(path, r->path, r->len) == 0 &&
           (plen == r->len || path[r->len] == '/');
}

/* The deepest root holding right `bit` that contains path, or NULL. */
static const ax__root *ax__deepest(const ax_policy *p, unsigned bit, const char *path,
                                   size_t plen) {
    const ax__root *best = NULL;
    for (size_t i = 0; i < p->nroots; i++) {
        const ax__root *r = &p->roots[i];
        if ((r->access & bit) && ax__under(path, plen, r) && (!best || r->len > best->len))
            best = r;
    }
    return best;
}

__attribute__((unused)) static int ax__add_spelling(ax_policy *p, const char *spelling,
                                                    unsigned access, size_t dir) {
    for (size_t i = 0; i < p->nroots; i++) {
        if (p->roots[i].dir == dir && strcmp(p->roots[i].path, spelling) == 0) {
            p->roots[i].access |= access;
            return 0;
        }
    }
    int err = ax__grow((void **)&p->roots, &p->caproots, p->nroots, sizeof(ax__root));
    if (err) return err;
    char *s = ax__strdup(spelling);
    if (!s) return AX_ENOMEM;
    p->roots[p->nroots++] = (ax__root){s, strlen(s), access, dir};
    return 0;
}

static int ax__allow_root(ax_policy *p, const char *root, unsigned access) {
    if (!p || !root || !*root) return AX_EINVAL;
    if (atomic_load_explicit(&p->frozen, memory_order_relaxed)) return AX_EBUSY;
#ifdef _WIN32
    /* Filesystem roots hold directory descriptors opened O_PATH and resolve
     * beneath them (openat2); fs/ on Windows (fs/fs_os_win.c) has no
     * handle-relative resolution to confine paths with, so a policy there
     * has no file roots: every file access is denied. */
    (void)access;
    return AX_ENOTSUP;
#else
    char given[PATH_MAX];
    int err = ax__path_clean(root, given, sizeof given);
    if (err) return err;
    char *canon = realpath(root, NULL);
    if (!canon) return errno == ERANGE ? AX_ENAMETOOLONG : ax_translate_sys_error(errno);
    size_t dir = 0;
    while (dir < p->ndirs && strcmp(p->dirs[dir].canon, canon) != 0) dir++;
    if (dir == p->ndirs) {
        err = ax__grow((void **)&p->dirs, &p->capdirs, p->ndirs, sizeof(ax__dir));
        int fd = err ? -1 : open(canon, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (!err && fd < 0) err = ax_translate_sys_error(errno);
        if (err) {
            free(canon);
            return err;
        }
        p->dirs[p->ndirs++] = (ax__dir){canon, fd};
    } else {
        free(canon);
    }
    err = ax__add_spelling(p, p->dirs[dir].canon, access, dir);
    /* The spelling as given, when it names the same directory (a root given
     * as "/srv/link/.." is not lexically the directory it resolves to). */
    if (!err && strcmp(given, p->dirs[dir].canon) != 0) {
        char *again = realpath(given, NULL);
        if (again && strcmp(again, p->dirs[dir].canon) == 0)
            err = ax__add_spelling(p, given, access, dir);
        free(again);
    }
    return err;
#endif
}

int ax_policy_allow_read(ax_policy *p, const char *root) {
    return ax__allow_root(p, root, AX__POLICY_READ);
}

int ax_policy_allow_write(ax_policy *p, const char *root) {
    return ax__allow_root(p, root, AX__POLICY_WRITE);
}

static const char *ax__right_name(unsigned bit) {
    return bit == AX__POLICY_READ ? "read" : "write";
}

int ax__policy_root_for(const ax_policy *p, unsigned access, const char *path, int *root_fd,
                        char *rel, size_t rel_cap, char *why, size_t why_cap) {
    ax__why(why, why_cap, "%s", "");
    if (!path || !*path || !(access & (AX__POLICY_READ | AX__POLICY_WRITE)) ||
        (access & ~(unsigned)(AX__POLICY_READ | AX__POLICY_WRITE))) {
        ax__why(why, why_cap, "invalid path or access for the policy check");
        return AX_EINVAL;
    }
    if (!p) {
        size_t n = strlen(path);
        if (n >= rel_cap) return AX_ENAMETOOLONG;
        memcpy(rel, path, n + 1);
        *root_fd = AT_FDCWD;
        return 0;
    }
    char clean[PATH_MAX];
    int err = ax__path_clean(path, clean, sizeof clean);
    if (err) {
        ax__why(why, why_cap, "access to %s denied: %s", path, ax_strerror(err));
        return err;
    }
    size_t plen = strlen(clean);
    const ax__root *best = NULL;
    for (unsigned bit = AX__POLICY_READ; bit <= AX__POLICY_WRITE; bit <<= 1) {
        if (!(access & bit)) continue;
        const ax__root *r = ax__deepest(p, bit, clean, plen);
        if (!r) {
            if (strcmp(path, clean) == 0)
                ax__why(why, why_cap, "%s of %s denied: not under an allowed %s root",
                        ax__right_name(bit), path, ax__right_name(bit));
            else
                ax__why(why, why_cap, "%s of %s denied: %s is not under an allowed %s root",
                        ax__right_name(bit), path, clean, ax__right_name(bit));
            return AX_EPOLICY;
        }
        if (!best || r->len > best->len) best = r;
    }
    const char *tail = best->len == 1 ? clean + 1 : clean + best->len;
    if (*tail == '/') tail++;
    if (!*tail) tail = ".";
    size_t tn = strlen(tail);
    if (tn >= rel_cap) return AX_ENAMETOOLONG;
    memcpy(rel, tail, tn + 1);
    *root_fd = p->dirs[best->dir].fd;
    return 0;
}

static int ax__check_path(const ax_policy *p, unsigned bit, const char *path, char *why,
                          size_t cap) {
    if (!p) {
        bool ok = path && *path;
        ax__why(why, cap, "%s", ok ? "" : "invalid path for the policy check");
        return ok ? 0 : AX_EINVAL;
    }
    char rel[PATH_MAX];
    int fd;
    return ax__policy_root_for(p, bit, path, &fd, rel, sizeof rel, why, cap);
}

int ax_policy_check_read(const ax_policy *p, const char *path, char *why, size_t cap) {
    return ax__check_path(p, AX__POLICY_READ, path, why, cap);
}

int ax_policy_check_write(const ax_policy *p, const char *path, char *why, size_t cap) {
    return ax__check_path(p, AX__POLICY_WRITE, path, why, cap);
}

/* ---- installation -------------------------------------------------------------------------- */

static void ax__policy_backoff(unsigned *spins) {
    if (++*spins < 64)
        ax__cpu_relax();
    else
        sched_yield();
}

ax_policy *ax__policy_acquire(ax_runtime *rt) {
    struct ax_policy *cur = atomic_load_explicit(&rt->policy, memory_order_acquire);
    unsigned spins = 0;
    for (;;) {
        uintptr_t c = (uintptr_t)cur;
        if (c == 0) return NULL; /* nothing installed; an empty slot is never tagged */
        if ((c & AX__CLOSING) || (c & AX__READERS) == AX__READERS) {
            ax__policy_backoff(&spins);
            cur = atomic_load_explicit(&rt->policy, memory_order_acquire);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&rt->policy, &cur, (struct ax_policy *)(c + 1),
                                                  memory_order_acquire, memory_order_acquire))
            break;
    }
    ax_policy *p = (ax_policy *)((uintptr_t)cur & ~AX__TAG);
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    /* Give the count back. The slot holds p until it is 0 again. */
    struct ax_policy *now = atomic_load_explicit(&rt->policy, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&rt->policy, &now,
                                                  (struct ax_policy *)((uintptr_t)now - 1),
                                                  memory_order_release, memory_order_relaxed)) {
    }
    return p;
}

void ax__policy_release(ax_policy *p) {
    ax_policy_free(p);
}

ax_policy *ax_runtime_policy(ax_runtime *rt) {
    return rt ? ax__policy_acquire(rt) : NULL;
}

int ax_runtime_set_policy(ax_runtime *rt, ax_policy *p) {
    if (!rt) return AX_EINVAL;
    if (p) {
        ax_policy_ref(p);
        atomic_store_explicit(&p->frozen, true, memory_order_relaxed);
    }
    /* Close the slot to new readers (an empty slot needs no closing). */
    struct ax_policy *cur = atomic_load_explicit(&rt->policy, memory_order_acquire);
    unsigned spins = 0;
    for (;;) {
        uintptr_t c = (uintptr_t)cur;
        if (c == 0) {
            if (atomic_compare_exchange_weak_explicit(&rt->policy, &cur, p, memory_order_acq_rel,
                                                      memory_order_acquire))
                return 0;
            continue;
        }
        if (c & AX__CLOSING) { /* another installer is swapping */
            ax__policy_backoff(&spins);
            cur = atomic_load_explicit(&rt->policy, memory_order_acquire);
            continue;
        }
        if (atomic_compare_exchange_weak_explicit(&rt->policy, &cur,
                                                  (struct ax_policy *)(c | AX__CLOSING),
                                                  memory_order_acquire, memory_order_acquire))
            break;
    }
    ax_policy *old = (ax_policy *)((uintptr_t)cur & ~AX__TAG);
    /* Wait for the readers inside their window, then swap. */
    spins = 0;
    while ((uintptr_t)atomic_load_explicit(&rt->policy, memory_order_acquire) & AX__READERS)
        ax__policy_backoff(&spins);
    atomic_store_explicit(&rt->policy, p, memory_order_release);
    ax_policy_free(old);
    return 0;
}

int ax__policy_check_rt(ax_runtime *rt, ax__policy_op op, const char *what, unsigned port,
                        char *why, size_t cap) {
    ax_policy *p = ax__policy_acquire(rt);
    int r;
    switch (op) {
    case AX__POLICY_OP_READ:
        r = ax_policy_check_read(p, what, why, cap);
        break;
    case AX__POLICY_OP_WRITE:
        r = ax_policy_check_write(p, what, why, cap);
        break;
    case AX__POLICY_OP_CONNECT:
        r = ax_policy_check_connect(p, what, port, why, cap);
        break;
    case AX__POLICY_OP_BIND:
        r = ax_policy_check_bind(p, what, port, why, cap);
        break;
    default:
        r = AX_EINVAL;
        ax__why(why, cap, "unknown policy operation");
    }
    ax__policy_release(p);
    return r;
}
