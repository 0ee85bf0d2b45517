/* executor/stack_win.c - fiber stacks from VirtualAlloc with guard pages
 * (the Windows counterpart of stack.c; the cache is stack_pool.c).
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
#include "executor/stack_os.h"

#include <windows.h>

/* Guard pages above the reserved page: room for the exception dispatch
 * and the overflow reporter once the stack is exhausted. */
#define AX_GUARD_PAGES 3

size_t ax__stack_os_page_size(void) {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return si.dwPageSize ? (size_t)si.dwPageSize : 4096;
}

static size_t guard_bytes(size_t ps) {
    return ps * (1 + AX_GUARD_PAGES);
}

ax__stack *ax__stack_os_map(size_t usable) {
    size_t ps = ax__stack_os_page_size();
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

void ax__stack_os_unmap(ax__stack *s) {
    VirtualFree(s->map, 0, MEM_RELEASE);
}

bool ax__stack_os_fits(const ax__stack *s, size_t usable) {
    size_t ps = s->guard_size / (1 + AX_GUARD_PAGES);
    return s->map_size + AX_STACK_HDR == s->guard_size + usable + ps;
}
