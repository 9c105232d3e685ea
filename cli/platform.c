/* The program's OS glue: signals or console control, waiting on sockets and
 * standard input, reading standard input. POSIX and Windows side by side;
 * the rest of the program uses only what common.h declares. */
#ifdef _WIN32
#include <winsock2.h>
#include <windows.h>
#include <fcntl.h>
#include <io.h>
#include <sys/stat.h>
#else
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#endif
#include "common.h"

#include <string.h>

/* Atomic, not just volatile: the workers of a holepuncher read it on their
 * own threads (a lock-free atomic may also be stored by a signal handler). */
atomic_int cli_stop;

FILE *cli_create_private(const char *path)
{
#ifdef _WIN32
    /* Windows: no group or other bits; the file is the owner's (its ACL). */
    int fd = _open(path, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY, _S_IREAD | _S_IWRITE);
    FILE *f = fd < 0 ? NULL : _fdopen(fd, "wb");
    if (fd >= 0 && f == NULL)
        _close(fd);
#else
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
    if (fd >= 0 && f == NULL)
        close(fd);
#endif
    return f;
}

/* The descriptors one wait watches: the nodes' sockets and standard input. */
enum { WAIT_MAX = 8 };

/* The shortest of max_ms and the nodes' next deadlines. */
static int wait_timeout(ruphin_node *const *nodes, int count, int max_ms)
{
    int i, timeout = max_ms;
    for (i = 0; i < count; i++) {
        int32_t t = ruphin_timeout_ms(nodes[i]);
        if (t >= 0 && (timeout < 0 || t < timeout))
            timeout = t;
    }
    return timeout;
}

#ifdef _WIN32
/* Ctrl-C, Ctrl-Break and closing the console stop the program cleanly: the
 * loops see cli_stop within their bounded wait (a console handler runs on a
 * thread of its own, so it only sets the flag). */
static BOOL WINAPI on_console_event(DWORD type)
{
    if (type == CTRL_C_EVENT || type == CTRL_BREAK_EVENT || type == CTRL_CLOSE_EVENT) {
        cli_stop = 1;
        return TRUE;
    }
    return FALSE;
}

void cli_handle_signals(void)
{
    SetConsoleCtrlHandler(on_console_event, TRUE);
}

bool cli_standard_fds_open(void)
{
    return true; /* a Windows socket is never handed out as a standard handle */
}

/* Standard input cannot be waited on together with sockets (a pipe is no
 * waitable object for WSAPoll), so a thread reads it and hands each chunk
 * over as a datagram on a loopback socket, which can. One chunk at a time:
 * the thread reads the next only after the main loop took the last
 * (stdin_taken), so nothing piles up or is dropped, and input waits in the
 * pipe while the client is not reading, as on POSIX. An empty datagram says
 * end of input. */
enum { STDIN_CHUNK = 4096 };

static SOCKET stdin_socket = INVALID_SOCKET;
static HANDLE stdin_taken;

static DWORD WINAPI stdin_reader(LPVOID to_socket)
{
    SOCKET out = (SOCKET)(uintptr_t)to_socket;
    char buf[STDIN_CHUNK];
    for (;;) {
        DWORD n = 0;
        WaitForSingleObject(stdin_taken, INFINITE);
        if (!ReadFile(GetStdHandle(STD_INPUT_HANDLE), buf, sizeof buf, &n, NULL))
            n = 0; /* a broken pipe is the end of input too */
        send(out, buf, (int)n, 0);
        if (n == 0)
            return 0;
    }
}

