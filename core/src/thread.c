/* See thread.h. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include "thread.h"

#include <stdlib.h>

#ifndef _WIN32
#include <errno.h>
#include <time.h>
#endif

typedef struct start_args {
    void (*fn)(void *);
    void *arg;
} start_args;

#ifdef _WIN32
static DWORD WINAPI trampoline(LPVOID p)
#else
static void *trampoline(void *p)
#endif
{
    start_args a = *(start_args *)p;
    free(p);
    a.fn(a.arg);
#ifdef _WIN32
    return 0;
#else
    return NULL;
#endif
}

int rp_thread_start(rp_thread *t, void (*fn)(void *), void *arg)
{
    start_args *a = malloc(sizeof *a);
    if (a == NULL)
        return -1;
    a->fn = fn;
    a->arg = arg;
#ifdef _WIN32
    *t = CreateThread(NULL, 0, trampoline, a, 0, NULL);
    if (*t != NULL)
        return 0;
#else
    if (pthread_create(t, NULL, trampoline, a) == 0)
        return 0;
#endif
    free(a);
    return -1;
}

#ifdef _WIN32
void rp_thread_join(rp_thread t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
void rp_mutex_init(rp_mutex *m) { InitializeCriticalSection(m); }
void rp_mutex_destroy(rp_mutex *m) { DeleteCriticalSection(m); }
void rp_mutex_lock(rp_mutex *m) { EnterCriticalSection(m); }
void rp_mutex_unlock(rp_mutex *m) { LeaveCriticalSection(m); }
void rp_cond_init(rp_cond *c) { InitializeConditionVariable(c); }
void rp_cond_destroy(rp_cond *c) { (void)c; }
void rp_cond_broadcast(rp_cond *c) { WakeAllConditionVariable(c); }
void rp_cond_wait(rp_cond *c, rp_mutex *m, int32_t timeout_ms)
{
    SleepConditionVariableCS(c, m, timeout_ms < 0 ? INFINITE : (DWORD)timeout_ms);
}
#else
void rp_thread_join(rp_thread t) { pthread_join(t, NULL); }
void rp_mutex_init(rp_mutex *m) { pthread_mutex_init(m, NULL); }
void rp_mutex_destroy(rp_mutex *m) { pthread_mutex_destroy(m); }
void rp_mutex_lock(rp_mutex *m) { pthread_mutex_lock(m); }
void rp_mutex_unlock(rp_mutex *m) { pthread_mutex_unlock(m); }
void rp_cond_init(rp_cond *c) { pthread_cond_init(c, NULL); }
void rp_cond_destroy(rp_cond *c) { pthread_cond_destroy(c); }
void rp_cond_broadcast(rp_cond *c) { pthread_cond_broadcast(c); }

void rp_cond_wait(rp_cond *c, rp_mutex *m, int32_t timeout_ms)
{
    struct timespec ts;
    if (timeout_ms < 0) {
        pthread_cond_wait(c, m);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(c, m, &ts);
}
#endif
