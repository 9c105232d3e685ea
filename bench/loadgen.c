/*
 * Closed-loop UDP load generator for the holepuncher (and the raw baseline):
 * many sockets, each with a fixed window of requests in flight, nonblocking
 * with epoll and recvmmsg/sendmmsg. Prints one JSON line with requests
 * answered per second.
 *
 * loadgen --target IP:PORT --mode register|join|join-miss|hello
 *         [--sockets N] [--window W] [--seconds S] [--warmup S] [--sessions K]
 *
 * --sessions K registers K distinct 12-byte ids first (from one owner
 * socket), so the table is full while measuring; join looks those ids up,
 * register keeps refreshing ids of its own (each socket its own K/N ids, the
 * first pass creating them).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { BATCH = 64, FRAME_MAX = 32, ID_LEN = 12, STALL_NS = 20000000 };

typedef struct conn {
    int fd;
    int outstanding;
    long long next_id; /* register mode: this socket's own id sequence */
    long long last_reply_ns;
} conn;

static struct {
    struct sockaddr_in target;
    const char *mode;
    int sockets, window;
    double seconds, warmup;
    long long sessions;
} cfg = {.mode = "hello", .sockets = 16, .window = 16, .seconds = 3, .warmup = 0.5};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static size_t frame(uint8_t *buf, int type, const uint8_t *payload, size_t len)
{
    buf[0] = (uint8_t)((4 + len) >> 8);
    buf[1] = (uint8_t)(4 + len);
    buf[2] = 0;
    buf[3] = (uint8_t)type;
    memcpy(buf + 4, payload, len);
    return 4 + len;
}

static void session_id(long long n, uint8_t *id)
{
    char text[32];
    snprintf(text, sizeof text, "s%011lld", n % 100000000000LL); /* 12 bytes */
    memcpy(id, text, ID_LEN);
}

/* The next request of a socket, per mode. */
static size_t request(conn *c, int index, uint8_t *buf)
{
    uint8_t id[ID_LEN];
    if (strcmp(cfg.mode, "hello") == 0)
        return frame(buf, 8, NULL, 0);
    if (strcmp(cfg.mode, "register") == 0) {
        long long per = cfg.sessions > 0 ? cfg.sessions / cfg.sockets : 1000;
        session_id(1000000000LL + (long long)index * per + (c->next_id++ % per), id);
        return frame(buf, 2, id, ID_LEN);
    }
    if (strcmp(cfg.mode, "join") == 0)
        session_id(rand() % (cfg.sessions > 0 ? cfg.sessions : 1), id);
    else /* join-miss */
        session_id(900000000LL + rand() % 1000000, id);
    return frame(buf, 3, id, ID_LEN);
}

static int udp_socket(int connect_target)
{
    struct sockaddr_in self;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), size = 4 << 20;
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &self.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0 ||
        (connect_target && connect(fd, (struct sockaddr *)&cfg.target, sizeof cfg.target) != 0)) {
        perror("socket");
        exit(1);
    }
    return fd;
}

/* Sends n requests on a socket with one sendmmsg (fewer if its buffer is full). */
static int send_requests(conn *c, int index, int n)
{
    uint8_t bufs[BATCH][FRAME_MAX];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    int i, sent;
    if (n > BATCH)
        n = BATCH;
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < n; i++) {
        iovs[i].iov_base = bufs[i];
        iovs[i].iov_len = request(c, index, bufs[i]);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    sent = sendmmsg(c->fd, msgs, (unsigned)n, 0);
    return sent > 0 ? sent : 0;
}

/* Reads every waiting reply; returns how many. */
static int read_replies(int fd)
{
    uint8_t bufs[BATCH][64];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    int i, n, total = 0;
    do {
        memset(msgs, 0, sizeof msgs);
        for (i = 0; i < BATCH; i++) {
            iovs[i].iov_base = bufs[i];
            iovs[i].iov_len = sizeof bufs[i];
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n > 0)
            total += n;
    } while (n == BATCH);
    return total;
}

