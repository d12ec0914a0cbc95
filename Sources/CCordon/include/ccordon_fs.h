#ifndef CCORDON_FS_H
#define CCORDON_FS_H
// Filesystem calls Swift's Glibc does not expose: openat2 (resolve flags), renameat2, the
// l*xattr family (overlay whiteouts and opaque markers), makedev, inode flags and xattr removal (the
// sync gate); syncfs (the
// sync gate's apply, and the supervisor after a run that wrote to an overlay).
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CCORDON_RESOLVE_NO_XDEV 0x01ULL
#define CCORDON_RESOLVE_NO_MAGICLINKS 0x02ULL
#define CCORDON_RESOLVE_NO_SYMLINKS 0x04ULL
#define CCORDON_RESOLVE_BENEATH 0x08ULL
#define CCORDON_RESOLVE_IN_ROOT 0x10ULL

#define CCORDON_O_PATH 010000000
#define CCORDON_RENAME_NOREPLACE 1U
#define CCORDON_RENAME_EXCHANGE 2U

/// openat2(2): returns an fd or -1 with errno set (ENOSYS on kernels before 5.6).
int ccordon_openat2(int dirfd, const char *path, int flags, unsigned int mode, uint64_t resolve);
/// syncfs(2): flushes the filesystem holding `fd` and waits; returns 0 or -1 with errno set
/// (unlike sync(2), it reports writeback errors, since Linux 5.8).
int ccordon_syncfs(int fd);
/// renameat2(2): returns 0 or -1 with errno set.
int ccordon_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags);
ssize_t ccordon_lgetxattr(const char *path, const char *name, void *value, size_t size);
int ccordon_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
int ccordon_lremovexattr(const char *path, const char *name);
ssize_t ccordon_llistxattr(const char *path, char *list, size_t size);
/// The same on an open file (the sync gate reads what the agent wrote through descriptors only).
ssize_t ccordon_fgetxattr(int fd, const char *name, void *value, size_t size);
ssize_t ccordon_flistxattr(int fd, char *list, size_t size);
int ccordon_fremovexattr(int fd, const char *name);
/// The inode flags of `fd` (FS_IOC_GETFLAGS: chattr's flags); 0, or -errno (ENOTTY/EOPNOTSUPP
/// where the filesystem has none).
int ccordon_inode_flags(int fd, unsigned int *flags);
/// Inode flags the filesystem sets by itself (extents, huge file, inline data), never a user's choice.
#define CCORDON_INODE_FLAGS_INTERNAL 0x100C0000U
/// Removes every extended attribute of `fd` (ACLs, user.*, overlay metadata, file capabilities);
/// 0 when none remain, else -errno (the first removal that failed, or ERANGE for a list > 64 KiB).
int ccordon_remove_all_xattrs(int fd);
uint64_t ccordon_makedev(unsigned int major, unsigned int minor);
unsigned int ccordon_major(uint64_t dev);
unsigned int ccordon_minor(uint64_t dev);

// The new mount API. Each returns a descriptor or 0, else -errno.
/// A tmpfs (1 MiB, nosuid, nodev, noexec) attached nowhere: files written into it and bound
/// elsewhere show no host path in mountinfo.
int ccordon_tmpfs_detached(void);
/// Writes `name` (new) in the detached tmpfs `tmpfs`, then binds it read-only over `target`.
int ccordon_cover_file(int tmpfs, const char *name, const void *data, size_t len, unsigned int mode, const char *target);
/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `dirfd`/`path` ("" for `dirfd` itself).
int ccordon_clone_tree(int dirfd, const char *path, int recursive);
/// Makes the detached tree `tree` (and its submounts) idmapped through the user namespace `userns`.
int ccordon_idmap_tree(int tree, int userns);
/// move_mount: attaches the detached tree `tree` at `target`.
int ccordon_attach_tree(int tree, const char *target);
/// Mounts an overlay at `target` whose layers are given as descriptors (overlayfs since 6.13):
/// its options then show each layer's path as seen through that descriptor, not a host path.
/// On failure `log` holds the filesystem's message, if any; -EOPNOTSUPP when the kernel takes no
/// layer by descriptor (before 6.13).
int ccordon_overlay_from_fds(int lower, int upper, int work, int userxattr, int volatile_mount, const char *target,
                             char *log, size_t log_size);
#endif
