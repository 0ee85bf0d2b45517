/* executor/stack.c - mmap'd fiber stacks with a guard page, cached per worker.
 *
 * Layout of one mapping (low to high addresses):
 *
 *     map                  map + guard_size            hi        map + length
 *     | guard (PROT_NONE)  | usable stack, grows down  | ax__stack header |
 *
 * The header sits in the top AX_STACK_HDR bytes, above ax__stack_hi, so the
 * stack never overwrites it and it costs no page of its own: the top page
 * holds the header and the fiber's first frames. To keep the promised size
 * really usable the mapping gets one page beyond guard + usable, so a stack
 * has at least p->usable bytes between ax__stack_lo and ax__stack_hi
 * (p->usable + page - AX_STACK_HDR, exactly). map_size (guard + usable) thus
 * ends at the header, and the mapping is map_size + AX_STACK_HDR long.
 *
 * Memory is MAP_NORESERVE: only touched pages count. Each stack costs two
 * kernel mappings (guard and usable), which vm.max_map_count bounds.
 */
#include "executor/fiber.h"

#include "axon/error.h"

#include <sys/mman.h>
#include <unistd.h>

/* Header slot: a cache line, which also keeps ax__stack_hi 16-byte aligned. */
#define AX_STACK_HDR 64
_Static_assert(sizeof(ax__stack) <= AX_STACK_HDR, "ax__stack header outgrew its slot");

#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

static size_t page_size(void) {
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

void ax__stack_pool_init(ax__stack_pool *p, size_t usable, unsigned max_cached) {
    size_t ps = page_size();
    if (usable == 0) usable = ps;
    p->free = NULL;
    p->count = 0;
    p->max = max_cached;
    p->usable = (usable + ps - 1) / ps * ps;
}

static ax__stack *stack_map(size_t usable) {
    size_t ps = page_size();
    size_t length = ps + usable + ps; /* guard, usable, top page with header */
    char *map = mmap(NULL, length, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) return NULL;
    /* Splitting off the guard needs a second kernel mapping, so this is the
     * call that fails first once vm.max_map_count is reached. */
    if (mprotect(map, ps, PROT_NONE) != 0) {
        munmap(map, length);
        return NULL;
    }
    ax__stack *s = (ax__stack *)(map + length - AX_STACK_HDR);
    s->next = NULL;
    s->map = map;
    s->map_size = length - AX_STACK_HDR;
    s->guard_size = ps;
    return s;
}

static void stack_unmap(ax__stack *s) {
    /* Read before unmapping: the header lives inside the mapping. */
    char *map = s->map;
    size_t length = s->map_size + AX_STACK_HDR;
    munmap(map, length);
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
    /* A stack of another size (another pool's) is not cached here. The guard
     * and the header page are one page each (see stack_map). */
    int same_size = s->map_size + AX_STACK_HDR == 2 * s->guard_size + p->usable;
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