/* Registers cfg.sessions ids from one socket before the measurement. */
static void prefill(void)
{
    int fd = udp_socket(1);
    long long next = 0, acked = 0;
    while (acked < cfg.sessions) {
        uint8_t bufs[BATCH][FRAME_MAX];
        struct mmsghdr msgs[BATCH];
        struct iovec iovs[BATCH];
        int i, n = 0;
        long long until = now_ns() + 2000000;
        memset(msgs, 0, sizeof msgs);
        for (i = 0; i < BATCH && next < cfg.sessions; i++, n++) {
            uint8_t id[ID_LEN];
            session_id(next++, id);
            iovs[i].iov_base = bufs[i];
            iovs[i].iov_len = frame(bufs[i], 2, id, ID_LEN);
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        if (n > 0)
            sendmmsg(fd, msgs, (unsigned)n, 0);
        while (acked < next && now_ns() < until)
            acked += read_replies(fd);
        if (n == 0 && acked < cfg.sessions) /* lost acks: count what the table holds */
            break;
    }
    fprintf(stderr, "prefill: %lld of %lld sessions acknowledged\n", acked, cfg.sessions);
    /* The owner socket stays open (joins send it PeerInfo) and unread. */
}

static void run(void)
{
    conn *conns = calloc((size_t)cfg.sockets, sizeof *conns);
    struct epoll_event evs[256];
    int ep = epoll_create1(0), i;
    long long start = now_ns(), measure_from = start + (long long)(cfg.warmup * 1e9);
    long long end = measure_from + (long long)(cfg.seconds * 1e9), answered = 0, lost = 0;
    long long last_scan = start;

    for (i = 0; i < cfg.sockets; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        conns[i].fd = udp_socket(1);
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
        conns[i].outstanding = send_requests(&conns[i], i, cfg.window);
        conns[i].last_reply_ns = start;
    }
    for (;;) {
        long long now = now_ns();
        int n = epoll_wait(ep, evs, 256, 5);
        if (now >= end)
            break;
        for (i = 0; i < n; i++) {
            int k = (int)evs[i].data.u32;
            conn *c = &conns[k];
            int got = read_replies(c->fd);
            c->outstanding -= got;
            if (c->outstanding < 0)
                c->outstanding = 0;
            if (now >= measure_from)
                answered += got;
            c->last_reply_ns = now;
            c->outstanding += send_requests(c, k, cfg.window - c->outstanding);
        }
        if (now - last_scan > STALL_NS / 2) { /* requests or replies lost: refill */
            last_scan = now;
            for (i = 0; i < cfg.sockets; i++) {
                conn *c = &conns[i];
                if (now - c->last_reply_ns > STALL_NS) {
                    lost += c->outstanding;
                    c->outstanding = send_requests(c, i, cfg.window);
                    c->last_reply_ns = now;
                }
            }
        }
    }
    printf("{\"mode\": \"%s\", \"answered\": %lld, \"seconds\": %.3f, \"rate\": %.0f, "
           "\"lost\": %lld, \"sockets\": %d, \"window\": %d, \"sessions\": %lld}\n",
           cfg.mode, answered, cfg.seconds, answered / cfg.seconds, lost, cfg.sockets,
           cfg.window, cfg.sessions);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, 0, 't'}, {"mode", required_argument, 0, 'm'},
        {"sockets", required_argument, 0, 'n'}, {"window", required_argument, 0, 'w'},
        {"seconds", required_argument, 0, 's'}, {"warmup", required_argument, 0, 'u'},
        {"sessions", required_argument, 0, 'k'}, {0, 0, 0, 0}};
    char target[64] = "127.0.0.1:47470", *colon;
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 't': snprintf(target, sizeof target, "%s", optarg); break;
        case 'm': cfg.mode = optarg; break;
        case 'n': cfg.sockets = atoi(optarg); break;
        case 'w': cfg.window = atoi(optarg); break;
        case 's': cfg.seconds = atof(optarg); break;
        case 'u': cfg.warmup = atof(optarg); break;
        case 'k': cfg.sessions = atoll(optarg); break;
        default: return 2;
        }
    }
    colon = strrchr(target, ':');
    if (colon == NULL || cfg.sockets < 1 || cfg.window < 1) {
        fprintf(stderr, "bad arguments\n");
        return 2;
    }
    *colon = '\0';
    cfg.target.sin_family = AF_INET;
    cfg.target.sin_port = htons((uint16_t)atoi(colon + 1));
    inet_pton(AF_INET, target, &cfg.target.sin_addr);
    if (cfg.sessions > 0 && strcmp(cfg.mode, "register") != 0)
        prefill();
    run();
    return 0;
}
