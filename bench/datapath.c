/*
 * Data path: datagrams per second from a client to its server through the
 * public API, against raw sendmmsg/recvmmsg between two sockets. The
 * receiver runs in a child process on CPU 0, the sender on CPU 1 (when there
 * are two); the sender sends as fast as it can for the duration; the rate is
 * what the receiver got per second. Both sides' CPU time per datagram is
 * reported too.
 *
 * api: the way a program that moves many datagrams uses the API,
 * ruphin_send_batch (64 at a time) and ruphin_poll_batch; api1: one
 * ruphin_send and one ruphin_poll per datagram (one sendto each). raw: 64
 * datagrams per sendmmsg; raw-gso: as many per sendmsg with segmentation
 * offload (UDP_SEGMENT), as ruphin_send_batch sends them on Linux.
 *
 * datapath raw|raw-gso|api|api1 SIZE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "ruphin.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

enum { BATCH = 64, MAX_SIZE = 2048, HP_POLL_MS = 50, GSO_MAX_BYTES = 65000 };

typedef struct side {
    long long datagrams;
    double cpu_s;
} side;

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- raw ---- */

static int raw_socket(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 8 << 20;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("bind");
        exit(1);
    }
    return fd;
}

/* Counts from the first datagram for `seconds`. */
static side raw_receive(int fd, double seconds)
{
    static uint8_t bufs[BATCH][MAX_SIZE];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct timeval tv = {0, 100000};
    side got = {0, 0};
    double end = 0, give_up = now_s() + 10, cpu0 = 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while ((end == 0 && now_s() < give_up) || now_s() < end) {
        int n;
        recv_setup(msgs, iovs, bufs[0], MAX_SIZE, BATCH, NULL);
        n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n > 0 && end == 0) {
            end = now_s() + seconds;
            cpu0 = cpu_s();
        }
        if (n > 0)
            got.datagrams += n;
    }
    got.cpu_s = cpu_s() - cpu0;
    return got;
}

/* One message of `segments` datagrams of `size` bytes, cut by the kernel
 * (the same cmsg as core/src/sock.c writes: the raw side uses none of the
 * library's code). */
static void gso_message(struct msghdr *h, struct iovec *iovs, unsigned segments, size_t size,
                        char *ctl, size_t ctl_len)
{
    struct cmsghdr *c;
    uint16_t seg = (uint16_t)size;
    h->msg_iov = iovs;
    h->msg_iovlen = segments;
    h->msg_control = ctl;
    h->msg_controllen = ctl_len;
    c = CMSG_FIRSTHDR(h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof seg);
    memcpy(CMSG_DATA(c), &seg, sizeof seg);
}

static side raw_send(uint16_t to_port, size_t size, double seconds, int gso)
{
    static uint8_t payload[MAX_SIZE];
    static char ctl[CMSG_SPACE(sizeof(uint16_t))];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(to_port)};
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    unsigned i, per_message = 1, messages = BATCH;
    int fd = raw_socket(0);
    double end = now_s() + seconds + 0.2, cpu0 = cpu_s();
    side sent = {0, 0};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connect(fd, (struct sockaddr *)&to, sizeof to);
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < BATCH; i++) {
        iovs[i].iov_base = payload;
        iovs[i].iov_len = size;
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    if (gso) {
        per_message = GSO_MAX_BYTES / size < BATCH ? GSO_MAX_BYTES / size : BATCH;
        messages = 1;
        gso_message(&msgs[0].msg_hdr, iovs, per_message, size, ctl, sizeof ctl);
    }
    while (now_s() < end) {
        int n = sendmmsg(fd, msgs, messages, 0);
        sent.datagrams += n > 0 ? (long long)n * per_message : 0;
    }
    sent.cpu_s = cpu_s() - cpu0;
    return sent;
}

/* ---- through the API ---- */

static ruphin_options *options(void)
{
    ruphin_options *o;
    ruphin_options_new(&o);
    ruphin_options_set(o, RUPHIN_OPT_RETRANSMIT_MS, 20);
    ruphin_options_set(o, RUPHIN_OPT_MAX_PAYLOAD, MAX_SIZE);
    ruphin_options_set(o, RUPHIN_OPT_SOCKET_BUFFER, 8 << 20);
    return o;
}

/* Answers what waits at the holepuncher (registration refreshes). */
static int batched; /* api, not api1 */

static void serve_holepuncher(ruphin_node *hp)
{
    ruphin_event ev;
    while (ruphin_poll(hp, 0, &ev) == 1)
        ;
}

/* Counts the DATA events ready now (waiting up to 1 ms for the first);
 * the first of all starts the clock. */
static long long count_data(ruphin_node *server, double *end, double *cpu0, double seconds)
{
    ruphin_event evs[BATCH];
    long long got = 0;
    int n, i;
    while ((n = batched ? ruphin_poll_batch(server, 1, evs, BATCH)
                        : ruphin_poll(server, 1, evs)) > 0) {
        for (i = 0; i < n; i++) {
            if (evs[i].type != RUPHIN_EVENT_DATA)
                continue;
            if (*end == 0) {
                *end = now_s() + seconds;
                *cpu0 = cpu_s();
            }
            got++;
        }
    }
    return got;
}

