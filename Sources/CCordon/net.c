#include "ccordon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int ccordon_listen_loopback(int type, uint16_t port, int backlog) {
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || (type == SOCK_STREAM && listen(fd, backlog) != 0)) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int ccordon_send_fds(int sock, const int *fds, int count, const void *message, size_t len) {
    if (count < 0 || count > 16) return -EINVAL;
    char control[CMSG_SPACE(sizeof(int) * 16)];
    memset(control, 0, sizeof control);
    struct iovec iov = {.iov_base = (void *)message, .iov_len = len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (count > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)count);
    }
    ssize_t n;
    do { n = sendmsg(sock, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

ssize_t ccordon_recv_fds(int sock, int *fds, int max, int *count, void *buffer, size_t capacity) {
    char control[CMSG_SPACE(sizeof(int) * 16)];
    struct iovec iov = {.iov_base = buffer, .iov_len = capacity};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    *count = 0;
    ssize_t n;
    do { n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *data = (int *)CMSG_DATA(c);
        for (int i = 0; i < got; i++) {
            if (*count < max) fds[(*count)++] = data[i];
            else close(data[i]);
        }
    }
    return n;
}

int ccordon_unix_accept(int listener, unsigned int *uid) {
    int fd;
    do { fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    if (fd < 0) return -errno;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *uid = (unsigned int)cred.uid;
    return fd;
}

int ccordon_unix_connect(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

int ccordon_unix_listen(const char *path, int backlog) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) return -ENAMETOOLONG;
    strcpy(addr.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) return -EEXIST;
        if (unlink(path) != 0 && errno != ENOENT) return -errno;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    // The socket file is created with the mode the umask leaves; 0600 before anyone can connect.
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || chmod(path, 0600) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        unlink(path);
        return -e;
    }
    return fd;
}

int ccordon_namespace_owner(int ns_fd) {
    int fd = ioctl(ns_fd, NS_GET_USERNS);
    return fd < 0 ? -errno : fd;
}

struct netns_socket_request {
    int netns_fd;
    int userns_fd;
    int result;
};

// The child of ccordon_netns_stream_socket: raw syscalls only (it shares the caller's memory;
// errno lands in the suspended caller's thread-local storage).
static int netns_socket_child(void *argument) {
    struct netns_socket_request *request = argument;
    if (syscall(SYS_setns, request->netns_fd, CLONE_NEWNET) != 0) {
        if (errno != EPERM || request->userns_fd < 0) {
            request->result = -errno;
            return 0;
        }
        // Not privileged over the namespace here: its owning user namespace first (a rootless
        // supervisor owns the sandbox's, so it has every capability there).
        if (syscall(SYS_setns, request->userns_fd, CLONE_NEWUSER) != 0 || syscall(SYS_setns, request->netns_fd, CLONE_NEWNET) != 0) {
            request->result = -errno;
            return 0;
        }
    }
    long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    request->result = fd < 0 ? -errno : (int)fd;
    return 0;
}

int ccordon_netns_stream_socket(int netns_fd, int userns_fd) {
    const size_t stack_size = 64 * 1024;
    void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return -errno;
    struct netns_socket_request request = {.netns_fd = netns_fd, .userns_fd = userns_fd, .result = -EIO};
    // No handler runs in the child (it would run on the caller's memory with the child's stack).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    // CLONE_VFORK: back here once the child has exited. No exit signal: nothing else reaps it.
    int pid = clone(netns_socket_child, (char *)stack + stack_size, CLONE_VM | CLONE_FILES | CLONE_VFORK, &request);
    int error = errno;
    if (pid > 0) {
        while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, stack_size);
    return pid < 0 ? -error : request.result;
}

int ccordon_connect_loopback(int fd, uint16_t port, int timeout_ms) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return -errno;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int n;
        do { n = poll(&p, 1, timeout_ms); } while (n < 0 && errno == EINTR);
        if (n < 0) return -errno;
        if (n == 0) return -ETIMEDOUT;
        int error = 0;
        socklen_t length = sizeof error;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return -errno;
        if (error != 0) return -error;
    } else if (rc != 0) {
        return -errno;
    }
    if (fcntl(fd, F_SETFL, flags) != 0) return -errno;
    return 0;
}

int ccordon_local_port(int fd) {
    struct sockaddr_storage addr;
    socklen_t length = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &length) != 0) return -errno;
    if (addr.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    if (addr.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return -EAFNOSUPPORT;
}

int ccordon_accept(int listener) {
    int fd;
    do { fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC); } while (fd < 0 && errno == EINTR);
    return fd < 0 ? -errno : fd;
}

int ccordon_listen_loopback6(uint16_t port, int backlog) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_port = htons(port);
    addr.sin6_addr = in6addr_loopback;
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}
