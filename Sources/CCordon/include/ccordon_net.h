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

/// Starts `path` with `argv` (environment: PATH only) and `input` on its stdin; its stdout and
/// stderr go to `*output_fd` (a memfd). Returns 0 or -errno; on success the caller must call
/// ccordon_wait_program once.
int ccordon_start_program(const char *path, char *const argv[], const void *input, size_t input_len, pid_t *pid, int *output_fd);

/// Waits for a program started by ccordon_start_program (`pid` -1: for any child, when it is the
/// only one), copies its output into `output`
/// (NUL-terminated, truncated to `capacity`) and closes `output_fd`. Returns its exit status
/// (0–255, 128+signal) or -errno.
int ccordon_wait_program(pid_t pid, int output_fd, char *output, size_t capacity);

/// The capture's link in the calling thread's network namespace (rtnetlink, no exec): a veth
/// pair `name`/`peer` with both ends here, `address`/`prefix` on `name`, `gateway`/`prefix` on
/// `peer`, both up, and a default route via `gateway` on `name`. Returns 0, or -errno with
/// `*failed_step` naming the step; on failure the pair is deleted again (no link, no route).
int ccordon_capture_link(const char *name, const char *peer, const char *address, const char *gateway, int prefix, const char **failed_step);

/// Deletes the capture link `name` (its peer and its routes go with it). Returns 0 or -errno.
int ccordon_capture_link_remove(const char *name);

/// A connected unix stream socket to `path` (close-on-exec), or -errno.
int ccordon_unix_connect(const char *path);

#endif
