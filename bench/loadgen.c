/*
 * Closed-loop UDP load generator for the holepuncher (and the raw baseline):
 * many sockets, each with a fixed window of requests in flight, nonblocking
 * with epoll and recvmmsg/sendmmsg. Prints one JSON line with requests
 * answered per second.
 *
 * loadgen --target IP:PORT --mode hello|register|refresh|join|join-miss
 *         [--sockets N] [--window W] [--seconds S] [--warmup S]
 *         [--sessions K] [--no-fill] [--owner-port P] [--server-pid PID]
 *
 * One more socket plays the sessions' owner (bound to --owner-port, else an
 * ephemeral port). --sessions K registers K distinct 12-byte ids from it
 * first, so the table is full while measuring (the program fails when the
 * holepuncher did not acknowledge them all). join looks those ids up at
 * random, join-miss ids that were never registered. register sends new ids
 * only, never the same twice. refresh is what owners do every keepalive:
 * each of the N sockets first registers K/N ids of its own (instead of the
 * owner's K; new ones each run), then keeps re-registering them in turn.
 * Another run's join can register the owner's K ids again when its owner
 * socket has the same address (--owner-port). --no-fill: an earlier
 * run already registered the owner's K ids (join looks them up all the same).
 *
 * Accounting: a request counts as answered when its reply reaches the socket
 * that sent it. A Join that finds its session is also announced to the
 * owner; the owner socket is read too, and what it got is reported apart
 * ("owner_rx"), as is what a raw responder sends it with a copy port.
 *
 * --server-pid: the responder's CPU time over the measured seconds is
 * reported too ("server_cpu_s"): CPU per request is steadier than requests
 * per second on a shared machine.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

enum { BATCH = 64, FRAME_MAX = 32, REPLY_MAX = 64, ID_LEN = 12 };
enum { STALL_NS = 20000000, PREFILL_WINDOW = 1024 };
#define PREFILL_RESEND_NS 200000000LL
#define PREFILL_PATIENCE_NS 10000000000LL
enum { T_REGISTER = 2, T_JOIN = 3, T_REGISTER_ACK = 6, T_HELLO_REQ = 8 };
enum mode { M_HELLO, M_REGISTER, M_REFRESH, M_JOIN, M_JOIN_MISS };

typedef struct conn {
    int fd;
    int outstanding;
    long long next_id; /* register mode: this socket's own id sequence */
    long long last_reply_ns;
} conn;

static struct {
    struct sockaddr_in target;
    enum mode mode;
    const char *mode_name;
    int sockets, window, owner_port, server_pid, no_fill;
    double seconds, warmup;
    long long sessions;
    long long run_offset; /* register, refresh: this run's place in each socket's range */
} cfg = {.mode_name = "hello", .sockets = 16, .window = 16, .seconds = 3, .warmup = 0.5};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* xorshift64: cheap, so the load side spends its time on the sockets. */
static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static size_t frame(uint8_t *buf, int type, const uint8_t *payload, size_t len)
{
    buf[0] = (uint8_t)((4 + len) >> 8);
    buf[1] = (uint8_t)(4 + len);
    buf[2] = 0;
    buf[3] = (uint8_t)type;
    if (len > 0)
        memcpy(buf + 4, payload, len);
    return 4 + len;
}

/* Id number n as 12 bytes: "s" and 11 decimal digits. */
static void session_id(long long n, uint8_t *id)
{
    int i;
    id[0] = 's';
    for (i = ID_LEN - 1; i > 0; i--, n /= 10)
        id[i] = (uint8_t)('0' + n % 10);
}

/* Id ranges that never overlap: the owner's ids are 0..K-1, then misses,
 * then per socket (at most MAX_SOCKETS) a range for register and refresh. */
#define MISS_BASE 900000000LL
#define REGISTER_BASE 10000000000LL
#define REFRESH_BASE 20000000000LL
#define SOCKET_RANGE 100000000LL
enum { MAX_SOCKETS = 100 };

/* Refresh mode: how many ids each socket owns. */
static long long ids_per_socket(void)
{
    return cfg.sessions / cfg.sockets > 0 ? cfg.sessions / cfg.sockets : 1;
}

/* Refresh mode: socket `index`'s first id. Each run has ids of its own,
 * like register's: those of an earlier run belong to its (closed) sockets,
 * and registering them again would be refused as a conflict. */
static long long refresh_first(int index)
{
    return REFRESH_BASE + index * SOCKET_RANGE + cfg.run_offset;
}

