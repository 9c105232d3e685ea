/* The socket driver; see sock.h. */
#ifdef _WIN32
#define _CRT_RAND_S /* rand_s, before any header includes stdlib.h */
#endif
/* No _POSIX_C_SOURCE elsewhere: on macOS and the BSDs it would hide
 * arc4random_buf and getifaddrs, which are not POSIX. */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* recvmmsg, sendmmsg; getifaddrs and arc4random_buf */
#endif

#include "sock.h"
#include "addr.h"
#include "platform.h"
#include "steer.h"

#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h> /* GetAdaptersAddresses: links iphlpapi */
#include <mswsock.h>  /* SIO_UDP_CONNRESET */
#ifndef SIO_UDP_NETRESET  /* not in MinGW-w64's headers */
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif
typedef int socklen_t;
#define CLOSE_SOCKET closesocket
#define LAST_ERROR WSAGetLastError()
#define ERR_WOULD_BLOCK WSAEWOULDBLOCK
#define ERR_CONN_RESET WSAECONNRESET
#define ERR_CONN_REFUSED WSAECONNREFUSED
#define ERR_MSG_SIZE WSAEMSGSIZE
#define ERR_INTR WSAEINTR
#define ERR_NET_RESET WSAENETRESET
#define poll WSAPoll
typedef SOCKET native_socket;
#else
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#if RP_LINUX_EXTRAS
#include <linux/filter.h>
#include <netinet/udp.h>
#include <sys/random.h>
#ifndef UDP_SEGMENT /* older C libraries; the kernel has it since 4.18 */
#define UDP_SEGMENT 103
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#endif
#define CLOSE_SOCKET close
#define LAST_ERROR errno
#define ERR_WOULD_BLOCK EWOULDBLOCK
#define ERR_CONN_RESET ECONNRESET
#define ERR_CONN_REFUSED ECONNREFUSED
#define ERR_MSG_SIZE EMSGSIZE
#define ERR_INTR EINTR
#define ERR_NET_RESET ENETRESET
typedef int native_socket;
#endif
#if RP_LINUX_EXTRAS
#define DONT_WAIT MSG_DONTWAIT /* the descriptor blocks: see set_nonblocking */
#else
#define DONT_WAIT 0
#endif

/* rp_sock keeps the descriptor in an intptr_t, wide enough for both. */
#define NATIVE(fd) ((native_socket)(fd))

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int startup(void)
{
#ifdef _WIN32
    static int started;
    WSADATA data;
    if (!started && WSAStartup(MAKEWORD(2, 2), &data) != 0)
        return RUPHIN_ERR_SOCKET;
    started = 1;
#endif
    return RUPHIN_OK;
}

/* sockaddr -> ruphin_addr; IPv4-mapped IPv6 addresses become plain IPv4. */
static void from_sockaddr(const struct sockaddr_storage *ss, ruphin_addr *out)
{
    memset(out, 0, sizeof *out);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        out->family = 4;
        memcpy(out->ip, &sin->sin_addr, 4);
        out->port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        const uint8_t *ip = (const uint8_t *)&sin6->sin6_addr;
        out->port = ntohs(sin6->sin6_port);
        if (memcmp(ip, v4_mapped_prefix, 12) == 0) {
            out->family = 4;
            memcpy(out->ip, ip + 12, 4);
        } else {
            out->family = 6;
            memcpy(out->ip, ip, 16);
            out->scope_id = sin6->sin6_scope_id;
        }
    }
}

/* ruphin_addr -> sockaddr for a socket of family sock_family (4 or 6);
 * IPv4 goes out of an IPv6 socket as a mapped address. */
static socklen_t to_sockaddr(const ruphin_addr *a, int sock_family, struct sockaddr_storage *ss)
{
    /* Only the returned length counts: the rest of ss is left as it is (a
     * send clears a few bytes, not the 128 of a sockaddr_storage). */
    if (sock_family == 4 && a->family == 4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        memset(sin, 0, sizeof *sin);
        sin->sin_family = AF_INET;
        memcpy(&sin->sin_addr, a->ip, 4);
        sin->sin_port = htons(a->port);
        return sizeof *sin;
    }
    if (sock_family == 6 && (a->family == 6 || a->family == 4)) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        uint8_t *ip = (uint8_t *)&sin6->sin6_addr;
        memset(sin6, 0, sizeof *sin6);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(a->port);
        if (a->family == 4) {
            memcpy(ip, v4_mapped_prefix, 12);
            memcpy(ip + 12, a->ip, 4);
        } else {
            memcpy(ip, a->ip, 16);
            sin6->sin6_scope_id = a->scope_id;
        }
        return sizeof *sin6;
    }
    return 0;
}

