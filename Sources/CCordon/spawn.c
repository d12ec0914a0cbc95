#include "ccordon.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sys/prctl.h>
#include <pthread.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

static void child_fail_at(int err_fd, int step, int code) {
    int report[2] = {step, code};
    ssize_t unused = write(err_fd, report, sizeof report);
    (void)unused;
    _exit(127);
}

static void child_fail(int err_fd, int code) { child_fail_at(err_fd, CCORDON_SPAWN_STEP_SETUP, code); }

// Runs between clone3 and execve in a child of a (possibly) multithreaded process:
// only async-signal-safe calls, no allocation.
static void child_main(const struct ccordon_spawn_attrs *a, int go_read, int err_write) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        sigaction(s, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(err_write, errno);
    // A session of its own: the host's controlling terminal is never the sandbox's, whatever
    // descriptors it holds (a pty, when it gets one, is made controlling inside).
    if (setsid() < 0) child_fail(err_write, errno);

    // Wait for the supervisor: maps written. EOF means it died.
    char go = 0;
    ssize_t n;
    do { n = read(go_read, &go, 1); } while (n < 0 && errno == EINTR);
    if (n != 1) _exit(127);

    // Raw system calls: glibc's wrappers would signal the parent's other threads, absent here.
    if (a->become_root) {
        if (syscall(SYS_setgroups, 0, NULL) != 0) child_fail(err_write, errno);
        if (syscall(SYS_setresgid, 0, 0, 0) != 0) child_fail(err_write, errno);
        if (syscall(SYS_setresuid, 0, 0, 0) != 0) child_fail(err_write, errno);
    }

    // Move every descriptor to a slot above the target range first, then into place.
    int high = a->fd_count + 3;
    if (err_write < high) {
        int moved = fcntl(err_write, F_DUPFD_CLOEXEC, high);
        if (moved < 0) child_fail(err_write, errno);
        err_write = moved;
    }
    int tmp[64];
    if (a->fd_count > 64) child_fail(err_write, E2BIG);
    for (int i = 0; i < a->fd_count; i++) {
        tmp[i] = fcntl(a->fds[i], F_DUPFD_CLOEXEC, high);
        if (tmp[i] < 0) child_fail(err_write, errno);
    }
    for (int i = 0; i < a->fd_count; i++) {
        if (dup2(tmp[i], i) < 0) child_fail(err_write, errno);
    }
    if (syscall(SYS_close_range, (unsigned)a->fd_count, ~0U, CLOSE_RANGE_CLOEXEC) != 0) child_fail(err_write, errno);

    if (a->directory != NULL && chdir(a->directory) != 0) child_fail(err_write, errno);
    execve(a->path, a->argv, a->envp);
    child_fail_at(err_write, CCORDON_SPAWN_STEP_EXEC, errno);
}

int ccordon_spawn(const struct ccordon_spawn_attrs *a, struct ccordon_spawn_result *r) {
    int go[2], err[2];
    if (pipe2(go, O_CLOEXEC) != 0) return -errno;
    if (pipe2(err, O_CLOEXEC) != 0) { int e = errno; close(go[0]); close(go[1]); return -e; }

    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    int pidfd = -1;
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = a->clone_flags | CLONE_PIDFD;
    args.pidfd = (uint64_t)(uintptr_t)&pidfd;
    args.exit_signal = SIGCHLD;
    long pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
        close(go[1]);
        close(err[0]);
        child_main(a, go[0], err[1]);
        _exit(127);
    }
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(go[0]);
    close(err[1]);
    if (pid < 0) {
        close(go[1]);
        close(err[0]);
        return -saved;
    }
    r->pid = (pid_t)pid;
    r->pidfd = pidfd;
    r->go_fd = go[1];
    r->err_fd = err[0];
    return 0;
}

static int signal_pipe_write = -1;

static void signal_pipe_handler(int sig) {
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t unused = write(signal_pipe_write, &b, 1);
    (void)unused;
    errno = saved;
}

int ccordon_signal_pipe(const int *signals, int count) {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return -errno;
    signal_pipe_write = p[1];
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = signal_pipe_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigset_t unblock;
    sigemptyset(&unblock);
    for (int i = 0; i < count; i++) {
        if (sigaction(signals[i], &sa, NULL) != 0) return -errno;
        sigaddset(&unblock, signals[i]);
    }
    // A launcher may have handed us a blocked mask; these signals must reach the handler.
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);
    return p[0];
}

void ccordon_signal_pipe_reset(const int *signals, int count) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    for (int i = 0; i < count; i++) sigaction(signals[i], &sa, NULL);
}

