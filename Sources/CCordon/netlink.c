// The capture's link, made with rtnetlink in the calling thread's network namespace: what
// `ip -batch` did (veth pair, addresses, links up, default route) without a fork and exec.
#include "ccordon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

// One request: header, family message, attributes (nested ones patched when closed).
struct nl_request {
    union {
        struct nlmsghdr header;
        char bytes[512];
    };
};

static struct nlmsghdr *nl_start(struct nl_request *r, uint16_t type, uint16_t flags, const void *body, size_t len) {
    memset(r, 0, sizeof *r);
    r->header.nlmsg_len = (uint32_t)NLMSG_LENGTH(len);
    r->header.nlmsg_type = type;
    r->header.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    memcpy(NLMSG_DATA(&r->header), body, len);
    return &r->header;
}

// Appends an attribute; returns it (for nesting) or NULL when the request is full.
static struct rtattr *nl_add(struct nl_request *r, uint16_t type, const void *data, size_t len) {
    size_t at = NLMSG_ALIGN(r->header.nlmsg_len);
    size_t size = RTA_LENGTH(len);
    if (at + RTA_ALIGN(size) > sizeof r->bytes) return NULL;
    struct rtattr *a = (struct rtattr *)(r->bytes + at);
    a->rta_type = type;
    a->rta_len = (unsigned short)size;
    if (len > 0) memcpy(RTA_DATA(a), data, len);
    r->header.nlmsg_len = (uint32_t)(at + RTA_ALIGN(size));
    return a;
}

static void nl_end_nest(struct nl_request *r, struct rtattr *nest) {
    nest->rta_len = (unsigned short)(r->bytes + r->header.nlmsg_len - (char *)nest);
}

// Sends one request and waits for its acknowledgement. Returns 0 or -errno (the kernel's).
static int nl_talk(int fd, struct nl_request *r, uint32_t seq) {
    r->header.nlmsg_seq = seq;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n;
    do {
        n = sendto(fd, r->bytes, r->header.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    if ((size_t)n != r->header.nlmsg_len) return -EIO;
    char reply[4096] __attribute__((aligned(NLMSG_ALIGNTO)));
    for (;;) {
        do { n = recv(fd, reply, sizeof reply, 0); } while (n < 0 && errno == EINTR);
        if (n < 0) return -errno;
        if (n == 0) return -EIO;
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_seq != seq) continue;
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EIO;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            return e->error;  // 0 is the acknowledgement, else -errno
        }
    }
}

// One queue each way, asked for up front: otherwise veth trims its default (one per CPU) after
// registering the device, and that waits for an RCU grace period (~3 ms here). And the largest
// MTU veth takes: a captured connection's MSS comes from the route it was first looked up on
// (this link's), though its packets then travel over `lo`; at 1500 the relay and the sandbox
// would exchange 1460-byte segments where loopback carries 64 KiB ones.
static int add_link_defaults(struct nl_request *r) {
    uint32_t one = 1, mtu = 65535;
    return nl_add(r, IFLA_NUM_TX_QUEUES, &one, sizeof one) && nl_add(r, IFLA_NUM_RX_QUEUES, &one, sizeof one)
        && nl_add(r, IFLA_MTU, &mtu, sizeof mtu) ? 0 : -E2BIG;
}

static int link_add_veth(int fd, uint32_t seq, const char *name, const char *peer) {
    struct nl_request r;
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
    nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &info, sizeof info);
    if (!nl_add(&r, IFLA_IFNAME, name, strlen(name) + 1) || add_link_defaults(&r) != 0) return -E2BIG;
    struct rtattr *linkinfo = nl_add(&r, IFLA_LINKINFO, NULL, 0);
    if (!linkinfo || !nl_add(&r, IFLA_INFO_KIND, "veth", 5)) return -E2BIG;
    struct rtattr *data = nl_add(&r, IFLA_INFO_DATA, NULL, 0);
    if (!data) return -E2BIG;
    // The peer is described by an ifinfomsg followed by its own attributes.
    struct rtattr *peer_info = nl_add(&r, VETH_INFO_PEER, &info, sizeof info);
    if (!peer_info || !nl_add(&r, IFLA_IFNAME, peer, strlen(peer) + 1) || add_link_defaults(&r) != 0) return -E2BIG;
    nl_end_nest(&r, peer_info);
    nl_end_nest(&r, data);
    nl_end_nest(&r, linkinfo);
    return nl_talk(fd, &r, seq);
}