/* The next request of socket `index`, per mode. */
static size_t request(conn *c, int index, uint8_t *buf)
{
    uint8_t id[ID_LEN];
    switch (cfg.mode) {
    case M_HELLO:
        return frame(buf, T_HELLO_REQ, NULL, 0);
    case M_REGISTER:
        /* A run of its own in the socket's range: ids of an earlier run
         * belong to other (closed) sockets and would count as conflicts. */
        session_id(REGISTER_BASE + index * SOCKET_RANGE +
                       (cfg.run_offset + c->next_id++) % SOCKET_RANGE, id);
        return frame(buf, T_REGISTER, id, ID_LEN);
    case M_REFRESH:
        session_id(refresh_first(index) + c->next_id++ % ids_per_socket(), id);
        return frame(buf, T_REGISTER, id, ID_LEN);
    case M_JOIN:
        session_id((long long)(next_random() % (uint64_t)(cfg.sessions > 0 ? cfg.sessions : 1)),
                   id);
        return frame(buf, T_JOIN, id, ID_LEN);
    default: /* M_JOIN_MISS */
        session_id(MISS_BASE + (long long)(next_random() % 1000000), id);
        return frame(buf, T_JOIN, id, ID_LEN);
    }
}

/* A nonblocking socket on 127.0.0.1:port (0: any), connected to the target. */
static int udp_socket(int port)
{
    struct sockaddr_in self;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), size = 4 << 20;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0 ||
        connect(fd, (struct sockaddr *)&cfg.target, sizeof cfg.target) != 0) {
        perror("socket");
        exit(1);
    }
    return fd;
}

/* Sends n prepared frames with one sendmmsg; returns how many left. */
static int send_frames(int fd, uint8_t (*bufs)[FRAME_MAX], const size_t *lens, int n)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    int i, sent;
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < n; i++) {
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = lens[i];
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    sent = n > 0 ? sendmmsg(fd, msgs, (unsigned)n, 0) : 0;
    return sent > 0 ? sent : 0;
}

/* Sends up to n requests of a socket (fewer if its buffer is full). */
static int send_requests(conn *c, int index, int n)
{
    uint8_t bufs[BATCH][FRAME_MAX];
    size_t lens[BATCH];
    int i;
    if (n > BATCH)
        n = BATCH;
    for (i = 0; i < n; i++)
        lens[i] = request(c, index, bufs[i]);
    return send_frames(c->fd, bufs, lens, n);
}

/* One recvmmsg into bufs (lens[i]: each datagram's length); returns how
 * many came, 0 when none was waiting. */
static int recv_batch(int fd, uint8_t (*bufs)[REPLY_MAX], unsigned *lens)
{
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    int i, n;
    recv_setup(msgs, iovs, bufs[0], REPLY_MAX, BATCH, NULL);
    n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    for (i = 0; i < n; i++)
        lens[i] = msgs[i].msg_len;
    return n > 0 ? n : 0;
}

/* Reads every waiting reply; returns how many. */
static int read_replies(int fd)
{
    uint8_t bufs[BATCH][REPLY_MAX];
    unsigned lens[BATCH];
    int n, total = 0;
    do {
        n = recv_batch(fd, bufs, lens);
        total += n;
    } while (n == BATCH);
    return total;
}

/* The table filling: ids first..first+count-1 registered from one socket,
 * with a window of unacknowledged Registers, in passes: each pass sends the
 * ids not acknowledged yet (Registers are idempotent for their owner), so a
 * slow holepuncher (under valgrind, or resizing its table) only slows it. */
typedef struct filling {
    int fd;
    long long first, count, acked, next, in_flight;
    uint8_t *done; /* one byte per id: its RegisterAck came */
} filling;

/* Marks the ids of the RegisterAcks waiting on the socket. */
static void read_acks(filling *f)
{
    uint8_t bufs[BATCH][REPLY_MAX];
    unsigned lens[BATCH];
    int i, j, n;
    do {
        n = recv_batch(f->fd, bufs, lens);
        for (i = 0; i < n; i++) {
            long long id = 0;
            if (lens[i] != 4 + ID_LEN || bufs[i][3] != T_REGISTER_ACK)
                continue;
            for (j = 5; j < 4 + ID_LEN; j++)
                id = id * 10 + (bufs[i][j] - '0');
            if (id >= f->first && id < f->first + f->count && !f->done[id - f->first]) {
                f->done[id - f->first] = 1;
                f->acked++;
                f->in_flight--;
            }
        }
    } while (n == BATCH);
}

