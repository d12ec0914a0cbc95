#include "ccordon_fs.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
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

uint64_t ccordon_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int ccordon_major(uint64_t dev) { return major(dev); }
unsigned int ccordon_minor(uint64_t dev) { return minor(dev); }

