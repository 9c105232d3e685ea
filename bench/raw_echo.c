/* The physical baseline: the smallest UDP responder with the same batching
 * as the holepuncher (recvmmsg/sendmmsg), answering HelloReq with HelloResp.
 * Usage: raw_echo ADDR PORT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { BATCH = 64, SLOT = 512 };

int main(int argc, char **argv)
{
    static uint8_t bufs[BATCH][SLOT];
    struct mmsghdr msgs[BATCH];
    struct iovec iovs[BATCH];
    struct sockaddr_in addrs[BATCH], self;
    int fd = socket(AF_INET, SOCK_DGRAM, 0), i;

    if (argc != 3) {
        fprintf(stderr, "usage: raw_echo ADDR PORT\n");
        return 2;
    }
    memset(&self, 0, sizeof self);
    self.sin_family = AF_INET;
    self.sin_port = htons((uint16_t)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &self.sin_addr);
    if (bind(fd, (struct sockaddr *)&self, sizeof self) != 0) {
        perror("bind");
        return 1;
    }
    printf("READY\n");
    fflush(stdout);
    for (;;) {
        int n;
        memset(msgs, 0, sizeof msgs);
        for (i = 0; i < BATCH; i++) {
            iovs[i].iov_base = bufs[i];
            iovs[i].iov_len = SLOT;
            msgs[i].msg_hdr.msg_iov = &iovs[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
            msgs[i].msg_hdr.msg_name = &addrs[i];
            msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
        if (n <= 0)
            continue;
        for (i = 0; i < n; i++) {
            bufs[i][3] = 9; /* HelloReq (8) -> HelloResp (9) */
            iovs[i].iov_len = msgs[i].msg_len;
        }
        sendmmsg(fd, msgs, (unsigned)n, 0);
    }
}
