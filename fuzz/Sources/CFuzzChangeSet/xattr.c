#include "cfuzz_changeset.h"

#include <sys/xattr.h>

int cfuzz_fsetxattr(int fd, const char *name, const void *value, size_t size) {
    return fsetxattr(fd, name, value, size, 0);
}