/* On Linux every call but rp_sock_recv_wait passes MSG_DONTWAIT instead,
 * so that the wait can be a blocking receive. */
static int set_nonblocking(intptr_t fd)
{
#if RP_LINUX_EXTRAS
    (void)fd;
    return 0;
#elif defined(_WIN32)
    u_long on = 1;
    return ioctlsocket(NATIVE(fd), FIONBIO, &on) == 0 ? 0 : -1;
#else
    int flags = fcntl(NATIVE(fd), F_GETFL, 0);
    return flags < 0 ? -1 : fcntl(NATIVE(fd), F_SETFL, flags | O_NONBLOCK);
#endif
}

static void set_buffers(intptr_t fd, int64_t size)
{
    int v = (int)size;
    /* Best effort: the OS caps the size; a smaller buffer still works. */
    setsockopt(NATIVE(fd), SOL_SOCKET, SO_RCVBUF, (const char *)&v, sizeof v);
    setsockopt(NATIVE(fd), SOL_SOCKET, SO_SNDBUF, (const char *)&v, sizeof v);
}

static int bind_error(void)
{
#ifdef _WIN32
    int e = WSAGetLastError();
    if (e == WSAEADDRINUSE) return RUPHIN_ERR_ADDR_IN_USE;
    if (e == WSAEADDRNOTAVAIL) return RUPHIN_ERR_ADDR_NOT_AVAILABLE;
    if (e == WSAEACCES) return RUPHIN_ERR_PERMISSION;
#else
    if (errno == EADDRINUSE) return RUPHIN_ERR_ADDR_IN_USE;
    if (errno == EADDRNOTAVAIL) return RUPHIN_ERR_ADDR_NOT_AVAILABLE;
    if (errno == EACCES || errno == EPERM) return RUPHIN_ERR_PERMISSION;
    if (errno == EAFNOSUPPORT) return RUPHIN_ERR_ADDRESS_FAMILY;
#endif
    return RUPHIN_ERR_SOCKET;
}

#ifdef _WIN32
/* Windows reports an ICMP error caused by an earlier send (port unreachable
 * from a punched address that is closed; time exceeded from a short-lived
 * probe, rp_sock_send_ttl) as WSAECONNRESET or WSAENETRESET on the next
 * receive, and wakes every wait for it. A peer sends to addresses that may
 * be closed as a matter of course: ask for no such reports. Receives still
 * read past one (transient_recv_error) where the request is refused. */
static void ignore_icmp_errors(native_socket fd)
{
    BOOL report = FALSE;
    DWORD bytes = 0;
    WSAIoctl(fd, SIO_UDP_CONNRESET, &report, sizeof report, NULL, 0, &bytes, NULL, NULL);
    WSAIoctl(fd, SIO_UDP_NETRESET, &report, sizeof report, NULL, 0, &bytes, NULL, NULL);
}
#endif

static int open_socket(rp_sock *s, uint8_t family, bool dual_stack)
{
    intptr_t fd = (intptr_t)socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0) /* Winsock's INVALID_SOCKET too */
        return bind_error();
#ifdef _WIN32
    ignore_icmp_errors(NATIVE(fd));
#endif
    /* Set both ways: Windows makes an IPv6 socket IPv6-only by default,
     * Linux does not (unless the system says otherwise). */
    if (family == 6) {
        int v6only = dual_stack ? 0 : 1;
        setsockopt(NATIVE(fd), IPPROTO_IPV6, IPV6_V6ONLY, (const char *)&v6only, sizeof v6only);
    }
    s->fd = fd;
    s->family = family;
    s->dual_stack = dual_stack;
    s->gso_limit = RP_GSO_MAX;
    return RUPHIN_OK;
}

