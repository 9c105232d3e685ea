/* A minimal thread, mutex and condition variable wrapper: POSIX threads, or
 * the Win32 equivalents. Only what the runner needs. */
#ifndef RUPHIN_THREAD_H
#define RUPHIN_THREAD_H

#include <stdint.h>

#ifdef _WIN32
#include <windows.h>
typedef HANDLE rp_thread;
typedef CRITICAL_SECTION rp_mutex;
typedef CONDITION_VARIABLE rp_cond;
#else
#include <pthread.h>
typedef pthread_t rp_thread;
typedef pthread_mutex_t rp_mutex;
typedef pthread_cond_t rp_cond;
#endif

int rp_thread_start(rp_thread *t, void (*fn)(void *), void *arg);
void rp_thread_join(rp_thread t);
void rp_mutex_init(rp_mutex *m);
void rp_mutex_destroy(rp_mutex *m);
void rp_mutex_lock(rp_mutex *m);
void rp_mutex_unlock(rp_mutex *m);
void rp_cond_init(rp_cond *c);
void rp_cond_destroy(rp_cond *c);
void rp_cond_broadcast(rp_cond *c);
/* Waits until signalled or timeout_ms passed (-1: no limit). */
void rp_cond_wait(rp_cond *c, rp_mutex *m, int32_t timeout_ms);

#endif
