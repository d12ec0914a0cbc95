#include "ccordon_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

int ccordon_openat2(int dirfd, const char *path, int flags, unsigned int mode, uint64_t resolve) {
    struct open_how how;
    memset(&how, 0, sizeof how);
    how.flags = (uint64_t)(unsigned int)flags;
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
    how.resolve = resolve;
    return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int ccordon_syncfs(int fd) { return syncfs(fd); }

int ccordon_renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

ssize_t ccordon_lgetxattr(const char *path, const char *name, void *value, size_t size) {
    return lgetxattr(path, name, value, size);
}

int ccordon_lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags) {
    return lsetxattr(path, name, value, size, flags);
}

int ccordon_lremovexattr(const char *path, const char *name) { return lremovexattr(path, name); }

ssize_t ccordon_llistxattr(const char *path, char *list, size_t size) { return llistxattr(path, list, size); }

ssize_t ccordon_fgetxattr(int fd, const char *name, void *value, size_t size) { return fgetxattr(fd, name, value, size); }

ssize_t ccordon_flistxattr(int fd, char *list, size_t size) { return flistxattr(fd, list, size); }

int ccordon_fremovexattr(int fd, const char *name) { return fremovexattr(fd, name); }

uint64_t ccordon_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int ccordon_major(uint64_t dev) { return major(dev); }
unsigned int ccordon_minor(uint64_t dev) { return minor(dev); }


int ccordon_inode_flags(int fd, unsigned int *flags) {
    int value = 0;
    if (ioctl(fd, FS_IOC_GETFLAGS, &value) != 0) return -errno;
    *flags = (unsigned int)value;
    return 0;
}

int ccordon_remove_all_xattrs(int fd) {
    char list[65536];
    ssize_t size = flistxattr(fd, list, sizeof list);
    if (size < 0) return (errno == ENOTSUP) ? 0 : -errno;
    for (ssize_t at = 0; at < size; at += (ssize_t)strlen(list + at) + 1) {
        if (fremovexattr(fd, list + at) != 0 && errno != ENODATA) return -errno;
    }
    size = flistxattr(fd, list, sizeof list);
    if (size < 0) return (errno == ENOTSUP) ? 0 : -errno;
    return size == 0 ? 0 : -EPERM;
}

// ---- The new mount API (open_tree, move_mount, fsopen/fsconfig/fsmount, mount_setattr) ----

#include <linux/mount.h>

static int sys_open_tree(int dfd, const char *path, unsigned int flags) { return (int)syscall(SYS_open_tree, dfd, path, flags); }
static int sys_move_mount(int from, const char *from_path, int to, const char *to_path, unsigned int flags) {
    return (int)syscall(SYS_move_mount, from, from_path, to, to_path, flags);
}
static int sys_fsconfig(int fs, unsigned int cmd, const char *key, const void *value, int aux) {
    return (int)syscall(SYS_fsconfig, fs, cmd, key, value, aux);
}
static int sys_mount_setattr(int dfd, const char *path, unsigned int flags, struct mount_attr *attr) {
    return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}

int ccordon_tmpfs_detached(void) {
    int fs = (int)syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0) return -errno;
    int rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0);
    if (rc == 0) rc = sys_fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0);
    if (rc == 0) rc = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    if (rc != 0) { int e = errno; close(fs); return -e; }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    int e = errno;
    close(fs);
    return mnt >= 0 ? mnt : -e;
}

int ccordon_cover_file(int tmpfs, const char *name, const void *data, size_t len, unsigned int mode, const char *target) {
    int fd = openat(tmpfs, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) return -errno;
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return -e;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fchmod(fd, mode) != 0) { int e = errno; close(fd); return -e; }
    close(fd);
    int tree = sys_open_tree(tmpfs, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
    if (tree < 0) return -errno;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    int rc = sys_mount_setattr(tree, "", AT_EMPTY_PATH, &attr);
    if (rc == 0) rc = sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    int e = errno;
    close(tree);
    return rc == 0 ? 0 : -e;
}

int ccordon_clone_tree(int dirfd, const char *path, int recursive) {
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    if (path[0] == '\0') flags |= AT_EMPTY_PATH;
    int tree = sys_open_tree(dirfd, path, flags);
    return tree >= 0 ? tree : -errno;
}

int ccordon_idmap_tree(int tree, int userns) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (uint64_t)userns;
    return sys_mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) == 0 ? 0 : -errno;
}

int ccordon_attach_tree(int tree, const char *target) {
    return sys_move_mount(tree, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) == 0 ? 0 : -errno;
}

int ccordon_overlay_from_fds(int lower, int upper, int work, int userxattr, int volatile_mount, const char *target,
                             char *log, size_t log_size) {
    if (log_size > 0) log[0] = '\0';
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) return -errno;
    int rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "lowerdir+", NULL, lower);
    if (rc == 0) rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "upperdir", NULL, upper);
    if (rc == 0) rc = sys_fsconfig(fs, FSCONFIG_SET_FD, "workdir", NULL, work);
    if (rc != 0 && errno == EINVAL) {
        // Layers by descriptor arrived in Linux 6.13 ("lowerdir+" in 6.7): the caller mounts by path.
        close(fs);
        return -EOPNOTSUPP;
    }
    if (rc == 0 && userxattr) rc = sys_fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0);
    if (rc == 0 && volatile_mount) rc = sys_fsconfig(fs, FSCONFIG_SET_FLAG, "volatile", NULL, 0);
    if (rc == 0) rc = sys_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    if (rc != 0) {
        int e = errno;
        // The filesystem's own explanation, when it gave one ("e overlayfs: ...").
        if (log_size > 1) {
            ssize_t n = read(fs, log, log_size - 1);
            log[n > 0 ? n : 0] = '\0';
        }
        close(fs);
        return -e;
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
    int e = errno;
    close(fs);
    if (mnt < 0) return -e;
    rc = sys_move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
    e = errno;
    close(mnt);
    return rc == 0 ? 0 : -e;
}
