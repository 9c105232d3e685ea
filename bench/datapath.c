/*
 * Data path: datagrams per second from a client to its server through the
 * public API, against raw sendmmsg/recvmmsg between two sockets. The
 * receiver runs in a child process (pin the two with taskset from the
 * runner); the sender sends as fast as it can for the duration; the figure is
 * what the receiver got per second.
 *
 * datapath api|raw SIZE SECONDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ruphin.h"

enum { BATCH = 64, MAX_SIZE = 2048 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- raw ---- */

static int raw_socket(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    int fd = socket(AF_INET, SOCK_DGRAM, 0), size = 8 << 20;
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    return fd;
}

static long long raw_receive(int fd, double seconds)
{
    static uint8_t bufs[BATCH][MAX_SIZE];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct timeval tv = {0, 100000};
    long long got = 0;
    double end = now_s() + seconds;
    int i;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (now_s() < end) {
        int n;
        memset(msgs, 0, sizeof msgs);
        for (i = 0; i < BATCH; i++) {
            iovs[i].iov_base = bufs[i];
            iovs[i].iov_len = MAX_SIZE;
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n > 0)
            got += n;
    }
    return got;
}

static void raw_send(uint16_t to_port, size_t size, double seconds)
{
    static uint8_t payload[MAX_SIZE];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(to_port)};
    struct mmsghdr msgs[BATCH];
    struct iovec iov = {payload, size};
    int fd = raw_socket(0), i;
    double end = now_s() + seconds;
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    connect(fd, (struct sockaddr *)&to, sizeof to);
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < BATCH; i++) {
        msgs[i].msg_hdr.msg_iov = &iov;
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (now_s() < end)
        sendmmsg(fd, msgs, BATCH, 0);
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

/* Child: holepuncher and server; counts DATA for the measurement window,
 * which starts with the first datagram. */
static long long api_receive(const char *hp_addr, int ready_fd, double seconds)
{
    ruphin_options *o = options();
    ruphin_node *hp, *server;
    ruphin_event ev;
    long long got = 0;
    double end = 0;
    double give_up = now_s() + 10;
    ruphin_holepuncher_new(&hp, hp_addr, o);
    ruphin_server_new(&server, hp_addr, (const uint8_t *)"bench", 5, "127.0.0.1:0", o);
    do { /* registered before the client may join */
        while (ruphin_poll(hp, 0, &ev) == 1)
            ;
    } while (ruphin_poll(server, 1, &ev) >= 0 && ev.type != RUPHIN_EVENT_REGISTERED);
    if (write(ready_fd, "r", 1) != 1)
        return -1;
    while ((end == 0 && now_s() < give_up) || now_s() < end) {
        while (ruphin_poll(hp, 0, &ev) == 1)
            ;
        while (ruphin_poll(server, end == 0 ? 1 : 0, &ev) == 1) {
            if (ev.type == RUPHIN_EVENT_DATA) {
                if (end == 0)
                    end = now_s() + seconds;
                got++;
            }
        }
    }
    ruphin_close(server);
    ruphin_close(hp);
    return got;
}

static void api_send(const char *hp_addr, size_t size, double seconds)
{
    static uint8_t payload[MAX_SIZE];
    ruphin_options *o = options();
    ruphin_node *client;
    ruphin_event ev;
    double end;
    ruphin_client_new(&client, hp_addr, (const uint8_t *)"bench", 5, "127.0.0.1:0", o);
    while (ruphin_poll(client, 1000, &ev) >= 0 && ev.type != RUPHIN_EVENT_CONNECTED)
        ;
    end = now_s() + seconds + 0.2;
    while (now_s() < end) {
        int i;
        for (i = 0; i < BATCH; i++)
            ruphin_send(client, NULL, payload, size);
        while (ruphin_poll(client, 0, &ev) == 1) /* keepalives, if any */
            ;
    }
    ruphin_close(client);
}

int main(int argc, char **argv)
{
    int pipefd[2];
    size_t size;
    double seconds;
    pid_t child;
    long long got = 0;
    char hp_addr[32];
    if (argc != 4 || (strcmp(argv[1], "api") != 0 && strcmp(argv[1], "raw") != 0)) {
        fprintf(stderr, "usage: datapath api|raw SIZE SECONDS\n");
        return 2;
    }
    size = (size_t)atoi(argv[2]);
    seconds = atof(argv[3]);
    snprintf(hp_addr, sizeof hp_addr, "127.0.0.1:%d", 20000 + getpid() % 20000);
    if (pipe(pipefd) != 0)
        return 1;
    child = fork();
    if (child == 0) {
        long long n;
        if (strcmp(argv[1], "raw") == 0) {
            int fd = raw_socket(47699);
            if (write(pipefd[1], "r", 1) != 1)
                return 1;
            n = raw_receive(fd, seconds + 0.1);
        } else {
            n = api_receive(hp_addr, pipefd[1], seconds);
        }
        if (write(pipefd[1], &n, sizeof n) != (ssize_t)sizeof n)
            return 1;
        return 0;
    }
    {
        char c;
        if (read(pipefd[0], &c, 1) != 1)
            return 1;
    }
    if (strcmp(argv[1], "raw") == 0)
        raw_send(47699, size, seconds);
    else
        api_send(hp_addr, size, seconds);
    if (read(pipefd[0], &got, sizeof got) != (ssize_t)sizeof got)
        return 1;
    waitpid(child, NULL, 0);
    printf("{\"mode\": \"%s\", \"size\": %zu, \"received\": %lld, \"rate\": %.0f}\n", argv[1],
           size, got, got / seconds);
    return 0;
}
