/* Small helpers the benchmark programs share (header only: each program is
 * one compilation unit). Needs _GNU_SOURCE before any include. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <netinet/in.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the calling process on one CPU, when there is more than one: the
 * two sides of a measurement then do not share a core. */
static inline void pin(int cpu)
{
    cpu_set_t set;
    if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Points n receive headers at n slots of slot_size bytes from base (and,
 * unless names is NULL, at n source addresses), for recvmmsg. */
static inline void recv_setup(struct mmsghdr *msgs, struct iovec *iovs, uint8_t *base,
                              size_t slot_size, unsigned n, struct sockaddr_in *names)
{
    unsigned i;
    memset(msgs, 0, n * sizeof *msgs);
    for (i = 0; i < n; i++) {
        iovs[i].iov_base = base + i * slot_size;
        iovs[i].iov_len = slot_size;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        if (names != NULL) {
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = sizeof names[i];
        }
    }
}

#endif
