#ifndef CCORDON_NET_H
#define CCORDON_NET_H
// Sockets and helpers for the sandbox's egress capture: listeners bound inside the sandbox's
// network namespace are handed to the supervisor with SCM_RIGHTS.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// A socket of `type` (SOCK_STREAM or SOCK_DGRAM) bound to 127.0.0.1:`port`, listening with
/// `backlog` when it is a stream socket. Close-on-exec. Returns the descriptor or -errno.
int ccordon_listen_loopback(int type, uint16_t port, int backlog);

/// Sends `len` bytes of `message` with `count` descriptors attached. Returns 0 or -errno.
int ccordon_send_fds(int sock, const int *fds, int count, const void *message, size_t len);

/// Receives one message and up to `max` descriptors (close-on-exec). Returns the number of
/// message bytes (0 at end of stream) or -errno; `*count` gets the number of descriptors.
ssize_t ccordon_recv_fds(int sock, int *fds, int max, int *count, void *buffer, size_t capacity);

/// Runs `path` with `argv` (environment: PATH only), `input` on its stdin, its stdout and
/// stderr captured into `output` (NUL-terminated, truncated to `capacity`). Waits for it.
/// Returns its exit status (0–255, 128+signal) or -errno when it could not be started.
int ccordon_run_program(const char *path, char *const argv[], const void *input, size_t input_len, char *output, size_t capacity);

/// A connected unix stream socket to `path` (close-on-exec), or -errno.
int ccordon_unix_connect(const char *path);

#endif
