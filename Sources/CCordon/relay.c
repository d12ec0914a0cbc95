#define _GNU_SOURCE
#include "ccordon.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int ccordon_relay_pipe(int fds[2], int size, int *capacity) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -errno;
    if (size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size);
    int got = fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity) *capacity = got > 0 ? got : 65536;
    return 0;
}

ssize_t ccordon_relay_splice(int in, int out, size_t length) {
    ssize_t n = splice(in, NULL, out, NULL, length, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    return n < 0 ? -errno : n;
}

uint64_t ccordon_socket_cookie(int fd) {
    uint64_t cookie = 0;
    socklen_t length = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0 || length != sizeof cookie) return 0;
    return cookie;
}

int ccordon_socket_cookie_option(void) { return SO_COOKIE; }

int ccordon_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ccordon_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int ccordon_epoll_add(int epoll, int fd, uint64_t token, int edge) {
    struct epoll_event event = {
        .events = edge ? (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) : EPOLLIN,
        .data.u64 = token,
    };
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) == 0 ? 0 : -errno;
}

int ccordon_epoll_remove(int epoll, int fd) {
    return epoll_ctl(epoll, EPOLL_CTL_DEL, fd, NULL) == 0 ? 0 : -errno;
}

int ccordon_epoll_wait(int epoll, uint64_t *tokens, int max, int timeout) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epoll, events, max, timeout);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) tokens[i] = events[i].data.u64;
    return n;
}
