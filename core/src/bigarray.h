/* Large arrays (the session table) straight from the OS where it helps: on
 * Linux an anonymous mapping with transparent huge pages, so that growing
 * one takes a page fault per 2 MiB instead of per 4 KiB (on a virtual
 * machine a fault can cost tens of microseconds) and a lookup few TLB
 * misses, and growing it moves page tables instead of copying (mremap).
 * Mappings start on a huge page boundary and span whole huge pages, which
 * is what keeps them on huge pages through every move. Elsewhere realloc
 * and free.
 * The bottom layer, like the codec: it knows only the OS's memory calls. */
#ifndef RUPHIN_BIGARRAY_H
#define RUPHIN_BIGARRAY_H

#include <stddef.h>

/* resize(NULL, 0, n) allocates; on failure it returns NULL and p stays
 * valid. Sizes are the caller's to remember. */
void *rp_big_resize(void *p, size_t old_size, size_t new_size);
/* A new array of size bytes, all zero (fresh pages: nothing is written). */
void *rp_big_zeroed(size_t size);
void rp_big_free(void *p, size_t size);

#endif
