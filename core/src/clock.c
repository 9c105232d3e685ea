/* The monotonic millisecond clock behind every deadline. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "sock.h"

#ifdef _WIN32
#include <windows.h>
#else
#include <time.h>
#endif

int64_t rp_clock_ms(void)
{
#ifdef _WIN32
    return (int64_t)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
#endif
}

int64_t ruphin_now(void)
{
    return rp_clock_ms();
}
