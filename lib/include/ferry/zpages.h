/* Zeroed memory straight from the kernel, for large structures that are
 * mostly empty (the agent's configuration tables, a datagram scratch
 * buffer): a page is allocated only when first written. calloc would take
 * such a block from the heap and clear it, which allocates every page of
 * it, used or not (issue 10: the agent's idle RSS). Whole pages, so only
 * for blocks of tens of KiB and more, allocated once. */
#ifndef FERRY_ZPAGES_H
#define FERRY_ZPAGES_H

#include <stddef.h>

/* size bytes of zeroes, or NULL; free with fy_zpages_free(p, size). */
void *fy_zpages_alloc(size_t size);
/* NULL is ignored; size must be what fy_zpages_alloc was given. */
void fy_zpages_free(void *p, size_t size);

#endif
