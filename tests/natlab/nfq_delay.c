/*
 * One-way delay for the NAT lab, where tc netem is not available: holds every
 * packet of an NFQUEUE queue for a fixed time, then accepts it. Packets leave
 * in the order they came, since every one waits the same time.
 *
 * Usage: nfq_delay QUEUE DELAY_MS   (prints READY once it reads the queue)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

enum { HELD_MAX = 65536, SOCKET_BUFFER = 4 << 20 };

static struct {
    uint32_t id;
    long long release_us;
} held[HELD_MAX];
static unsigned head, count;
static long long delay_us;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    uint32_t id = ph ? ntohl(ph->packet_id) : 0;
    (void)msg;
    (void)data;
    if (count == HELD_MAX) /* cannot happen below the kernel's queue length */
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    held[(head + count) % HELD_MAX].id = id;
    held[(head + count) % HELD_MAX].release_us = now_us() + delay_us;
    count++;
    return 0;
}

/* Accepts every packet whose time has come. */
static void release_due(struct nfq_q_handle *qh)
{
    while (count && held[head].release_us <= now_us()) {
        nfq_set_verdict(qh, held[head].id, NF_ACCEPT, 0, NULL);
        head = (head + 1) % HELD_MAX;
        count--;
    }
}

/* How long ppoll() may sleep: until the oldest packet is due, or forever (NULL). */
static struct timespec *sleep_time(struct timespec *ts)
{
    long long wait;
    if (count == 0)
        return NULL;
    wait = held[head].release_us - now_us();
    if (wait < 0)
        wait = 0;
    ts->tv_sec = wait / 1000000;
    ts->tv_nsec = (wait % 1000000) * 1000;
    return ts;
}

int main(int argc, char **argv)
{
    static char buf[1 << 17];
    struct nfq_handle *h;
    struct nfq_q_handle *qh = NULL;
    int fd;
    if (argc != 3 || (delay_us = atoll(argv[2]) * 1000) < 0) {
        fprintf(stderr, "usage: nfq_delay QUEUE DELAY_MS\n");
        return 2;
    }
    h = nfq_open();
    if (h == NULL || (qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL)) == NULL ||
        nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0 || nfq_set_queue_maxlen(qh, HELD_MAX) < 0) {
        perror("nfq_delay: cannot set up the queue");
        return 1;
    }
    fd = nfq_fd(h);
    nfnl_rcvbufsiz(nfq_nfnlh(h), SOCKET_BUFFER);
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec ts;
        if (ppoll(&p, 1, sleep_time(&ts), NULL) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                nfq_handle_packet(h, buf, (int)n);
            else if (n < 0 && errno != ENOBUFS && errno != EINTR) {
                perror("nfq_delay: recv");
                return 1;
            }
        }
        release_due(qh);
    }
}
