#ifndef CCORDON_RELAY_H
#define CCORDON_RELAY_H
// The egress proxy's in-kernel tunnel relay: splice(2) between two TCP sockets through a pipe.
// Every function returns a count or 0 on success and -errno on failure.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// A pipe, both ends non-blocking and close-on-exec, grown to `size` bytes when the kernel
/// allows (an unprivileged user past fs.pipe-user-pages-soft keeps the default). `*capacity`
/// gets the size it has.
int ccordon_relay_pipe(int fds[2], int size, int *capacity);

/// splice(2) of up to `length` bytes from `in` to `out` (one of them a pipe), moving pages
/// rather than copying where the kernel can. Blocks as the socket does (its timeouts apply).
ssize_t ccordon_relay_splice_blocking(int in, int out, size_t length);

/// The socket's cookie (SO_COOKIE: unique for the socket's life, across descriptors that refer
/// to it), or 0 when `fd` is not a socket.
uint64_t ccordon_socket_cookie(int fd);

/// SO_COOKIE's option number, for getsockopt through other APIs (SOL_SOCKET level).
int ccordon_socket_cookie_option(void);

#endif
