#include "ccordon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
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

int ccordon_start_program(const char *path, char *const argv[], const void *input, size_t input_len, pid_t *pid, int *output_fd) {
    *pid = -1;
    *output_fd = -1;
    int in = memfd_create("cordon-in", MFD_CLOEXEC);
    int out = memfd_create("cordon-out", MFD_CLOEXEC);
    if (in < 0 || out < 0) {
        int e = errno;
        if (in >= 0) close(in);
        if (out >= 0) close(out);
        return -e;
    }
    int rc = 0;
    if (input_len > 0 && write(in, input, input_len) != (ssize_t)input_len) rc = -errno;
    if (rc == 0 && lseek(in, 0, SEEK_SET) < 0) rc = -errno;
    if (rc == 0) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in, 0);
        posix_spawn_file_actions_adddup2(&actions, out, 1);
        posix_spawn_file_actions_adddup2(&actions, out, 2);
        char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};
        int e = posix_spawn(pid, path, &actions, NULL, argv, envp);
        posix_spawn_file_actions_destroy(&actions);
        if (e != 0) rc = -e;
    }
    close(in);
    if (rc != 0) {
        close(out);
        return rc;
    }
    *output_fd = out;
    return 0;
}

int ccordon_wait_program(pid_t pid, int output_fd, char *output, size_t capacity) {
    if (capacity > 0) output[0] = 0;
    int rc = 0;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) { rc = -errno; break; }
    }
    if (rc == 0) rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
    if (rc >= 0 && capacity > 1) {
        ssize_t n = pread(output_fd, output, capacity - 1, 0);
        output[n > 0 ? n : 0] = 0;
    }
    close(output_fd);
    return rc;
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
