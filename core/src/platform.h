/*
 * Which of the OS's extras the core uses. Linux has calls that other
 * systems lack: recvmmsg and sendmmsg, UDP segmentation offload, groups of
 * sockets on one port steered by a BPF program (SO_REUSEPORT), getrandom,
 * mremap. Without them (macOS, the BSDs) the core takes a portable POSIX
 * path: one datagram a call, a nonblocking descriptor, arc4random, realloc.
 * Building with RUPHIN_PORTABLE defined (CMake: -DRUPHIN_PORTABLE=ON) makes
 * a Linux build take that path too, so that the tests run its branches
 * (docs/PLATFORMS.md). Windows has its own branches (_WIN32).
 */
#ifndef RUPHIN_PLATFORM_H
#define RUPHIN_PLATFORM_H

#if defined(__linux__) && !defined(RUPHIN_PORTABLE)
#define RP_LINUX_EXTRAS 1
#else
#define RP_LINUX_EXTRAS 0
#endif

#endif
