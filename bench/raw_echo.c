/* The physical baseline: the smallest UDP responder with the same batching
 * as the holepuncher (recvmmsg/sendmmsg), answering HelloReq with HelloResp.
 *
 * Usage: raw_echo ADDR PORT [COPY_PORT]
 *
 * With COPY_PORT every answer also goes to ADDR:COPY_PORT, in the same
 * sendmmsg: two datagrams out per request, like a Join that finds its
 * session (PeerInfo to the joiner and to the owner). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common.h"

enum { BATCH = 64, SLOT = 512 };

static struct sockaddr_in address(const char *ip, const char *port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(port));
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

int main(int argc, char **argv)
{
    static uint8_t bufs[BATCH][SLOT];
    struct mmsghdr in[BATCH], out[2 * BATCH];
    struct iovec iovs[BATCH];
    struct sockaddr_in from[BATCH], self, copy_to;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), copies = argc == 4, i;

    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: raw_echo ADDR PORT [COPY_PORT]\n");
        return 2;
    }
    self = address(argv[1], argv[2]);
    if (copies)
        copy_to = address(argv[1], argv[3]);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
        perror("bind");
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        int n, k = 0;
        recv_setup(in, iovs, bufs[0], SLOT, BATCH, from);
        n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        for (i = 0; i < n; i++) {
            bufs[i][3] = 9; /* HelloReq (8) -> HelloResp (9) */
            iovs[i].iov_len = in[i].msg_len;
            out[k++] = in[i];
            if (copies) {
                out[k] = in[i];
                out[k].msg_hdr.msg_name = &copy_to;
                out[k++].msg_hdr.msg_namelen = sizeof copy_to;
            }
        }
        sendmmsg(fd, out, (unsigned)k, 0);
    }
}
