/* What the C tests that use sockets, threads, sleeps and CPU time directly
 * need, for BSD sockets and for Winsock: the tests run on Linux and, built
 * with MinGW-w64, under Wine (tests/windows). Threads are the core's own
 * (thread.h), so that the Windows build runs its Win32 threads. */
#ifndef RUPHIN_TEST_NET_H
#define RUPHIN_TEST_NET_H

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
typedef SOCKET test_socket;
#define test_close_socket closesocket
#else
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
typedef int test_socket;
#define test_close_socket close
#endif

#include "thread.h"

/* A UDP socket of family AF_INET or AF_INET6 (Winsock started first). */
static inline test_socket test_udp_socket(int family)
{
#ifdef _WIN32
    static int started;
    WSADATA data;
    if (!started)
        started = WSAStartup(MAKEWORD(2, 2), &data) == 0;
#endif
    return socket(family, SOCK_DGRAM, 0);
}

static inline void test_sleep_ms(long ms)
{
#ifdef _WIN32
    Sleep((DWORD)ms);
#else
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
#endif
}

static inline int test_set_recv_timeout(test_socket s, int ms)
{
#ifdef _WIN32
    DWORD t = (DWORD)ms; /* Winsock takes milliseconds */
#else
    struct timeval t = {ms / 1000, (ms % 1000) * 1000};
#endif
    return setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, (const char *)&t, sizeof t);
}

static inline int test_set_nonblocking(test_socket s)
{
#ifdef _WIN32
    u_long on = 1;
    return ioctlsocket(s, FIONBIO, &on);
#else
    return fcntl(s, F_SETFL, fcntl(s, F_GETFL, 0) | O_NONBLOCK);
#endif
}

/* CPU time this process used so far, in seconds. */
static inline double test_cpu_seconds(void)
{
#ifdef _WIN32
    FILETIME created, exited, kernel, user;
    ULARGE_INTEGER k, u;
    GetProcessTimes(GetCurrentProcess(), &created, &exited, &kernel, &user);
    k.LowPart = kernel.dwLowDateTime;
    k.HighPart = kernel.dwHighDateTime;
    u.LowPart = user.dwLowDateTime;
    u.HighPart = user.dwHighDateTime;
    return (double)(k.QuadPart + u.QuadPart) / 1e7; /* 100 ns units */
#else
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
#endif
}

#endif