int ccordon_spawn_detached(const char *path, char *const argv[], char *const envp[], const int *fds, int count) {
    if (count < 0 || count > 16) return -EINVAL;
    // Out of the way first, so that moving one into place never overwrites another.
    int high[16];
    for (int i = 0; i < count; i++) {
        high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 64);
        if (high[i] < 0) {
            int e = errno;
            for (int k = 0; k < i; k++) close(high[k]);
            return -e;
        }
    }
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attrs;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attrs);
    for (int i = 0; i < count; i++) posix_spawn_file_actions_adddup2(&actions, high[i], i);
    posix_spawn_file_actions_addclosefrom_np(&actions, count);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attrs, &all);
    posix_spawnattr_setsigmask(&attrs, &none);
    posix_spawnattr_setflags(&attrs, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, path, &actions, &attrs, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attrs);
    for (int i = 0; i < count; i++) close(high[i]);
    return rc == 0 ? (int)pid : -rc;
}

int ccordon_signalfd(const int *signals, int count) {
    sigset_t mask;
    sigemptyset(&mask);
    for (int i = 0; i < count; i++) sigaddset(&mask, signals[i]);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) return -errno;
    int fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

int ccordon_signalfd_next(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do { n = read(fd, &info, sizeof info); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    if (n != (ssize_t)sizeof info) return 0;
    return (int)info.ssi_signo;
}

int ccordon_pidfd_send_signal(int pidfd, int sig) {
    if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) != 0) return -errno;
    return 0;
}

int ccordon_pidfd_open(int pid) {
    long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) return -errno;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    return (int)fd;
}

static void copy_winsize(int from, int to) {
    struct winsize ws;
    if (ioctl(from, TIOCGWINSZ, &ws) == 0) ioctl(to, TIOCSWINSZ, &ws);
}

