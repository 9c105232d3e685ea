/*
 * Share-nothing workers on one port, the design proposed for a holepuncher
 * on many cores (docs/PERFORMANCE.md): N threads, each with its own
 * SO_REUSEPORT socket on ADDR:PORT, and a classic BPF program attached to
 * the group that picks the socket from the frame's session id, so that a
 * Register and every Join for one id reach the same worker (which then
 * needs no shared table and no lock):
 *
 *   Register (2), Join (3):          id = bytes 4.., its length the rest
 *   RegisterExt (11), JoinExt (12):  id length at byte 4, id from byte 5
 *   Relay (15):                      the low 32 bits of the nonce (bytes 8..11):
 *                                    a worker would pick nonces = its index mod N
 *   anything else (HelloReq, ...):   no choice: the kernel's 4-tuple hash
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

enum { BATCH = 64, SLOT = 512, MAX_WORKERS = 64, MAX_ID = 20, MAX_INSNS = 256 };
enum { FNV_BASIS = 2166136261u, FNV_PRIME = 16777619u };

/* Scratch memory cells of the filter. */
enum { M_LEN = 0, M_HASH = 1, M_OFFSET = 2 };

/* A tiny assembler: jumps name a label, resolved once all is emitted
 * (classic BPF jumps only forward, by at most 255). */
enum label { L_NEXT, L_OTHER, L_RELAY, L_EXT, L_V0, L_HASH, L_DONE, LABELS };

typedef struct program {
    struct sock_filter insns[MAX_INSNS];
    unsigned n;
    unsigned at[LABELS];                       /* where each label is */
    int jt_label[MAX_INSNS], jf_label[MAX_INSNS]; /* -1: falls through */
} program;

static void emit(program *p, unsigned short code, int jt, int jf, unsigned k)
{
    struct sock_filter insn = {code, 0, 0, k};
    p->jt_label[p->n] = jt;
    p->jf_label[p->n] = jf;
    p->insns[p->n++] = insn;
}

static void label(program *p, enum label l)
{
    p->at[l] = p->n;
}

static void resolve(program *p)
{
    unsigned i;
    for (i = 0; i < p->n; i++) {
        if (p->jt_label[i] >= 0)
            p->insns[i].jt = (unsigned char)(p->at[p->jt_label[i]] - i - 1);
        if (p->jf_label[i] >= 0)
            p->insns[i].jf = (unsigned char)(p->at[p->jf_label[i]] - i - 1);
    }
}

/* Jumps to `to` when the type (in A) is `type`. */
static void on_type(program *p, unsigned type, enum label to)
{
    emit(p, BPF_JMP | BPF_JEQ | BPF_K, (int)to, -1, type);
}

/* FNV-1a over M_LEN bytes from offset M_OFFSET, then modulo the workers. */
static void emit_hash(program *p, unsigned workers)
{
    unsigned i;
    label(p, L_HASH);
    emit(p, BPF_LD | BPF_IMM, -1, -1, FNV_BASIS);
    emit(p, BPF_ST, -1, -1, M_HASH);
    for (i = 0; i < MAX_ID; i++) {
        emit(p, BPF_LD | BPF_MEM, -1, -1, M_LEN);
        emit(p, BPF_JMP | BPF_JGT | BPF_K, -1, L_DONE, i); /* byte i is in the id */
        emit(p, BPF_LDX | BPF_MEM, -1, -1, M_OFFSET);
        emit(p, BPF_LD | BPF_B | BPF_IND, -1, -1, i);
        emit(p, BPF_LDX | BPF_MEM, -1, -1, M_HASH);
        emit(p, BPF_ALU | BPF_XOR | BPF_X, -1, -1, 0);
        emit(p, BPF_ALU | BPF_MUL | BPF_K, -1, -1, FNV_PRIME);
        emit(p, BPF_ST, -1, -1, M_HASH);
    }
    label(p, L_DONE);
    emit(p, BPF_LD | BPF_MEM, -1, -1, M_HASH);
    emit(p, BPF_ALU | BPF_MOD | BPF_K, -1, -1, workers);
    emit(p, BPF_RET | BPF_A, -1, -1, 0);
}

/* The whole filter; its packet data starts at the UDP payload (the frame).
 * A return value of at least `workers` leaves the choice to the kernel. */
static void build_program(program *p, unsigned workers)
{
    memset(p, 0, sizeof *p);
    emit(p, BPF_LD | BPF_H | BPF_ABS, -1, -1, 2); /* the type */
    on_type(p, 2, L_V0);
    on_type(p, 3, L_V0);
    on_type(p, 11, L_EXT);
    on_type(p, 12, L_EXT);
    on_type(p, 15, L_RELAY);
    label(p, L_OTHER);
    emit(p, BPF_RET | BPF_K, -1, -1, 0xffffffffu);
    label(p, L_RELAY);
    emit(p, BPF_LD | BPF_W | BPF_ABS, -1, -1, 8); /* the nonce's low word */
    emit(p, BPF_ALU | BPF_MOD | BPF_K, -1, -1, workers);
    emit(p, BPF_RET | BPF_A, -1, -1, 0);
    label(p, L_EXT); /* id length at byte 4, id from byte 5 */
    emit(p, BPF_LD | BPF_B | BPF_ABS, -1, -1, 4);
    emit(p, BPF_ST, -1, -1, M_LEN);
    emit(p, BPF_LD | BPF_IMM, -1, -1, 5);
    emit(p, BPF_ST, -1, -1, M_OFFSET);
    emit(p, BPF_JMP | BPF_JA, -1, -1, 0);
    p->jt_label[p->n - 1] = -1; /* JA uses k: patched after resolve */
    label(p, L_V0); /* the id is the rest of the frame */
    emit(p, BPF_LD | BPF_W | BPF_LEN, -1, -1, 0);
    emit(p, BPF_ALU | BPF_SUB | BPF_K, -1, -1, 4);
    emit(p, BPF_ST, -1, -1, M_LEN);
    emit(p, BPF_LD | BPF_IMM, -1, -1, 4);
    emit(p, BPF_ST, -1, -1, M_OFFSET);
    emit_hash(p, workers);
    resolve(p);
    p->insns[p->at[L_V0] - 1].k = p->at[L_HASH] - p->at[L_V0]; /* the JA to the hash */
}

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
    static program prog;
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
    build_program(&prog, n);
    fprog.len = (unsigned short)prog.n;
    fprog.filter = prog.insns;
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
