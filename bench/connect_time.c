/*
 * Time to connect on loopback, through the C API: from ruphin_client_new to
 * CONNECTED, and to the first echoed datagram (sent as early data at
 * PEER_ANNOUNCED, again at CONNECTED if no echo came yet), against the
 * round-trip floor: the median round trip of one datagram between two plain
 * blocking UDP sockets in two processes placed like the peers.
 *
 * Holepuncher and echoing server run in child processes on CPU 0, the
 * clients on CPU 1 (when there are two). Prints one JSON line.
 *
 * connect_time TRIALS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "ruphin.h"

enum { FLOOR_SAMPLES = 2000, MAX_TRIALS = 10000 };

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    return a;
}

/* Child: a plain blocking echo, for the floor. */
static void raw_echo(int fd)
{
    uint8_t buf[64];
    struct sockaddr_in from;
    for (;;) {
        socklen_t len = sizeof from;
        ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &len);
        if (n > 0)
            sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
    }
}

/* Median round trip of a 16-byte datagram to a plain echo process. */
static double rtt_floor(void)
{
    static double samples[FLOOR_SAMPLES];
    struct sockaddr_in any = loopback(0), echo;
    socklen_t len = sizeof echo;
    int efd = socket(AF_INET, SOCK_DGRAM, 0), fd = socket(AF_INET, SOCK_DGRAM, 0), i;
    uint8_t buf[16] = {0};
    pid_t child;
    bind(efd, (struct sockaddr *)&any, sizeof any);
    getsockname(efd, (struct sockaddr *)&echo, &len);
    child = fork();
    if (child == 0) {
        pin(0);
        raw_echo(efd);
    }
    connect(fd, (struct sockaddr *)&echo, sizeof echo);
    for (i = 0; i < FLOOR_SAMPLES; i++) {
        double t0 = now_s();
        if (send(fd, buf, sizeof buf, 0) < 0 || recv(fd, buf, sizeof buf, 0) < 0)
            exit(1);
        samples[i] = now_s() - t0;
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    close(fd);
    close(efd);
    return median(samples, FLOOR_SAMPLES);
}

/* Child: the holepuncher, polled for ever. */
static void holepuncher(const char *addr, int ready_fd)
{
    ruphin_node *hp;
    ruphin_event ev;
    if (ruphin_holepuncher_new(&hp, addr, NULL) != RUPHIN_OK)
        exit(1);
    if (write(ready_fd, "h", 1) != 1)
        exit(1);
    for (;;)
        ruphin_poll(hp, RUPHIN_WAIT_FOREVER, &ev);
}

/* Child: a server that echoes every datagram. */
static void echo_server(const char *hp_addr, int ready_fd)
{
    ruphin_node *server;
    ruphin_event ev;
    if (ruphin_server_new(&server, hp_addr, (const uint8_t *)"ttc", 3, "127.0.0.1:0", NULL) !=
        RUPHIN_OK)
        exit(1);
    for (;;) {
        if (ruphin_poll(server, RUPHIN_WAIT_FOREVER, &ev) != 1)
            continue;
        if (ev.type == RUPHIN_EVENT_REGISTERED && write(ready_fd, "s", 1) != 1)
            exit(1);
        if (ev.type == RUPHIN_EVENT_DATA)
            ruphin_send(server, &ev.peer, ev.data, ev.len);
    }
}

/* One client: seconds to CONNECTED and to the first echo; -1 on failure. */
static int one_trial(const char *hp_addr, double *connected, double *echoed)
{
    static const uint8_t hello[] = "first";
    double t0 = now_s();
    ruphin_node *client;
    ruphin_event ev;
    int rc;
    *connected = *echoed = -1;
    if (ruphin_client_new(&client, hp_addr, (const uint8_t *)"ttc", 3, "127.0.0.1:0", NULL) !=
        RUPHIN_OK)
        return -1;
    while (*echoed < 0 && (rc = ruphin_poll(client, 5000, &ev)) == 1) {
        if (ev.type == RUPHIN_EVENT_PEER_ANNOUNCED) /* early data */
            ruphin_send(client, NULL, hello, sizeof hello);
        if (ev.type == RUPHIN_EVENT_CONNECTED) {
            *connected = now_s() - t0;
            ruphin_send(client, NULL, hello, sizeof hello);
        }
        if (ev.type == RUPHIN_EVENT_DATA)
            *echoed = now_s() - t0;
    }
    ruphin_close(client);
    return *echoed < 0 ? -1 : 0;
}

static pid_t start_child(void (*body)(const char *, int), const char *arg)
{
    int pipefd[2];
    char c;
    pid_t child;
    if (pipe(pipefd) != 0)
        exit(1);
    child = fork();
    if (child == 0) {
        pin(0);
        body(arg, pipefd[1]);
        _exit(0);
    }
    if (read(pipefd[0], &c, 1) != 1) /* it is ready */
        exit(1);
    close(pipefd[0]);
    close(pipefd[1]);
    return child;
}

int main(int argc, char **argv)
{
    static double to_connect[MAX_TRIALS], to_echo[MAX_TRIALS];
    int trials = argc == 2 ? atoi(argv[1]) : 0, i, failed = 0;
    char hp_addr[32];
    pid_t hp, server;
    double floor_s, ttc, tte;
    if (trials < 1 || trials > MAX_TRIALS) {
        fprintf(stderr, "usage: connect_time TRIALS (1..%d)\n", MAX_TRIALS);
        return 2;
    }
    pin(1);
    snprintf(hp_addr, sizeof hp_addr, "127.0.0.1:%d", 40000 + getpid() % 20000);
    hp = start_child(holepuncher, hp_addr);
    server = start_child(echo_server, hp_addr);
    for (i = 0; i < trials; i++)
        failed += one_trial(hp_addr, &to_connect[i - failed], &to_echo[i - failed]) != 0;
    kill(hp, SIGKILL);
    kill(server, SIGKILL);
    waitpid(hp, NULL, 0);
    waitpid(server, NULL, 0);
    if (failed == trials)
        return 1;
    floor_s = rtt_floor();
    ttc = median(to_connect, trials - failed);
    tte = median(to_echo, trials - failed);
    printf("{\"trials\": %d, \"failed\": %d, \"connected_ms\": %.4f, \"echo_ms\": %.4f, "
           "\"rtt_floor_ms\": %.4f, \"connected_rtts\": %.2f, \"echo_rtts\": %.2f}\n",
           trials, failed, ttc * 1e3, tte * 1e3, floor_s * 1e3, ttc / floor_s, tte / floor_s);
    return 0;
}
