/* executor/array.h - growing the realloc'd arrays of Axon's internals. */
#ifndef AX_EXECUTOR_ARRAY_H
#define AX_EXECUTOR_ARRAY_H

#include <stddef.h>

#pragma GCC visibility push(hidden)

/* Makes room for element n of the realloc'd array *arr of *cap elements of
 * elem bytes, doubling it (4 at first) when n is past its end. AX_ENOMEM
 * on failure, *arr and *cap unchanged. Not thread-safe: the caller owns
 * the array. */
int ax__grow(void **arr, size_t *cap, size_t n, size_t elem);

#pragma GCC visibility pop

#endif
