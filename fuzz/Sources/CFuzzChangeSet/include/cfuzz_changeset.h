// What the changeset target needs that Swift's Glibc does not declare (sys/xattr.h).
#pragma once
#include <stddef.h>

/// fsetxattr(2): sets an extended attribute on an open file or directory (an overlay marker).
int cfuzz_fsetxattr(int fd, const char *name, const void *value, size_t size);
