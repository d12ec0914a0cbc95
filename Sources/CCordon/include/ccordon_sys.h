#ifndef CCORDON_SYS_H
#define CCORDON_SYS_H
#include <stdint.h>
#include <sys/types.h>

// Each function returns 0 on success or -errno.
int ccordon_unshare(uint64_t flags);
int ccordon_pivot_root(const char *new_root, const char *put_old);
int ccordon_set_no_new_privs(void);
int ccordon_set_pdeathsig(int sig);
int ccordon_set_dumpable(int value);
int ccordon_set_child_subreaper(void);
/// Clear the bounding, ambient, inheritable, permitted and effective sets; lock securebits.
int ccordon_drop_all_capabilities(void);
/// Bring up the loopback interface of the current network namespace.
int ccordon_loopback_up(void);
/// pipe2(O_CLOEXEC): both ends close-on-exec from the start (Swift's Glibc has no pipe2; pipe
/// then fcntl leaves a window in which a thread that spawns passes the pipe on). 0 or -errno.
int ccordon_pipe_cloexec(int fds[2]);
/// Make `fd` the controlling terminal of the calling session leader.
int ccordon_set_controlling_tty(int fd);
/// Mount flags of the mount containing `path` (ST_* from statvfs mapped to MS_*).
int ccordon_mount_flags(const char *path, unsigned long *flags);
/// Remount an existing bind read-only, keeping the flags the kernel locked (nodev, nosuid, noexec).
int ccordon_remount_readonly(const char *path, unsigned long extra_flags);

/// Drops this process's pages of the main program's relocation table (DT_RELA: 2.7 MB in
/// `cordon`): the dynamic loader read it once at start-up and nothing reads it again, but its
/// pages stay resident. Only when it lies in a never-written segment (file contents only, so
/// the pages simply fault in again if ever read). Returns the bytes dropped, or -errno.
long ccordon_drop_relocation_table(void);

/// Unmaps this process's resident pages of program code (file-backed, private, r-x mappings
/// that hold no page of their own: no text relocation, breakpoint or uprobe), so that they count
/// only where they are used again: the file's pages stay in the page cache, shared, and fault
/// back in (minor faults) when run. Returns the bytes of the mappings dropped, or -errno.
long ccordon_drop_program_text(void);

/// Landlock: the best ABI the kernel offers (0 = unavailable).
int ccordon_landlock_abi(void);
/// Restrict the calling thread: read and execute everywhere; full write access only beneath
/// `writable` paths; writing existing files (not creating) beneath `write_files` (/dev/null, …).
/// Signals and abstract unix sockets are scoped to the sandbox when the ABI allows (>= 6).
/// Missing paths are skipped. Returns the ABI used (> 0) or -errno.
int ccordon_landlock_apply(const char *const *writable, int writable_count, const char *const *write_files, int write_files_count);

/// The seccomp filter (see docs/threat-model.md): denied calls fail with EPERM, clone3 with
/// ENOSYS, foreign architectures (32-bit, x32) with EPERM. Requires no_new_privs.
int ccordon_seccomp_install(void);

#endif
