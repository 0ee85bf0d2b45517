/* executor/stack_win.c - fiber stacks from VirtualAlloc with guard pages,
 * cached per worker (the Windows counterpart of stack.c, same interface).
 *
 * Layout of one allocation (low to high addresses):
 *
 *     map           map + page           lo = map + guard_size    hi    end
 *     | reserved,   | committed,          | committed, read-write,  | ax__stack
 *     | no access   | PAGE_GUARD pages    | the usable stack        | header
 *
 * While a fiber runs, the Thread Information Block says StackBase = hi,
 * StackLimit = lo and DeallocationStack = map (fiber_win64.S switches the
 * three words), so the system treats the stack like a thread's: a touch of
 * the guard pages is a stack overflow (EXCEPTION_STACK_OVERFLOW, raised
 * while guard pages are still left for the exception dispatch and the
 * reporter in overflow_win.c to run on), and the page below them is never
 * committed, so nothing runs off the end silently.
 *
 * The usable part is committed up front: Windows charges it against the
 * commit limit but backs a page with memory only when it is first touched,
 * like MAP_NORESERVE on Linux.
 */
#include "executor/fiber.h"

#include "axon/error.h"

#include <windows.h>

#define AX_STACK_HDR 64
_Static_assert(sizeof(ax__stack) <= AX_STACK_HDR, "ax__stack header outgrew its slot");

/* Guard pages above the reserved page: room for the exception dispatch
 * and the overflow reporter once the stack is exhausted. */
#define AX_GUARD_PAGES 3

static size_t page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize ? (size_t)si.dwPageSize : 4096;
}

void ax__stack_pool_init(ax__stack_pool *p, size_t usable, unsigned max_cached) {
    size_t ps = page_size();
    if (usable == 0) usable = ps;
    p->free = NULL;
    p->count = 0;
    p->max = max_cached;
    p->usable = (usable + ps - 1) / ps * ps;
}

static size_t guard_bytes(size_t ps) {
    return ps * (1 + AX_GUARD_PAGES);
}

static ax__stack *stack_map(size_t usable) {
    size_t ps = page_size();
    size_t guard = guard_bytes(ps);
    size_t length = guard + usable + ps; /* guard, usable, top page with header */
    char *map = VirtualAlloc(NULL, length, MEM_RESERVE, PAGE_NOACCESS);
    if (!map) return NULL;
    if (!VirtualAlloc(map + ps, guard - ps, MEM_COMMIT, PAGE_READWRITE | PAGE_GUARD) ||
        !VirtualAlloc(map + guard, length - guard, MEM_COMMIT, PAGE_READWRITE)) {
        VirtualFree(map, 0, MEM_RELEASE);
        return NULL;
    }
    ax__stack *s = (ax__stack *)(map + length - AX_STACK_HDR);
    s->next = NULL;
    s->map = map;
    s->map_size = length - AX_STACK_HDR;
    s->guard_size = guard;
    return s;
}

static void stack_unmap(ax__stack *s) {
    VirtualFree(s->map, 0, MEM_RELEASE);
}

int ax__stack_get(ax__stack_pool *p, ax__stack **out) {
    ax__stack *s = p->free;
    if (s) {
        p->free = s->next;
        p->count--;
        s->next = NULL;
        *out = s;
        return 0;
    }
    s = stack_map(p->usable);
    if (!s) {
        *out = NULL;
        return AX_ENOMEM;
    }
    *out = s;
    return 0;
}

void ax__stack_put(ax__stack_pool *p, ax__stack *s) {
    size_t ps = s->guard_size / (1 + AX_GUARD_PAGES);
    int same_size = s->map_size + AX_STACK_HDR == s->guard_size + p->usable + ps;
    if (p->count >= p->max || !same_size) {
        stack_unmap(s);
        return;
    }
    s->next = p->free;
    p->free = s;
    p->count++;
}

void ax__stack_free(ax__stack *s) {
    stack_unmap(s);
}

unsigned ax__stack_pool_trim(ax__stack_pool *p, unsigned keep) {
    unsigned n = 0;
    while (p->count > keep) {
        ax__stack *s = p->free;
        p->free = s->next;
        p->count--;
        stack_unmap(s);
        n++;
    }
    return n;
}

void ax__stack_pool_destroy(ax__stack_pool *p) {
    ax__stack *s = p->free;
    while (s) {
        ax__stack *next = s->next;
        stack_unmap(s);
        s = next;
    }
    p->free = NULL;
    p->count = 0;
}