// Write all of buf, waiting while the descriptor is full (relay targets may be non-blocking).
static int write_all(int fd, const char *buf, ssize_t len) {
    while (len > 0) {
        ssize_t n = write(fd, buf, (size_t)len);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                poll(&p, 1, 1000);
                continue;
            }
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

// The sandbox's pty output on its way out: through `filter` when given, dropped when `out_fd` < 0.
static int relay_out(int out_fd, ccordon_relay_filter filter, void *ctx, const char *buf, ssize_t len) {
    static unsigned char filtered[16384 + CCORDON_RELAY_FILTER_SLACK];
    if (out_fd < 0) return 0;
    if (filter == NULL) return write_all(out_fd, buf, len);
    size_t n = filter(ctx, (const unsigned char *)buf, (size_t)len, filtered, sizeof filtered);
    return write_all(out_fd, (const char *)filtered, (ssize_t)n);
}

int ccordon_supervise(int pidfd, int signal_fd, int pty_master, int in_fd, int out_fd, int size_fd,
                      ccordon_relay_filter filter, void *filter_ctx, int tick_fd, const int *wake_fds, int wake_count) {
    char buf[16384];
    int in_open = pty_master >= 0 && in_fd >= 0;
    int master_open = pty_master >= 0;
    if (wake_count < 0 || wake_count > 8) return -EINVAL;
    for (;;) {
        struct pollfd p[5 + 8];
        int n = 0;
        int i_pid = n; p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        int i_sig = -1, i_in = -1, i_master = -1, i_tick = -1;
        if (signal_fd >= 0) { i_sig = n; p[n++] = (struct pollfd){.fd = signal_fd, .events = POLLIN}; }
        if (in_open) { i_in = n; p[n++] = (struct pollfd){.fd = in_fd, .events = POLLIN}; }
        if (master_open) { i_master = n; p[n++] = (struct pollfd){.fd = pty_master, .events = POLLIN}; }
        if (tick_fd >= 0) { i_tick = n; p[n++] = (struct pollfd){.fd = tick_fd, .events = POLLIN}; }
        int i_wake = n;
        for (int k = 0; k < wake_count; k++) p[n++] = (struct pollfd){.fd = wake_fds[k], .events = POLLIN};
        int rc = poll(p, (nfds_t)n, -1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (i_master >= 0 && (p[i_master].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = read(pty_master, buf, sizeof buf);
            if (got > 0) {
                // A terminal that went away: keep draining (and dropping) so the sandbox never blocks.
                if (relay_out(out_fd, filter, filter_ctx, buf, got) != 0) out_fd = -1;
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                master_open = 0;  // EIO: every slave end closed
            }
        }
        if (i_in >= 0 && (p[i_in].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t got = read(in_fd, buf, sizeof buf);
            if (got > 0) {
                write_all(pty_master, buf, got);
            } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                in_open = 0;
            }
        }
        if (i_sig >= 0 && (p[i_sig].revents & POLLIN)) {
            unsigned char sigs[32];
            ssize_t got = read(signal_fd, sigs, sizeof sigs);
            for (ssize_t k = 0; k < got; k++) {
                if (sigs[k] == SIGWINCH) {
                    if (pty_master >= 0 && size_fd >= 0) copy_winsize(size_fd, pty_master);
                } else {
                    ccordon_pidfd_send_signal(pidfd, sigs[k]);
                }
            }
        }
        if (p[i_pid].revents & POLLIN) {
            // Drain what the sandbox still had in the pty before returning.
            if (master_open) {
                for (;;) {
                    struct pollfd m = {.fd = pty_master, .events = POLLIN};
                    if (poll(&m, 1, 0) <= 0) break;
                    ssize_t got = read(pty_master, buf, sizeof buf);
                    if (got <= 0) break;
                    if (relay_out(out_fd, filter, filter_ctx, buf, got) != 0) break;
                }
            }
            return 0;
        }
        if (i_tick >= 0 && (p[i_tick].revents & POLLIN)) return 1;
        for (int k = 0; k < wake_count; k++) {
            if (p[i_wake + k].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) return 2;
        }
    }
}

int ccordon_openpty(int *master, int *slave, int size_from) {
    struct winsize ws;
    struct winsize *wsp = NULL;
    if (size_from >= 0 && ioctl(size_from, TIOCGWINSZ, &ws) == 0) wsp = &ws;
    if (openpty(master, slave, NULL, NULL, wsp) != 0) return -errno;
    fcntl(*master, F_SETFD, FD_CLOEXEC);
    fcntl(*slave, F_SETFD, FD_CLOEXEC);
    return 0;
}

int ccordon_fd_read_write(int fd) {
    int flags = fcntl(fd, F_GETFL);
    return flags >= 0 && (flags & O_ACCMODE) == O_RDWR;
}

int ccordon_termios_size(void) { return (int)sizeof(struct termios); }

int ccordon_tty_raw(int fd, void *saved) {
    struct termios t;
    if (tcgetattr(fd, &t) != 0) return -errno;
    memcpy(saved, &t, sizeof t);
    cfmakeraw(&t);
    if (tcsetattr(fd, TCSAFLUSH, &t) != 0) return -errno;
    return 0;
}

int ccordon_tty_get(int fd, void *saved) {
    if (tcgetattr(fd, (struct termios *)saved) != 0) return -errno;
    return 0;
}

int ccordon_tty_restore(int fd, const void *saved) {
    if (tcsetattr(fd, TCSAFLUSH, (const struct termios *)saved) != 0) return -errno;
    return 0;
}

struct ccordon_pid_writer {
    pthread_t thread;
    pid_t pid;
    int count;
    char **files;
    int result;
    int failed;
};

static void *pid_writer_main(void *arg) {
    struct ccordon_pid_writer *w = arg;
    char text[32];
    int len = snprintf(text, sizeof text, "%d", (int)w->pid);
    for (int i = 0; i < w->count; i++) {
        int fd = open(w->files[i], O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        ssize_t n = -1;
        if (fd >= 0) {
            do { n = write(fd, text, (size_t)len); } while (n < 0 && errno == EINTR);
        }
        int e = errno;
        if (fd >= 0) close(fd);
        if (n != len) {
            w->result = n < 0 || fd < 0 ? -e : -EIO;
            w->failed = i;
            break;
        }
    }
    return NULL;
}

struct ccordon_pid_writer *ccordon_write_pid_start(const char *const *files, int count, pid_t pid) {
    struct ccordon_pid_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->pid = pid;
    w->failed = -1;
    w->files = calloc((size_t)(count > 0 ? count : 1), sizeof(char *));
    if (!w->files) { free(w); errno = ENOMEM; return NULL; }
    for (int i = 0; i < count; i++) {
        w->files[i] = strdup(files[i]);
        w->count = i + 1;
        if (!w->files[i]) { w->count = i; errno = ENOMEM; goto fail; }
    }
    {
        int e = pthread_create(&w->thread, NULL, pid_writer_main, w);
        if (e == 0) return w;
        errno = e;
    }
fail:
    for (int i = 0; i < w->count; i++) free(w->files[i]);
    free(w->files);
    free(w);
    return NULL;
}

int ccordon_write_pid_wait(struct ccordon_pid_writer *w, int *failed) {
    if (!w) return -EINVAL;
    pthread_join(w->thread, NULL);
    int rc = w->result;
    if (failed) *failed = w->failed;
    for (int i = 0; i < w->count; i++) free(w->files[i]);
    free(w->files);
    free(w);
    return rc;
}
