/* Zeroed pages from the kernel: see ferry/zpages.h. */
#include <sys/mman.h>

#include "ferry/zpages.h"

void *fy_zpages_alloc(size_t size)
{
	void *p;

	if (!size)
		return NULL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void fy_zpages_free(void *p, size_t size)
{
	if (p)
		munmap(p, size);
}
