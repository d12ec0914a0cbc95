#include "ccordon_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
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
