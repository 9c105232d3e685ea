/* What fresh memory costs the machine: the wall time to fault in MIB
 * mebibytes of new anonymous memory, mapped and advised as the session
 * table's arrays are (by core/src/bigarray.c itself: aligned to a huge
 * page, MADV_HUGEPAGE), one write per small page. A table that grows pays this
 * for every new record and index slot; the raw responder never does. On a
 * virtual machine whose host takes back the guest's free memory (free page
 * reporting) it varies from run to run by ten times and more, so bench/run.py
 * measures it in every round, beside the growing Register it explains.
 *
 * Usage: fresh_memory [MIB]   (default 128)
 * Prints one JSON line: ns per KiB, how much of the memory the kernel backed
 * with huge pages (AnonHugePages), and ns per KiB again for as much more
 * mapped just after the first was unmapped ("again"): pages the kernel has
 * just had back, which the host has not taken yet, what the first costs
 * where nobody takes free memory away. */
#define _GNU_SOURCE
#include "bigarray.h"
#include "common.h"

#include <stdio.h>
#include <stdlib.h>

enum { SMALL_PAGE = 4096 };

/* Wall time per KiB to fault in an array of size bytes, which is left
 * allocated in *array (NULL if there is not that much memory). */
static double fault_in(size_t size, uint8_t **array)
{
    uint8_t *p = rp_big_zeroed(size); /* as the session table gets its arrays */
    double start;
    size_t i;
    if ((*array = p) == NULL)
        return 0;
    start = now_s();
    for (i = 0; i < size; i += SMALL_PAGE)
        p[i] = 1;
    return (now_s() - start) * 1e9 / (double)(size >> 10);
}

/* AnonHugePages of this process, in KiB (0 if the kernel does not say). */
static long anon_huge_kib(void)
{
    char line[256];
    long kib = 0;
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 128, size = mib << 20;
    uint8_t *first, *again;
    double first_ns, again_ns;
    long huge_kib;
    if (mib == 0 || (first_ns = fault_in(size, &first), first) == NULL) {
        fprintf(stderr, "usage: fresh_memory [MIB] (MIB > 0, and that much free memory)\n");
        return 2;
    }
    huge_kib = anon_huge_kib();
    rp_big_free(first, size);
    if ((again_ns = fault_in(size, &again), again) == NULL)
        return 1;
    printf("{\"mib\": %zu, \"ns_per_kib\": %.1f, \"huge_kib\": %ld, \"again_ns_per_kib\": %.1f}\n",
           mib, first_ns, huge_kib, again_ns);
    rp_big_free(again, size);
    return 0;
}
