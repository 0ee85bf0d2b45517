/* executor/array.c - see array.h. */
#include "executor/array.h"

#include <stdlib.h>

#include "axon/error.h"

int ax__grow(void **arr, size_t *cap, size_t n, size_t elem) {
    if (n < *cap) return 0;
    size_t c = *cap ? *cap * 2 : 4;
    void *a = realloc(*arr, c * elem);
    if (!a) return AX_ENOMEM;
    *arr = a;
    *cap = c;
    return 0;
}
