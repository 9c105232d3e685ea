/* Large arrays from the OS; see bigarray.h. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* mremap */
#endif

#include "bigarray.h"
#include "platform.h"

#include <stdlib.h>

#if RP_LINUX_EXTRAS
#include <sys/mman.h>
#include <unistd.h>
#endif

#if RP_LINUX_EXTRAS && defined(MREMAP_MAYMOVE)
#include <stdint.h>

enum { HUGE_PAGE = 2 << 20 };

/* The size actually mapped: whole pages, and from a huge page on whole huge
 * pages (a partial one at the end would get small pages, which stay small
 * once the array grows past them). */
static size_t mapped_size(size_t size)
{
    size_t unit = size >= HUGE_PAGE ? HUGE_PAGE : (size_t)sysconf(_SC_PAGESIZE);
    return (size + unit - 1) / unit * unit;
}

/* A new mapping of size bytes that starts on a huge page boundary: only
 * then can the kernel back all of it with huge pages, and mremap move them
 * whole. A move to an address at another offset splits them into small
 * pages for good: grown by doublings to a million sessions, a table had a
 * third of its records on small pages, as many as the addresses mremap
 * happened to pick decided, each a page walk again after every system call
 * where page table isolation runs without PCID (the benchmark machine).
 * Mapped with a huge page to spare, whose unaligned ends go back. */
static void *map_aligned(size_t size) /* size: a mapped_size */
{
    uint8_t *p, *start;
    size_t head;
    p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    start = (uint8_t *)(((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    head = (size_t)(start - p);
    if (head > 0)
        munmap(p, head);
    munmap(start + size, HUGE_PAGE - head);
    return start;
}

/* Grows p in place if the addresses after it are free, else moves it onto
 * a new aligned mapping (MREMAP_FIXED replaces that mapping). */
static void *grow(void *p, size_t old_size, size_t new_size)
{
    void *q = mremap(p, old_size, new_size, 0), *target;
    if (q != MAP_FAILED)
        return q;
    if ((target = map_aligned(new_size)) == NULL)
        return NULL;
    q = mremap(p, old_size, new_size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
    if (q == MAP_FAILED) {
        munmap(target, new_size);
        return NULL;
    }
    return q;
}

void *rp_big_resize(void *p, size_t old_size, size_t new_size)
{
    void *q;
    old_size = mapped_size(old_size);
    new_size = mapped_size(new_size);
    if (p == NULL)
        q = map_aligned(new_size);
    else if (new_size > old_size)
        q = grow(p, old_size, new_size);
    else if ((q = mremap(p, old_size, new_size, 0)) == MAP_FAILED) /* shrinks in place */
        q = NULL;
    if (q == NULL)
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
        munmap(p, mapped_size(size));
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