#if RP_LINUX_EXTRAS && defined(SO_ATTACH_REUSEPORT_CBPF)
static int join_group(intptr_t fd)
{
    int one = 1;
    return setsockopt(NATIVE(fd), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0
               ? RUPHIN_OK : RUPHIN_ERR_SOCKET;
}

/* Attached once, through any member: it decides for the whole group. */
static int steer_group(intptr_t fd, unsigned members)
{
    struct sock_filter insns[RP_STEER_MAX_INSNS];
    struct sock_fprog prog;
    prog.len = (unsigned short)rp_steer_program(insns, members);
    prog.filter = insns;
    return setsockopt(NATIVE(fd), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0
               ? RUPHIN_OK : RUPHIN_ERR_SOCKET;
}
#else
static int join_group(intptr_t fd)
{
    (void)fd;
    return RUPHIN_ERR_NOT_SUPPORTED;
}

static int steer_group(intptr_t fd, unsigned members)
{
    (void)fd;
    (void)members;
    return RUPHIN_ERR_NOT_SUPPORTED;
}
#endif

int rp_sock_open(rp_sock *s, const ruphin_addr *addr, int64_t buffer_size, unsigned members,
                 unsigned member)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    int rc;

    s->fd = -1;
    if ((rc = startup()) != RUPHIN_OK)
        return rc;
    if (addr->family != 4 && addr->family != 6)
        return RUPHIN_ERR_ADDRESS_FAMILY;
    rc = open_socket(s, addr->family, addr->family == 6 && rp_addr_is_any(addr));
    if (rc != RUPHIN_OK)
        return rc;
    if (set_nonblocking(s->fd) != 0) {
        rp_sock_close(s);
        return RUPHIN_ERR_SOCKET;
    }
    if (buffer_size > 0)
        set_buffers(s->fd, buffer_size);
    rc = members > 1 ? join_group(s->fd) : RUPHIN_OK;
    sslen = to_sockaddr(addr, s->family, &ss);
    if (rc == RUPHIN_OK && bind(NATIVE(s->fd), (struct sockaddr *)&ss, sslen) != 0)
        rc = bind_error();
    if (rc == RUPHIN_OK && members > 1 && member == 0)
        rc = steer_group(s->fd, members);
    if (rc != RUPHIN_OK) {
        rp_sock_close(s);
        return rc;
    }
    sslen = sizeof ss;
    getsockname(NATIVE(s->fd), (struct sockaddr *)&ss, &sslen);
    from_sockaddr(&ss, &s->local);
    if (s->family == 6 && s->local.family == 4) /* bound to a mapped address */
        s->local.family = 6;
    return RUPHIN_OK;
}

void rp_sock_close(rp_sock *s)
{
    if (s->fd >= 0)
        CLOSE_SOCKET(NATIVE(s->fd));
    s->fd = -1;
}

/* The sockaddr to send to `to` from s; 0 when s cannot reach that family. */
static socklen_t destination(const rp_sock *s, const ruphin_addr *to, struct sockaddr_storage *ss)
{
    if (to->family == 4 && s->family == 6 && !s->dual_stack)
        return 0;
    return to_sockaddr(to, s->family, ss);
}

static int send_error(int err)
{
    if (err == ERR_WOULD_BLOCK)
        return RUPHIN_ERR_WOULD_BLOCK;
    if (err == ERR_MSG_SIZE)
        return RUPHIN_ERR_TOO_LARGE;
    return RUPHIN_ERR_IO;
}

int rp_sock_send(const rp_sock *s, const ruphin_addr *to, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = destination(s, to, &ss);
    if (sslen == 0)
        return RUPHIN_ERR_ADDRESS_FAMILY;
    if (sendto(NATIVE(s->fd), (const char *)buf, (int)len, DONT_WAIT, (struct sockaddr *)&ss,
               sslen) >= 0)
        return RUPHIN_OK;
    return send_error(LAST_ERROR);
}

/* The TTL of IPv4 packets (also those a dual-stack socket sends to mapped
 * addresses, on Linux) or the hop limit of IPv6 ones; for the hop limit, -1
 * means the system's default. */
static int set_ttl(const rp_sock *s, bool v4, int ttl)
{
    if (v4)
        return setsockopt(NATIVE(s->fd), IPPROTO_IP, IP_TTL, (const char *)&ttl, sizeof ttl);
    return setsockopt(NATIVE(s->fd), IPPROTO_IPV6, IPV6_UNICAST_HOPS, (const char *)&ttl,
                      sizeof ttl);
}

int rp_sock_send_ttl(const rp_sock *s, const ruphin_addr *to, const uint8_t *buf, size_t len,
                     int ttl)
{
    int old = -1, rc;
    socklen_t old_len = sizeof old;
    bool v4 = to->family == 4;
    /* IPv4 has no "default" value to go back to: remember the current one. */
    if (v4 && getsockopt(NATIVE(s->fd), IPPROTO_IP, IP_TTL, (char *)&old, &old_len) != 0)
        return rp_sock_send(s, to, buf, len);
    if (set_ttl(s, v4, ttl) != 0)
        return rp_sock_send(s, to, buf, len);
    rc = rp_sock_send(s, to, buf, len);
    set_ttl(s, v4, old);
    return rc;
}

#if RP_LINUX_EXTRAS
/* recvmmsg's headers for a batch: pointing at its slots once and for all,
 * so that a receive call only resets what the last one wrote. */
typedef struct rx_headers {
    struct mmsghdr msgs[RP_RX_BATCH_MAX];
    struct iovec iovs[RP_RX_BATCH_MAX];
    struct sockaddr_storage addrs[RP_RX_BATCH_MAX];
} rx_headers;

static int rx_headers_init(rp_rx_batch *b)
{
    rx_headers *h = calloc(1, sizeof *h);
    unsigned i;
    if (h == NULL)
        return RUPHIN_ERR_NOMEM;
    for (i = 0; i < b->capacity; i++) {
        h->iovs[i].iov_base = b->slots + i * b->slot_size;
        h->iovs[i].iov_len = b->slot_size;
        h->msgs[i].msg_hdr.msg_iov = &h->iovs[i];
        h->msgs[i].msg_hdr.msg_iovlen = 1;
        h->msgs[i].msg_hdr.msg_name = &h->addrs[i];
        h->msgs[i].msg_hdr.msg_namelen = sizeof h->addrs[i];
    }
    b->msgs = h;
    return RUPHIN_OK;
}
#else
static int rx_headers_init(rp_rx_batch *b)
{
    (void)b;
    return RUPHIN_OK;
}
#endif

int rp_rx_batch_init(rp_rx_batch *b, unsigned capacity, size_t slot_size)
{
    memset(b, 0, sizeof *b);
    if (capacity > RP_RX_BATCH_MAX)
        capacity = RP_RX_BATCH_MAX;
    b->slots = malloc((size_t)capacity * slot_size);
    if (b->slots == NULL)
        return RUPHIN_ERR_NOMEM;
    b->capacity = capacity;
    b->slot_size = slot_size;
    return rx_headers_init(b);
}

void rp_rx_batch_free(rp_rx_batch *b)
{
    free(b->slots);
    free(b->msgs);
    memset(b, 0, sizeof *b);
}

/* An error that concerns an earlier send (an ICMP report, which Windows
 * delivers on the next receive) or an interrupted call: read on. */
static bool transient_recv_error(int err)
{
    return err == ERR_CONN_RESET || err == ERR_CONN_REFUSED || err == ERR_NET_RESET ||
           err == ERR_INTR;
}

#if RP_LINUX_EXTRAS
/* Empties the batch for a receive: resets what the last one wrote back. */
static void rx_reset(rp_rx_batch *b)
{
    rx_headers *h = b->msgs;
    unsigned i;
    for (i = 0; i < b->count; i++)
        h->msgs[i].msg_hdr.msg_namelen = sizeof h->addrs[i];
    b->count = b->next = 0;
}

/* The batch after a receive of n datagrams; returns n. */
static int rx_done(rp_rx_batch *b, int n)
{
    rx_headers *h = b->msgs;
    unsigned i;
    for (i = 0; i < (unsigned)n; i++) {
        b->lens[i] = h->msgs[i].msg_len;
        b->truncated[i] = (h->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        from_sockaddr(&h->addrs[i], &b->from[i]);
    }
    b->count = (unsigned)n;
    return n;
}

int rp_sock_recv_batch(const rp_sock *s, rp_rx_batch *b)
{
    int n;
    rx_reset(b);
    do {
        n = recvmmsg(s->fd, ((rx_headers *)b->msgs)->msgs, b->capacity, MSG_DONTWAIT, NULL);
    } while (n < 0 && transient_recv_error(errno));
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : RUPHIN_ERR_IO;
    return rx_done(b, n);
}

/* The receive timeout: a power of two no longer than timeout_ms (-1: 65 s),
 * so that it rarely changes (a system call) while waits of about the same
 * length follow one another; a wait cut short this way is simply made
 * again. Never 0, which would mean no timeout, and a blocking receive then
 * restarts after a signal instead of returning. */
static int set_recv_timeout(rp_sock *s, int timeout_ms)
{
    int t = 1;
    struct timeval tv;
    while (t <= (timeout_ms < 0 ? 65536 : timeout_ms) / 2 && t < 65536)
        t *= 2;
    if (t == s->recv_timeout)
        return 0;
    tv.tv_sec = t / 1000;
    tv.tv_usec = (t % 1000) * 1000;
    if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return -1;
    s->recv_timeout = t;
    return t;
}

/* A blocking receive that says "nothing" well before its timeout: someone
 * made the descriptor nonblocking (an event loop may, for ruphin_fd). */
static bool made_nonblocking(int64_t start, int timeout)
{
    return rp_clock_ms() - start < timeout / 2;
}

int rp_sock_recv_wait(rp_sock *s, rp_rx_batch *b, int timeout_ms)
{
    int64_t start = rp_clock_ms();
    int n;
    if (timeout_ms == 0)
        return rp_sock_recv_batch(s, b);
    if (s->recv_timeout < 0 || set_recv_timeout(s, timeout_ms) < 0) /* poll, then read */
        return rp_sock_wait(s, timeout_ms) > 0 ? rp_sock_recv_batch(s, b) : 0;
    rx_reset(b);
    do {
        n = recvmmsg(s->fd, ((rx_headers *)b->msgs)->msgs, b->capacity, MSG_WAITFORONE, NULL);
    } while (n < 0 && errno != EINTR && transient_recv_error(errno));
    if (n >= 0)
        return rx_done(b, n);
    if (errno != EAGAIN && errno != EWOULDBLOCK)
        return errno == EINTR ? 0 : RUPHIN_ERR_IO;
    if (made_nonblocking(start, s->recv_timeout))
        s->recv_timeout = -1; /* poll from now on */
    return 0;
}
#else
/* One datagram into buf: its length, cut to cap when *truncated, or -1 with
 * *err set. Winsock reports a cut datagram as the error WSAEMSGSIZE; POSIX
 * flags it in the message header only (recvfrom would hide it, and the
 * first cap bytes would pass for a whole datagram). */
static long recv_one(const rp_sock *s, uint8_t *buf, size_t cap, struct sockaddr_storage *ss,
                     bool *truncated, int *err)
{
    long n;
#ifdef _WIN32
    socklen_t sslen = sizeof *ss;
    n = (long)recvfrom(NATIVE(s->fd), (char *)buf, (int)cap, 0, (struct sockaddr *)ss, &sslen);
    *err = n < 0 ? LAST_ERROR : 0;
    *truncated = n < 0 && *err == ERR_MSG_SIZE;
    return *truncated ? (long)cap : n;
#else
    struct iovec iov;
    struct msghdr h;
    iov.iov_base = buf;
    iov.iov_len = cap;
    memset(&h, 0, sizeof h);
    h.msg_name = ss;
    h.msg_namelen = sizeof *ss;
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    n = (long)recvmsg(NATIVE(s->fd), &h, 0);
    *err = n < 0 ? errno : 0;
    *truncated = n >= 0 && (h.msg_flags & MSG_TRUNC) != 0;
    return n;
#endif
}

int rp_sock_recv_batch(const rp_sock *s, rp_rx_batch *b)
{
    b->count = b->next = 0;
    while (b->count < b->capacity) {
        struct sockaddr_storage ss;
        unsigned i = b->count;
        bool cut;
        int err;
        long n = recv_one(s, b->slots + i * b->slot_size, b->slot_size, &ss, &cut, &err);
        if (n < 0 && err == ERR_WOULD_BLOCK)
            break;
        if (n < 0 && transient_recv_error(err))
            continue;
        if (n < 0)
            return b->count > 0 ? (int)b->count : RUPHIN_ERR_IO;
        b->lens[i] = (size_t)n;
        b->truncated[i] = cut;
        from_sockaddr(&ss, &b->from[i]);
        b->count++;
    }
    return (int)b->count;
}

int rp_sock_recv_wait(rp_sock *s, rp_rx_batch *b, int timeout_ms)
{
    return rp_sock_wait(s, timeout_ms) > 0 ? rp_sock_recv_batch(s, b) : 0;
}
#endif

#if RP_LINUX_EXTRAS
/* Segmentation offload (UDP GSO): datagrams of one length to one address
 * leave in one message that the kernel (or the NIC) cuts into datagrams,
 * one pass through the stack for up to GSO_MAX_SEGMENTS of them. The
 * receiver sees ordinary datagrams. */
enum { GSO_MAX_SEGMENTS = 64, GSO_MAX_BYTES = 65000 };

static bool same_addr(const ruphin_addr *a, const ruphin_addr *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

/* How many datagrams from the first on one message carries: with GSO, the
 * next ones to the same address and of the same length (the last of them
 * may be shorter); else one. */
static unsigned gso_run(size_t gso_limit, const ruphin_addr *to, const size_t *lens,
                        unsigned count)
{
    size_t seg = lens[0], total = lens[0];
    unsigned n = 1;
    if (seg == 0 || seg > gso_limit)
        return 1;
    while (n < count && n < GSO_MAX_SEGMENTS && lens[n] <= seg &&
           total + lens[n] <= GSO_MAX_BYTES && same_addr(&to[n], &to[0])) {
        total += lens[n++];
        if (lens[n - 1] < seg)
            break;
    }
    return n;
}

/* The messages that send datagrams bufs[0..count) with one sendmmsg. */
typedef struct send_plan {
    struct mmsghdr msgs[RP_TX_BATCH_MAX];
    struct iovec iovs[RP_TX_BATCH_MAX];
    struct sockaddr_storage addrs[RP_TX_BATCH_MAX];
    union {
        char buf[CMSG_SPACE(sizeof(uint16_t))];
        struct cmsghdr align;
    } ctl[RP_TX_BATCH_MAX];
    unsigned runs[RP_TX_BATCH_MAX]; /* datagrams in each message */
    unsigned messages;
} send_plan;

static void set_segment_size(struct msghdr *h, void *ctl, size_t ctl_len, size_t seg)
{
    struct cmsghdr *c;
    uint16_t size = (uint16_t)seg;
    h->msg_control = ctl;
    h->msg_controllen = ctl_len;
    c = CMSG_FIRSTHDR(h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof size);
    memcpy(CMSG_DATA(c), &size, sizeof size);
}

/* Plans messages for the datagrams, up to the first whose family the
 * socket cannot reach. A message to the address of the one before shares
 * its sockaddr (converting one costs more than comparing). */
static void plan_messages(const rp_sock *s, size_t gso_limit, const ruphin_addr *to,
                          const uint8_t *const *bufs, const size_t *lens, unsigned count,
                          send_plan *p)
{
    unsigned i = 0, m = 0, k;
    memset(p->msgs, 0, count * sizeof p->msgs[0]);
    for (; i < count; m++) {
        struct msghdr *h = &p->msgs[m].msg_hdr;
        unsigned run = gso_run(gso_limit, to + i, lens + i, count - i);
        if (m > 0 && same_addr(&to[i], &to[i - 1])) {
            h->msg_name = p->msgs[m - 1].msg_hdr.msg_name;
            h->msg_namelen = p->msgs[m - 1].msg_hdr.msg_namelen;
        } else {
            h->msg_name = &p->addrs[m];
            h->msg_namelen = destination(s, &to[i], &p->addrs[m]);
            if (h->msg_namelen == 0)
                break;
        }
        for (k = 0; k < run; k++) {
            p->iovs[i + k].iov_base = (void *)bufs[i + k];
            p->iovs[i + k].iov_len = lens[i + k];
        }
        h->msg_iov = &p->iovs[i];
        h->msg_iovlen = run;
        if (run > 1)
            set_segment_size(h, p->ctl[m].buf, sizeof p->ctl[m].buf, lens[i]);
        p->runs[m] = run;
        i += run;
    }
    p->messages = m;
}

/* A segmented message failed: errors that say the path or the system
 * cannot segment turn GSO down (too large for the path's MTU: for this
 * segment size and larger; else for good) and the datagrams go again
 * without it. Returns whether they should. */
static bool gso_refused(rp_sock *s, int err, size_t seg)
{
    if (err == EMSGSIZE)
        s->gso_limit = seg - 1;
    else if (err == EIO || err == EINVAL || err == ENOPROTOOPT || err == EOPNOTSUPP)
        s->gso_limit = 0;
    else
        return false;
    return true;
}

unsigned rp_sock_send_many(rp_sock *s, const ruphin_addr *to, const uint8_t *const *bufs,
                           const size_t *lens, unsigned count, bool offload, int *error)
{
    send_plan p;
    unsigned sent = 0;

    *error = RUPHIN_OK;
    if (count > RP_TX_BATCH_MAX)
        count = RP_TX_BATCH_MAX;
    /* sendmmsg reports an error only when the first message fails: a short
     * count means "plan again from there" to learn it. */
    while (sent < count) {
        int n, err;
        plan_messages(s, offload ? s->gso_limit : 0, to + sent, bufs + sent, lens + sent,
                      count - sent, &p);
        if (p.messages == 0) {
            *error = RUPHIN_ERR_ADDRESS_FAMILY;
            break;
        }
        n = sendmmsg(s->fd, p.msgs, p.messages, MSG_DONTWAIT);
        err = n < 0 ? errno : EIO;
        if (n > 0) {
            while (n > 0)
                sent += p.runs[--n];
        } else if (err != EINTR && !(p.runs[0] > 1 && gso_refused(s, err, lens[sent]))) {
            *error = send_error(err);
            break;
        }
    }
    return sent;
}
#else
unsigned rp_sock_send_many(rp_sock *s, const ruphin_addr *to, const uint8_t *const *bufs,
                           const size_t *lens, unsigned count, bool offload, int *error)
{
    unsigned sent = 0;
    (void)offload;
    *error = RUPHIN_OK;
    while (sent < count && (*error = rp_sock_send(s, &to[sent], bufs[sent], lens[sent])) == 0)
        sent++;
    return sent;
}
#endif

unsigned rp_sock_send_batch(rp_sock *s, rp_tx_batch *b)
{
    const uint8_t *bufs[RP_TX_BATCH_MAX];
    unsigned i, done = 0, failed = 0;
    int error;
    for (i = 0; i < b->count; i++)
        bufs[i] = b->slots[i];
    /* Each call stops at a datagram that fails: skip it, go on. Answers
     * to many requesters rarely make runs for GSO: none is looked for. */
    while (done < b->count) {
        done += rp_sock_send_many(s, b->to + done, bufs + done, b->lens + done, b->count - done,
                                  false, &error);
        if (done < b->count) {
            failed++;
            done++;
        }
    }
    b->count = 0;
    return failed;
}

int rp_sock_wait(const rp_sock *s, int timeout_ms)
{
    struct pollfd pfd;
    int n;
    memset(&pfd, 0, sizeof pfd);
    pfd.fd = NATIVE(s->fd);
    pfd.events = POLLIN;
    n = poll(&pfd, 1, timeout_ms);
    if (n > 0)
        return 1;
    if (n == 0 || LAST_ERROR == ERR_INTR)
        return 0; /* the caller re-checks its clock */
    return RUPHIN_ERR_IO;
}

int rp_sock_send_once(const ruphin_addr *to, const uint8_t *buf, size_t len)
{
    rp_sock tmp;
    int rc = startup();
    if (rc != RUPHIN_OK)
        return rc;
    rc = open_socket(&tmp, to->family, false);
    if (rc != RUPHIN_OK)
        return rc;
    rc = rp_sock_send(&tmp, to, buf, len);
    rp_sock_close(&tmp);
    return rc;
}

int rp_sock_resolve(const char *text, uint16_t default_port, bool port_required, int family,
                    ruphin_addr *out)
{
    char host[256];
    uint16_t port = 0;
    struct addrinfo hints, *res = NULL, *ai;
    int rc;

    if (text == NULL || out == NULL)
        return RUPHIN_ERR_INVALID;
    if (rp_addr_parse(text, default_port, port_required, out) == RUPHIN_OK)
        return (family == 0 || out->family == family) ? RUPHIN_OK : RUPHIN_ERR_ADDRESS_FAMILY;
    rc = rp_addr_split(text, default_port, port_required, host, sizeof host, &port);
    if (rc != RUPHIN_OK)
        return rc;
    if ((rc = startup()) != RUPHIN_OK)
        return rc;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family == 4 ? AF_INET : family == 6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
        return RUPHIN_ERR_ADDRESS;
    rc = RUPHIN_ERR_ADDRESS;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct sockaddr_storage ss;
        if (ai->ai_addrlen > sizeof ss)
            continue;
        memset(&ss, 0, sizeof ss);
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        from_sockaddr(&ss, out);
        if (out->family == 4 || out->family == 6) {
            out->port = port;
            rc = RUPHIN_OK;
            break;
        }
    }
    freeaddrinfo(res);
    return rc;
}

int32_t ruphin_addr_resolve(const char *text, uint16_t default_port, ruphin_addr *out)
{
    return rp_sock_resolve(text, default_port, default_port == 0, 0, out);
}

static bool link_local(const ruphin_addr *a)
{
    if (a->family == 4)
        return a->ip[0] == 169 && a->ip[1] == 254;
    return a->ip[0] == 0xfe && (a->ip[1] & 0xc0) == 0x80;
}

/* Adds an interface's address to out when a LAN peer could reach s there:
 * the socket's family, not loopback, not link-local; with s's port. */
static void add_lan_address(const rp_sock *s, const struct sockaddr *sa, ruphin_addr *out,
                            size_t *n, size_t max)
{
    struct sockaddr_storage ss;
    ruphin_addr a;
    if (sa == NULL || *n >= max || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
        return;
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa,
           sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
    from_sockaddr(&ss, &a);
    if (a.family != s->local.family || rp_addr_is_loopback(&a) || link_local(&a))
        return;
    a.port = s->local.port;
    out[(*n)++] = a;
}

#ifdef _WIN32
/* The addresses of the adapters that are up, from the IP helper. */
static size_t interface_addresses(const rp_sock *s, ruphin_addr *out, size_t max)
{
    ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER;
    ULONG size = 16384;
    IP_ADAPTER_ADDRESSES *list = NULL, *ad;
    IP_ADAPTER_UNICAST_ADDRESS *u;
    ULONG rc = ERROR_BUFFER_OVERFLOW;
    size_t n = 0;
    int tries;
    /* The list can grow between the call that sizes it and the next. */
    for (tries = 0; tries < 3 && rc == ERROR_BUFFER_OVERFLOW; tries++) {
        free(list);
        if ((list = malloc(size)) == NULL)
            return 0;
        rc = GetAdaptersAddresses(AF_UNSPEC, flags, NULL, list, &size);
    }
    for (ad = rc == NO_ERROR ? list : NULL; ad != NULL; ad = ad->Next)
        if (ad->OperStatus == IfOperStatusUp)
            for (u = ad->FirstUnicastAddress; u != NULL; u = u->Next)
                add_lan_address(s, u->Address.lpSockaddr, out, &n, max);
    free(list);
    return n;
}
#else
static size_t interface_addresses(const rp_sock *s, ruphin_addr *out, size_t max)
{
    struct ifaddrs *list, *ifa;
    size_t n = 0;
    if (getifaddrs(&list) != 0)
        return 0;
    for (ifa = list; ifa != NULL; ifa = ifa->ifa_next)
        add_lan_address(s, ifa->ifa_addr, out, &n, max);
    freeifaddrs(list);
    return n;
}
#endif

size_t rp_sock_local_addresses(const rp_sock *s, ruphin_addr *out, size_t max)
{
    if (!rp_addr_is_any(&s->local)) {
        if (max > 0 && !rp_addr_is_loopback(&s->local)) {
            out[0] = s->local;
            return 1;
        }
        return 0;
    }
    return interface_addresses(s, out, max);
}

uint64_t rp_os_random64(void)
{
    uint64_t v = 0;
#if defined(_WIN32)
    unsigned int a = 0, b = 0;
    rand_s(&a);
    rand_s(&b);
    v = ((uint64_t)a << 32) | b;
#elif RP_LINUX_EXTRAS
    while (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        ;
#else
    arc4random_buf(&v, sizeof v);
#endif
    return v;
}
