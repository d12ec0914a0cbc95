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

/// The capture's link in the calling thread's network namespace (rtnetlink, no exec): a veth
/// pair `name`/`peer` with both ends here, `address`/`prefix` on `name`, `gateway`/`prefix` on
/// `peer`, both up, and a default route via `gateway` on `name`. Returns 0, or -errno with
/// `*failed_step` naming the step; on failure the pair is deleted again (no link, no route).
int ccordon_capture_link(const char *name, const char *peer, const char *address, const char *gateway, int prefix, const char **failed_step);

/// The capture's nftables rules (table inet cordon, as CaptureInstaller.ruleset spells them) in
/// the calling thread's network namespace, as one atomic nf_tables batch over netlink (no exec):
/// TCP redirected to 127.0.0.1:`relay_port`, UDP 53 to `dns_port`, other UDP to `sink_port`,
/// everything else that would leave `lo` dropped; loopback TCP to and from `proxy_port` not
/// tracked. Returns 0, or -errno with `*failed_step` naming the step (-EINVAL when two of the
/// ports are the same); on failure no rule is in place.
int ccordon_capture_rules(uint16_t relay_port, uint16_t proxy_port, uint16_t dns_port, uint16_t sink_port, const char **failed_step);

/// Deletes the capture link `name` (its peer and its routes go with it). Returns 0 or -errno.
int ccordon_capture_link_remove(const char *name);

/// A connected unix stream socket to `path` (close-on-exec), or -errno.
/// Accepts a connection on unix listener `listener` (close-on-exec); `*uid` is the peer's uid
/// (SO_PEERCRED). The descriptor, or -errno.
int ccordon_unix_accept(int listener, unsigned int *uid);

int ccordon_unix_connect(const char *path);

/// A unix stream socket bound to `path` (a stale socket there is replaced; anything else there is
/// an error, EEXIST), mode 0600, listening with `backlog`, close-on-exec. Returns it or -errno.
int ccordon_unix_listen(const char *path, int backlog);

/// The user namespace that owns namespace `ns_fd` (ioctl NS_GET_USERNS): a descriptor
/// (close-on-exec) or -errno.
int ccordon_namespace_owner(int ns_fd);

/// A TCP socket (AF_INET, close-on-exec) made in the network namespace `netns_fd` (a socket keeps
/// the namespace it was made in: its connections go to that namespace's addresses). A short-lived
/// child sharing the caller's memory and descriptor table joins the namespace and makes it
/// (clone CLONE_VM|CLONE_FILES|CLONE_VFORK, without CLONE_FS so it may join a user namespace);
/// no thread of the caller changes namespace. When the caller is not privileged over the
/// namespace, the child joins `userns_fd` first (its owner, -1: none), as a rootless supervisor
/// may (it owns the sandbox's user namespace). Returns the descriptor or -errno.
int ccordon_netns_stream_socket(int netns_fd, int userns_fd);

/// Connects TCP socket `fd` to 127.0.0.1:`port` of its own network namespace, waiting at most
/// `timeout_ms`; the socket's blocking mode is as before. Returns 0 or -errno (-ETIMEDOUT).
int ccordon_connect_loopback(int fd, uint16_t port, int timeout_ms);

/// The local port socket `fd` is bound to, or -errno.
int ccordon_local_port(int fd);

/// A TCP socket bound to [::1]:`port` (IPv6 only), listening with `backlog`, close-on-exec.
/// Returns the descriptor or -errno (-EADDRNOTAVAIL: this host has no IPv6 loopback).
int ccordon_listen_loopback6(uint16_t port, int backlog);

/// Accepts a connection on `listener` (close-on-exec): its descriptor, or -errno.
int ccordon_accept(int listener);

#endif
