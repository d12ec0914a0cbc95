#define _GNU_SOURCE
#include "ccordon.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

int ccordon_relay_pipe(int fds[2], int size, int *capacity) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
    if (size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size);
    int got = fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity) *capacity = got > 0 ? got : 65536;
    return 0;
}

ssize_t ccordon_relay_splice_blocking(int in, int out, size_t length) {
    ssize_t n = splice(in, NULL, out, NULL, length, SPLICE_F_MOVE);
    return n < 0 ? -errno : n;
}

uint64_t ccordon_socket_cookie(int fd) {
    uint64_t cookie = 0;
    socklen_t length = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0 || length != sizeof cookie) return 0;
    return cookie;
}

int ccordon_socket_cookie_option(void) { return SO_COOKIE; }
