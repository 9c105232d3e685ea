/* Large arrays from the OS; see bigarray.h. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* mremap */
#endif

#include "bigarray.h"

#include <stdlib.h>

#ifdef __linux__
#include <sys/mman.h>
#endif

#if defined(__linux__) && defined(MREMAP_MAYMOVE)
enum { HUGE_PAGE = 2 << 20 };

void *rp_big_resize(void *p, size_t old_size, size_t new_size)
{
    void *q = p == NULL ? mmap(NULL, new_size, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                        : mremap(p, old_size, new_size, MREMAP_MAYMOVE);
    if (q == MAP_FAILED)
        return NULL;
#ifdef MADV_HUGEPAGE
    /* The whole mapping, so that it stays one area mremap can move. A hint:
     * without huge pages it works all the same. */
    if (new_size >= HUGE_PAGE)
        madvise(q, new_size, MADV_HUGEPAGE);
#endif
    return q;
}

void *rp_big_zeroed(size_t size)
{
    return rp_big_resize(NULL, 0, size); /* anonymous mappings start zeroed */
}

void rp_big_free(void *p, size_t size)
{
    if (p != NULL)
        munmap(p, size);
}
#else
void *rp_big_resize(void *p, size_t old_size, size_t new_size)
{
    (void)old_size;
    return realloc(p, new_size);
}

void *rp_big_zeroed(size_t size)
{
    return calloc(1, size);
}

void rp_big_free(void *p, size_t size)
{
    (void)size;
    free(p);
}
#endif