/* Sends the next batch of ids that are not acknowledged yet. */
static void send_unacked(filling *f)
{
    uint8_t bufs[BATCH][FRAME_MAX];
    size_t lens[BATCH];
    int n = 0;
    for (; n < BATCH && f->next < f->count; f->next++) {
        uint8_t id[ID_LEN];
        if (f->done[f->next])
            continue;
        session_id(f->first + f->next, id);
        lens[n] = frame(bufs[n], T_REGISTER, id, ID_LEN);
        n++;
    }
    f->in_flight += send_frames(f->fd, bufs, lens, n);
}

/* Returns how many were acknowledged (it gives up once acks stop coming). */
static long long prefill(int fd, long long first, long long count)
{
    filling f = {fd, first, count, 0, 0, 0, calloc((size_t)count, 1)};
    long long last_progress = now_ns(), last_resend = 0, last_ack = 0;
    while (f.acked < count && now_ns() - last_progress < PREFILL_PATIENCE_NS) {
        long long now;
        if (f.in_flight < PREFILL_WINDOW && f.next < count)
            send_unacked(&f);
        read_acks(&f);
        now = now_ns();
        if (f.acked > last_ack) {
            last_ack = f.acked;
            last_progress = now;
        } else if (now - last_progress > PREFILL_RESEND_NS &&
                   now - last_resend > PREFILL_RESEND_NS) {
            /* What is in flight was lost; after the last id, a new pass. */
            last_resend = now;
            f.in_flight = 0;
            if (f.next == count)
                f.next = 0;
        }
    }
    free(f.done);
    return f.acked;
}

static int parse_mode(const char *name)
{
    static const char *const names[] = {"hello", "register", "refresh", "join", "join-miss"};
    int i;
    for (i = 0; i < 5; i++) {
        if (strcmp(name, names[i]) == 0) {
            cfg.mode = (enum mode)i;
            cfg.mode_name = names[i];
            return 0;
        }
    }
    return -1;
}

typedef struct totals {
    long long answered, owner_rx, lost;
    long long max_gap_ns; /* the longest time without any answer: a stalled server */
    double server_cpu_s;
} totals;

/* User + system CPU seconds of a process so far; 0 without a pid. */
static double cpu_seconds(int pid)
{
    char path[64], line[1024], *p;
    unsigned long utime = 0, stime = 0;
    FILE *f;
    if (pid <= 0)
        return 0;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    p = fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
    fclose(f);
    /* After the command's ")": fields 3.. ; utime and stime are 14 and 15. */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) != 2)
        return 0;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Requests or replies lost (a full buffer): refill the windows that stalled. */
static void refill_stalled(conn *conns, long long now, totals *t)
{
    int i;
    for (i = 0; i < cfg.sockets; i++) {
        conn *c = &conns[i];
        if (now - c->last_reply_ns > STALL_NS) {
            t->lost += c->outstanding;
            c->outstanding = send_requests(c, i, cfg.window);
            c->last_reply_ns = now;
        }
    }
}

/* The table full before measuring: the owner's K ids, or in refresh mode
 * each socket's own. Returns how many were acknowledged. */
static long long fill_table(int owner, conn *conns)
{
    long long acked = 0;
    int i;
    if (cfg.mode != M_REFRESH)
        return prefill(owner, 0, cfg.sessions);
    for (i = 0; i < cfg.sockets; i++)
        acked += prefill(conns[i].fd, refresh_first(i), ids_per_socket());
    return acked;
}