/* A loopback socket bound to a free port, connected to peer (when given). */
static SOCKET loopback_socket(const struct sockaddr_in *peer)
{
    struct sockaddr_in a;
    SOCKET s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s == INVALID_SOCKET || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        (peer != NULL && connect(s, (const struct sockaddr *)peer, sizeof *peer) != 0)) {
        if (s != INVALID_SOCKET)
            closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

bool cli_stdin_start(void)
{
    struct sockaddr_in a;
    int len = sizeof a;
    SOCKET out;
    HANDLE thread;
    /* The core's first socket has started Winsock already. */
    stdin_socket = loopback_socket(NULL);
    if (stdin_socket == INVALID_SOCKET ||
        getsockname(stdin_socket, (struct sockaddr *)&a, &len) != 0)
        return false;
    out = loopback_socket(&a);
    stdin_taken = CreateEvent(NULL, FALSE, TRUE, NULL); /* auto-reset, set: read at once */
    if (out == INVALID_SOCKET || stdin_taken == NULL)
        return false;
    thread = CreateThread(NULL, 0, stdin_reader, (LPVOID)(uintptr_t)out, 0, NULL);
    if (thread == NULL)
        return false;
    CloseHandle(thread); /* it ends with the input, or with the process */
    return true;
}

/* The chunk being handed out: a caller may take less than a whole one. */
static char chunk[STDIN_CHUNK];
static size_t chunk_len, chunk_taken;

long cli_stdin_read(char *buf, size_t len)
{
    size_t n;
    if (chunk_taken == chunk_len) {
        int got = recv(stdin_socket, chunk, sizeof chunk, 0);
        if (got <= 0)
            return got < 0 ? -1 : 0;
        chunk_len = (size_t)got;
        chunk_taken = 0;
    }
    n = chunk_len - chunk_taken < len ? chunk_len - chunk_taken : len;
    memcpy(buf, chunk + chunk_taken, n);
    chunk_taken += n;
    if (chunk_taken == chunk_len)
        SetEvent(stdin_taken); /* the reader may go on */
    return (long)n;
}

bool cli_wait(ruphin_node *const *nodes, int count, bool watch_stdin, int max_ms)
{
    WSAPOLLFD fds[WAIT_MAX];
    int i, n = 0, timeout = wait_timeout(nodes, count, max_ms);
    if (watch_stdin && chunk_taken < chunk_len)
        return true; /* the rest of a chunk is waiting */
    for (i = 0; i < count && n < WAIT_MAX - 1; i++, n++) {
        fds[n].fd = (SOCKET)ruphin_fd(nodes[i]);
        fds[n].events = POLLRDNORM;
        fds[n].revents = 0;
    }
    if (watch_stdin && stdin_socket != INVALID_SOCKET) {
        fds[n].fd = stdin_socket;
        fds[n].events = POLLRDNORM;
        fds[n].revents = 0;
        n++;
    }
    if (n == 0) { /* WSAPoll refuses an empty set: just sleep */
        Sleep(timeout < 0 ? INFINITE : (DWORD)timeout);
        return false;
    }
    if (WSAPoll(fds, (ULONG)n, timeout) <= 0)
        return false;
    return watch_stdin && fds[n - 1].fd == stdin_socket && fds[n - 1].revents != 0;
}
#else
static void on_signal(int sig)
{
    (void)sig;
    cli_stop = 1;
}

void cli_handle_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* A closed standard descriptor would be handed to the next socket, which
 * would then be read as input or written to as output: fill it with
 * /dev/null. open() takes the lowest free descriptor, the one closed. */
bool cli_standard_fds_open(void)
{
    int fd;
    for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
            open("/dev/null", fd == STDIN_FILENO ? O_RDONLY : O_WRONLY) != fd)
            return false;
    return true;
}

bool cli_stdin_start(void)
{
    return true; /* standard input is waited on as it is */
}

long cli_stdin_read(char *buf, size_t len)
{
    return (long)read(STDIN_FILENO, buf, len);
}

bool cli_wait(ruphin_node *const *nodes, int count, bool watch_stdin, int max_ms)
{
    struct pollfd fds[WAIT_MAX];
    int i, n = 0, timeout = wait_timeout(nodes, count, max_ms);
    for (i = 0; i < count && n < WAIT_MAX - 1; i++, n++) {
        fds[n].fd = (int)ruphin_fd(nodes[i]);
        fds[n].events = POLLIN;
        fds[n].revents = 0;
    }
    if (watch_stdin) {
        fds[n].fd = STDIN_FILENO;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
    }
    if (poll(fds, (nfds_t)n, timeout) <= 0)
        return false;
    /* Errors count as readable: read() then reports them (and stops reading). */
    return watch_stdin && (fds[n - 1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) != 0;
}
#endif