static int link_delete(int fd, uint32_t seq, const char *name) {
    struct nl_request r;
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC};
    nl_start(&r, RTM_DELLINK, 0, &info, sizeof info);
    if (!nl_add(&r, IFLA_IFNAME, name, strlen(name) + 1)) return -E2BIG;
    return nl_talk(fd, &r, seq);
}

static int link_up(int fd, uint32_t seq, int index) {
    struct nl_request r;
    struct ifinfomsg info = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
    nl_start(&r, RTM_NEWLINK, 0, &info, sizeof info);
    return nl_talk(fd, &r, seq);
}

static int address_add(int fd, uint32_t seq, int index, struct in_addr address, int prefix) {
    struct nl_request r;
    struct ifaddrmsg msg = {.ifa_family = AF_INET, .ifa_prefixlen = (unsigned char)prefix, .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (unsigned)index};
    nl_start(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &msg, sizeof msg);
    if (!nl_add(&r, IFA_LOCAL, &address, sizeof address) || !nl_add(&r, IFA_ADDRESS, &address, sizeof address)) return -E2BIG;
    return nl_talk(fd, &r, seq);
}

static int default_route_add(int fd, uint32_t seq, int index, struct in_addr gateway) {
    struct nl_request r;
    struct rtmsg msg = {
        .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_protocol = RTPROT_BOOT,
        .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST,
    };
    nl_start(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &msg, sizeof msg);
    uint32_t oif = (uint32_t)index;
    if (!nl_add(&r, RTA_GATEWAY, &gateway, sizeof gateway) || !nl_add(&r, RTA_OIF, &oif, sizeof oif)) return -E2BIG;
    return nl_talk(fd, &r, seq);
}

int ccordon_capture_link(const char *name, const char *peer, const char *address, const char *gateway, int prefix, const char **failed_step) {
    *failed_step = "parse the link's addresses";
    struct in_addr local, remote;
    if (prefix < 0 || prefix > 32 || inet_pton(AF_INET, address, &local) != 1 || inet_pton(AF_INET, gateway, &remote) != 1) return -EINVAL;
    if (strlen(name) >= IFNAMSIZ || strlen(peer) >= IFNAMSIZ) return -ENAMETOOLONG;

    *failed_step = "open a netlink socket";
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;

    uint32_t seq = 1;
    int created = 0;
    int rc;
    *failed_step = "create the veth pair";
    rc = link_add_veth(fd, seq++, name, peer);
    if (rc == 0) {
        created = 1;
        int index = (int)if_nametoindex(name);
        int peer_index = (int)if_nametoindex(peer);
        *failed_step = "find the veth pair's interfaces";
        if (index == 0 || peer_index == 0) rc = -ENODEV;
        // The same order as `ip -batch` used: addresses, peer up, link up, then the route.
        if (rc == 0) { *failed_step = "add the link's address"; rc = address_add(fd, seq++, index, local, prefix); }
        if (rc == 0) { *failed_step = "add the gateway's address"; rc = address_add(fd, seq++, peer_index, remote, prefix); }
        if (rc == 0) { *failed_step = "bring the peer up"; rc = link_up(fd, seq++, peer_index); }
        if (rc == 0) { *failed_step = "bring the link up"; rc = link_up(fd, seq++, index); }
        if (rc == 0) { *failed_step = "add the default route"; rc = default_route_add(fd, seq++, index, remote); }
    }
    // Fail closed: without every step nothing stays (deleting one end removes the pair and the route).
    if (rc != 0 && created) (void)link_delete(fd, seq++, name);
    close(fd);
    if (rc == 0) *failed_step = NULL;
    return rc;
}

int ccordon_capture_link_remove(const char *name) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    int rc = link_delete(fd, 1, name);
    close(fd);
    return rc;
}
