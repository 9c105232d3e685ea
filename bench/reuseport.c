/*
 * Share-nothing workers on one port, as a holepuncher group runs them
 * (RUPHIN_OPT_WORKERS, `ruphin holepuncher --workers N`): N threads, each
 * with its own SO_REUSEPORT socket on ADDR:PORT, and the core's classic BPF
 * program (core/src/steer.h) attached to the group, which picks the socket
 * from the frame's session id or a Relay frame's nonce. The raw baseline
 * for scaling with cores: no holepuncher work, only the steering.
 *
 * Each worker answers every datagram like raw_echo (recvmmsg/sendmmsg),
 * with type HelloResp (9) and its index in byte 2 (the type's high byte),
 * so a test can see where each id went.
 *
 * Usage: reuseport ADDR PORT WORKERS   (prints READY once all listen)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common.h"
#include "steer.h"

enum { BATCH = 64, SLOT = 512, MAX_WORKERS = 64 };

typedef struct worker {
    pthread_t thread;
    int fd;
    unsigned index;
} worker;

static int open_member(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1, size = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (bind(fd, (const struct sockaddr *)addr, sizeof *addr) != 0) {
        perror("bind");
        exit(1);
    }
    return fd;
}

/* raw_echo's loop, with the worker's index in each answer. */
static void *serve(void *arg)
{
    static __thread uint8_t bufs[BATCH][SLOT];
    worker *w = arg;
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct sockaddr_in from[BATCH];
    int i;
    pin((int)(w->index % (unsigned)sysconf(_SC_NPROCESSORS_ONLN)));
    for (;;) {
        int n;
        recv_setup(msgs, iovs, bufs[0], SLOT, BATCH, from);
        n = recvmmsg(w->fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        for (i = 0; i < n; i++) {
            if (msgs[i].msg_len >= 4) {
                bufs[i][2] = (uint8_t)w->index;
                bufs[i][3] = 9;
            }
            iovs[i].iov_len = msgs[i].msg_len;
        }
        if (n > 0)
            sendmmsg(w->fd, msgs, (unsigned)n, 0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static worker workers[MAX_WORKERS];
    static struct sock_filter prog[RP_STEER_MAX_INSNS];
    struct sockaddr_in addr;
    struct sock_fprog fprog;
    unsigned i, n = argc == 4 ? (unsigned)atoi(argv[3]) : 0;

    if (n < 1 || n > MAX_WORKERS) {
        fprintf(stderr, "usage: reuseport ADDR PORT WORKERS (1..%d)\n", MAX_WORKERS);
        return 2;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    fprog.len = (unsigned short)rp_steer_program(prog, n);
    fprog.filter = prog;
    for (i = 0; i < n; i++) {
        workers[i].index = i;
        workers[i].fd = open_member(&addr);
        /* The group's program: attached once, through any member. */
        if (i == 0 && setsockopt(workers[0].fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog,
                                 sizeof fprog) != 0) {
            perror("SO_ATTACH_REUSEPORT_CBPF");
            return 1;
        }
    }
    for (i = 0; i < n; i++)
        pthread_create(&workers[i].thread, NULL, serve, &workers[i]);
    printf("READY\n");
    fflush(stdout);
    pthread_join(workers[0].thread, NULL);
    return 0;
}
