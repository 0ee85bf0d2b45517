/* executor/stack.c - mmap'd fiber stacks with a guard page (Linux, macOS;
 * the per-worker cache is stack_pool.c).
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
#include "executor/stack_os.h"

#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_STACK
#define MAP_STACK 0
#endif
#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

size_t ax__stack_os_page_size(void) {
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

ax__stack *ax__stack_os_map(size_t usable) {
    size_t ps = ax__stack_os_page_size();
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

void ax__stack_os_unmap(ax__stack *s) {
    /* Read before unmapping: the header lives inside the mapping. */
    char *map = s->map;
    size_t length = s->map_size + AX_STACK_HDR;
    munmap(map, length);
}

bool ax__stack_os_fits(const ax__stack *s, size_t usable) {
    /* The guard and the header page are one page each (see the map). */
    return s->map_size + AX_STACK_HDR == 2 * s->guard_size + usable;
}