/* Child: holepuncher and server; counts DATA for `seconds` from the first. */
static side api_receive(const char *hp_addr, int ready_fd, double seconds)
{
    ruphin_options *o = options();
    ruphin_node *hp, *server;
    ruphin_event ev;
    side got = {0, 0};
    double end = 0, give_up = now_s() + 10, cpu0 = 0, hp_next = 0;
    if (ruphin_holepuncher_new(&hp, hp_addr, o) != RUPHIN_OK ||
        ruphin_server_new(&server, hp_addr, (const uint8_t *)"bench", 5, "127.0.0.1:0", o) !=
            RUPHIN_OK)
        exit(1);
    do { /* registered before the client may join */
        serve_holepuncher(hp);
    } while (ruphin_poll(server, 1, &ev) >= 0 && ev.type != RUPHIN_EVENT_REGISTERED);
    if (write(ready_fd, "r", 1) != 1)
        exit(1);
    while ((end == 0 && now_s() < give_up) || now_s() < end) {
        if (end == 0 || now_s() >= hp_next) { /* the join, then now and then */
            serve_holepuncher(hp);
            hp_next = now_s() + HP_POLL_MS / 1000.0;
        }
        got.datagrams += count_data(server, &end, &cpu0, seconds);
    }
    got.cpu_s = cpu_s() - cpu0;
    ruphin_close(server);
    ruphin_close(hp);
    return got;
}

static side api_send(const char *hp_addr, size_t size, double seconds)
{
    static uint8_t payloads[BATCH * MAX_SIZE];
    size_t lens[BATCH];
    ruphin_options *o = options();
    ruphin_node *client;
    ruphin_event ev;
    double end, cpu0;
    side sent = {0, 0};
    if (ruphin_client_new(&client, hp_addr, (const uint8_t *)"bench", 5, "127.0.0.1:0", o) !=
        RUPHIN_OK)
        exit(1);
    while (ruphin_poll(client, 1000, &ev) >= 0 && ev.type != RUPHIN_EVENT_CONNECTED)
        ;
    end = now_s() + seconds + 0.2;
    cpu0 = cpu_s();
    for (int i = 0; i < BATCH; i++)
        lens[i] = size;
    while (now_s() < end) {
        size_t n = 0;
        if (batched)
            ruphin_send_batch(client, NULL, payloads, lens, BATCH, &n);
        else
            for (int i = 0; i < BATCH; i++)
                n += ruphin_send(client, NULL, payloads, size) == RUPHIN_OK;
        sent.datagrams += (long long)n;
        while (ruphin_poll(client, 0, &ev) == 1) /* keepalives, if any */
            ;
    }
    sent.cpu_s = cpu_s() - cpu0;
    ruphin_close(client);
    return sent;
}

int main(int argc, char **argv)
{
    int pipefd[2], raw;
    size_t size;
    double seconds;
    pid_t child;
    side got, sent;
    char hp_addr[32], c;
    if (argc != 4 || (strcmp(argv[1], "api") != 0 && strcmp(argv[1], "api1") != 0 &&
                      strcmp(argv[1], "raw") != 0 && strcmp(argv[1], "raw-gso") != 0)) {
        fprintf(stderr, "usage: datapath raw|raw-gso|api|api1 SIZE SECONDS\n");
        return 2;
    }
    raw = strncmp(argv[1], "raw", 3) == 0;
    batched = strcmp(argv[1], "api") == 0;
    size = (size_t)atoi(argv[2]);
    seconds = atof(argv[3]);
    snprintf(hp_addr, sizeof hp_addr, "127.0.0.1:%d", 20000 + getpid() % 20000);
    if (pipe(pipefd) != 0)
        return 1;
    child = fork();
    if (child == 0) {
        pin(0);
        if (raw) {
            int fd = raw_socket((uint16_t)(20000 + getppid() % 20000));
            if (write(pipefd[1], "r", 1) != 1)
                return 1;
            got = raw_receive(fd, seconds);
        } else {
            got = api_receive(hp_addr, pipefd[1], seconds);
        }
        return write(pipefd[1], &got, sizeof got) == (ssize_t)sizeof got ? 0 : 1;
    }
    pin(1);
    if (read(pipefd[0], &c, 1) != 1)
        return 1;
    sent = raw ? raw_send((uint16_t)(20000 + getpid() % 20000), size, seconds,
                          strcmp(argv[1], "raw-gso") == 0)
               : api_send(hp_addr, size, seconds);
    if (read(pipefd[0], &got, sizeof got) != (ssize_t)sizeof got)
        return 1;
    waitpid(child, NULL, 0);
    printf("{\"mode\": \"%s\", \"size\": %zu, \"sent\": %lld, \"received\": %lld, "
           "\"rate\": %.0f, \"rx_cpu_us\": %.3f, \"tx_cpu_us\": %.3f}\n",
           argv[1], size, sent.datagrams, got.datagrams, got.datagrams / seconds,
           got.datagrams ? got.cpu_s * 1e6 / got.datagrams : 0,
           sent.datagrams ? sent.cpu_s * 1e6 / sent.datagrams : 0);
    return 0;
}