static totals run(int owner, conn *conns)
{
    struct epoll_event evs[256], oev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    int ep = epoll_create1(0), i;
    long long start = now_ns(), measure_from = start + (long long)(cfg.warmup * 1e9);
    long long end = measure_from + (long long)(cfg.seconds * 1e9), last_scan = start;
    long long last_answer = measure_from;
    double cpu_start = -1;
    totals t = {0, 0, 0, 0, 0};

    epoll_ctl(ep, EPOLL_CTL_ADD, owner, &oev);
    for (i = 0; i < cfg.sockets; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        conns[i].outstanding = send_requests(&conns[i], i, cfg.window);
        conns[i].last_reply_ns = start;
    }
    for (;;) {
        long long now = now_ns();
        int n = epoll_wait(ep, evs, 256, 5);
        if (now >= end)
            break;
        if (cpu_start < 0 && now >= measure_from)
            cpu_start = cpu_seconds(cfg.server_pid);
        for (i = 0; i < n; i++) {
            conn *c;
            int got;
            if (evs[i].data.u32 == UINT32_MAX) {
                got = read_replies(owner);
                t.owner_rx += now >= measure_from ? got : 0;
                continue;
            }
            c = &conns[evs[i].data.u32];
            got = read_replies(c->fd);
            c->outstanding = got > c->outstanding ? 0 : c->outstanding - got;
            if (now >= measure_from && got > 0) {
                t.answered += got;
                t.max_gap_ns = now - last_answer > t.max_gap_ns ? now - last_answer : t.max_gap_ns;
                last_answer = now;
            }
            c->last_reply_ns = now;
            c->outstanding += send_requests(c, (int)evs[i].data.u32, cfg.window - c->outstanding);
        }
        if (now - last_scan > STALL_NS / 2) {
            last_scan = now;
            refill_stalled(conns, now, &t);
        }
    }
    t.server_cpu_s = cpu_seconds(cfg.server_pid) - (cpu_start < 0 ? 0 : cpu_start);
    return t;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, 0, 't'}, {"mode", required_argument, 0, 'm'},
        {"sockets", required_argument, 0, 'n'}, {"window", required_argument, 0, 'w'},
        {"seconds", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'u'},
        {"sessions", required_argument, 0, 'k'}, {"owner-port", required_argument, 0, 'o'},
        {"server-pid", required_argument, 0, 'p'}, {"no-fill", no_argument, 0, 'f'},
        {0, 0, 0, 0}};
    char target[64] = "127.0.0.1:47470", *colon;
    long long prefilled = 0, wanted;
    int opt, owner, i;
    conn *conns;
    totals t;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': snprintf(target, sizeof target, "%s", optarg); break;
        case 'm':
            if (parse_mode(optarg) != 0) {
                fprintf(stderr, "unknown mode %s\n", optarg);
                return 2;
            }
            break;
        case 'n': cfg.sockets = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); break;
        case 's': cfg.seconds = atof(optarg); break;
        case 'u': cfg.warmup = atof(optarg); break;
        case 'k': cfg.sessions = atoll(optarg); break;
        case 'o': cfg.owner_port = atoi(optarg); break;
        case 'p': cfg.server_pid = atoi(optarg); break;
        case 'f': cfg.no_fill = 1; break;
        default: return 2;
        }
    }
    colon = strrchr(target, ':');
    if (colon == NULL || cfg.sockets < 1 || cfg.sockets > MAX_SOCKETS || cfg.window < 1 ||
        cfg.window > BATCH || cfg.sessions < 0 ||
        (cfg.mode == M_REFRESH && ids_per_socket() > SOCKET_RANGE / 100)) { /* run_offset's room */
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    /* From the process id, once: a getpid per request was a system call per
     * request, which made the load, not the server, the limit of this mode. */
    cfg.run_offset = getpid() % 99 * 1000000LL;
    *colon = '\0';
    cfg.target.sin_family = AF_INET;
    cfg.target.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, target, &cfg.target.sin_addr);
    owner = udp_socket(cfg.owner_port);
    conns = calloc((size_t)cfg.sockets, sizeof *conns);
    for (i = 0; i < cfg.sockets; i++)
        conns[i].fd = udp_socket(0);
    wanted = cfg.no_fill ? 0 : cfg.mode == M_REFRESH ? ids_per_socket() * cfg.sockets
                                                      : cfg.sessions;
    if (wanted > 0 && (prefilled = fill_table(owner, conns)) < wanted) {
        fprintf(stderr, "prefill: only %lld of %lld sessions acknowledged\n", prefilled, wanted);
        return 3;
    }
    fprintf(stderr, "filled %lld\n", prefilled); /* profile.py starts counting here */
    t = run(owner, conns);
    printf("{\"mode\": \"%s\", \"answered\": %lld, \"seconds\": %.3f, \"rate\": %.0f, "
           "\"owner_rx\": %lld, \"lost\": %lld, \"sockets\": %d, \"window\": %d, "
           "\"sessions\": %lld, \"prefilled\": %lld, \"server_cpu_s\": %.2f, "
           "\"max_gap_ms\": %.1f}\n",
           cfg.mode_name, t.answered, cfg.seconds, t.answered / cfg.seconds, t.owner_rx, t.lost,
           cfg.sockets, cfg.window, cfg.sessions, prefilled, t.server_cpu_s, t.max_gap_ns / 1e6);
    return 0;
}
