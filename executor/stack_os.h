/* executor/stack_os.h - what stack_pool.c needs from the OS-specific stack
 * files (stack.c: mmap; stack_win.c: VirtualAlloc). Each lays out one
 * allocation as guard, usable stack, and a top page whose last
 * AX_STACK_HDR bytes hold the ax__stack header. Private to executor/. */
#ifndef AX_EXECUTOR_STACK_OS_H
#define AX_EXECUTOR_STACK_OS_H

#include <stdbool.h>
#include <stddef.h>

#include "executor/fiber.h"

/* Header slot: a cache line, which also keeps ax__stack_hi 16-byte aligned. */
#define AX_STACK_HDR 64
_Static_assert(sizeof(ax__stack) <= AX_STACK_HDR, "ax__stack header outgrew its slot");

size_t ax__stack_os_page_size(void);
/* A new stack with at least `usable` bytes (a multiple of the page size), or
 * NULL when the OS refuses. */
ax__stack *ax__stack_os_map(size_t usable);
void ax__stack_os_unmap(ax__stack *s);
/* Whether s was mapped for exactly `usable` bytes (a pool caches only its
 * own size). */
bool ax__stack_os_fits(const ax__stack *s, size_t usable);

#endif
