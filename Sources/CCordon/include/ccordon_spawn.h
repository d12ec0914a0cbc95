#ifndef CCORDON_SPAWN_H
#define CCORDON_SPAWN_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Namespace flags, as integer literals so Swift imports them as UInt64.
#define CCORDON_CLONE_NEWUSER   0x10000000ULL
#define CCORDON_CLONE_NEWNS     0x00020000ULL
#define CCORDON_CLONE_NEWPID    0x20000000ULL
#define CCORDON_CLONE_NEWIPC    0x08000000ULL
#define CCORDON_CLONE_NEWUTS    0x04000000ULL
#define CCORDON_CLONE_NEWNET    0x40000000ULL
#define CCORDON_CLONE_NEWCGROUP 0x02000000ULL

/// What the child of ccordon_spawn does: wait for the go byte, then execve `path`. `fds[i]`
/// becomes descriptor i in the child; every other descriptor is closed on exec.
struct ccordon_spawn_attrs {
    uint64_t clone_flags;
    const char *path;
    char *const *argv;
    char *const *envp;
    const int *fds;
    int fd_count;
    /// After the maps are written: drop every supplementary group and become uid/gid 0 of the
    /// new user namespace (needed when the caller's own ids are not mapped in it, as when root
    /// maps the sandbox to a block of unprivileged ids: exec would otherwise drop every
    /// capability, and the host's groups would stay).
    int become_root;
    /// The child's working directory (chdir before exec), or NULL to keep the caller's. The
    /// caller's own working directory is never changed: it is the whole process's.
    const char *directory;
};

/// The step a child reports failing (first of the two ints on the error descriptor: step, errno).
#define CCORDON_SPAWN_STEP_SETUP 1
#define CCORDON_SPAWN_STEP_EXEC 3

struct ccordon_spawn_result {
    pid_t pid;
    int pidfd;
    /// Write one byte here once the uid/gid maps are in place; the child then execs.
    int go_fd;
    /// Read: EOF means exec succeeded; two ints (step, errno) report a failed step.
    int err_fd;
};

/// clone3 into new namespaces with a pidfd; the child runs only async-signal-safe C.
/// Returns 0, or -errno from the parent side (pipe or clone3 failure).
int ccordon_spawn(const struct ccordon_spawn_attrs *attrs, struct ccordon_spawn_result *result);

/// Install handlers for `signals` that write the signal number as one byte to a pipe.
/// Returns the pipe's read end (non-blocking, CLOEXEC), or -errno.
int ccordon_signal_pipe(const int *signals, int count);

/// Restore the default disposition of `signals`.
void ccordon_signal_pipe_reset(const int *signals, int count);

/// posix_spawn of `path` in a session of its own, default signal dispositions and an empty mask,
/// `fds[i]` as its descriptor i and every other descriptor closed: a process that outlives its
/// starter (no parent-death signal). Its pid, or -errno.
int ccordon_spawn_detached(const char *path, char *const argv[], char *const envp[], const int *fds, int count);

/// Blocks `signals` in the calling thread and returns a signalfd for them (close-on-exec,
/// non-blocking), or -errno.
int ccordon_signalfd(const int *signals, int count);

/// The next signal pending on signalfd `fd`: its number, 0 when none is, or -errno.
int ccordon_signalfd_next(int fd);

/// Filters the sandbox's pty output: reads `len` bytes of `in`, writes at most `len` +
/// CCORDON_RELAY_FILTER_SLACK bytes to `out` (`cap` is at least that), returns how many.
typedef size_t (*ccordon_relay_filter)(void *ctx, const unsigned char *in, size_t len, unsigned char *out, size_t cap);
#define CCORDON_RELAY_FILTER_SLACK 8192

/// The supervisor's wait loop. Returns when the child behind `pidfd` exits.
/// `pty_master` >= 0: relay `in_fd` → master (when `in_fd` >= 0) and master → `out_fd` through
/// `filter` (NULL: raw; `out_fd` < 0: read and dropped); on SIGWINCH the size of `size_fd`.
/// Signals read from `signal_fd` (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are sent to the child.
/// `tick_fd` (may be -1) is polled too; when readable, the loop returns 1 so the caller can act.
/// So are the `wake_count` descriptors of `wake_fds` (at most 8): when one is readable or fails,
/// it returns 2 (the caller takes them over: they are still readable on the next call).
/// Returns 0 when the child exited, 1 on a tick, 2 on a wake, -errno on failure.
int ccordon_supervise(int pidfd, int signal_fd, int pty_master, int in_fd, int out_fd, int size_fd,
                      ccordon_relay_filter filter, void *filter_ctx, int tick_fd, const int *wake_fds, int wake_count);

int ccordon_pidfd_send_signal(int pidfd, int sig);

/// pidfd_open(2): a descriptor for `pid` (CLOEXEC), or -errno.
int ccordon_pidfd_open(int pid);

/// Open a pty pair; the slave gets the window size of `size_from` when that is a terminal.
int ccordon_openpty(int *master, int *slave, int size_from);

/// Whether `fd` is open for reading and writing (a terminal the relay may echo to).
int ccordon_fd_read_write(int fd);

/// Put terminal `fd` into raw mode, saving the old mode in an opaque buffer for restore.
/// Returns 0 or -errno. `saved` must hold ccordon_termios_size() bytes.
int ccordon_tty_raw(int fd, void *saved);
int ccordon_tty_restore(int fd, const void *saved);
/// The modes of terminal `fd` into `saved` (ccordon_termios_size() bytes). Returns 0 or -errno.
int ccordon_tty_get(int fd, void *saved);
int ccordon_termios_size(void);

/// Writes `pid` into each of `files` (a cgroup's cgroup.procs) on a new thread: joining a cgroup
/// v1 hierarchy waits for an RCU grace period (~10 ms here), which the caller overlaps with
/// other work. Returns a handle for ccordon_write_pid_wait (exactly once), or NULL with errno.
struct ccordon_pid_writer;
struct ccordon_pid_writer *ccordon_write_pid_start(const char *const *files, int count, pid_t pid);

/// Waits for the writes; returns 0, or -errno with `*failed` the index of the file that failed.
int ccordon_write_pid_wait(struct ccordon_pid_writer *writer, int *failed);

#endif
