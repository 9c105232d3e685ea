/*
 * Holds every packet of an NFQUEUE queue for a fixed delay, then accepts it:
 * one-way delay for the NAT lab, where tc netem is not available.
 * Usage: nfq_delay QUEUE DELAY_MS   (prints READY once bound)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libnetfilter_queue/libnetfilter_queue.h>

enum { HELD_MAX = 65536 };

static struct {
    uint32_t id;
    long long release_ms;
} held[HELD_MAX];
static unsigned head, count;
static long long delay_ms;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa,
                     void *data)
{
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    uint32_t id = ph ? ntohl(ph->packet_id) : 0;
    (void)msg;
    (void)data;
    if (count == HELD_MAX) /* full: let it through now rather than lose it */
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    held[(head + count) % HELD_MAX].id = id;
    held[(head + count) % HELD_MAX].release_ms = now_ms() + delay_ms;
    count++;
    return 0;
}

int main(int argc, char **argv)
{
    struct nfq_handle *h;
    struct nfq_q_handle *qh;
    char buf[65536];
    int fd;
    if (argc != 3) {
        fprintf(stderr, "usage: nfq_delay QUEUE DELAY_MS\n");
        return 2;
    }
    delay_ms = atoll(argv[2]);
    h = nfq_open();
    if (h == NULL || (qh = nfq_create_queue(h, (uint16_t)atoi(argv[1]), on_packet, NULL)) == NULL ||
        nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
        perror("nfq");
        return 1;
    }
    fd = nfq_fd(h);
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        long long wait = count ? held[head].release_ms - now_ms() : -1;
        if (poll(&p, 1, count ? (wait > 0 ? (int)wait : 0) : -1) > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                nfq_handle_packet(h, buf, (int)n);
        }
        while (count && held[head].release_ms <= now_ms()) {
            nfq_set_verdict(qh, held[head].id, NF_ACCEPT, 0, NULL);
            head = (head + 1) % HELD_MAX;
            count--;
        }
    }
}
