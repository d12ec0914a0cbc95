// The capture's nftables rules, sent as one nf_tables batch over netlink in the calling thread's
// network namespace: what `nft -f` did with CaptureInstaller.ruleset, without a process (nft's
// exec, its libraries and its parser cost ~3 ms of CPU alone and ~10 ms next to a starting
// sandbox on two cores). The batch is atomic: the kernel applies all of it or none.
#include "ccordon.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

enum { batch_capacity = 8192, max_messages = 32 };

// The messages of one batch, each with what it does (for the error), laid out as sent.
struct nft_batch {
    char bytes[batch_capacity] __attribute__((aligned(NLMSG_ALIGNTO)));
    size_t len;
    size_t message_start;
    int overflow;
    uint32_t first_seq;
    int count;  // messages that ask for an acknowledgement
    const char *steps[max_messages];
};

static void *reserve(struct nft_batch *b, size_t len) {
    size_t aligned = NLMSG_ALIGN(len);
    if (b->overflow || b->len + aligned > sizeof b->bytes) {
        b->overflow = 1;
        return NULL;
    }
    void *at = b->bytes + b->len;
    memset(at, 0, aligned);
    b->len += aligned;
    return at;
}

static void message_begin(struct nft_batch *b, uint16_t type, uint16_t flags, uint8_t family, const char *step) {
    b->message_start = b->len;
    struct nlmsghdr *h = reserve(b, NLMSG_HDRLEN);
    struct nfgenmsg *g = reserve(b, sizeof(struct nfgenmsg));
    if (!h || !g) return;
    int acked = (flags & NLM_F_ACK) != 0;
    if (acked && b->count >= max_messages) {
        b->overflow = 1;
        return;
    }
    h->nlmsg_type = type;
    h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags);
    h->nlmsg_seq = b->first_seq + (uint32_t)(acked ? b->count : max_messages);
    g->nfgen_family = family;
    g->version = NFNETLINK_V0;
    g->res_id = htons(NFNL_SUBSYS_NFTABLES);
    if (acked) b->steps[b->count++] = step;
}

static void message_end(struct nft_batch *b) {
    if (b->overflow) return;
    struct nlmsghdr *h = (struct nlmsghdr *)(b->bytes + b->message_start);
    h->nlmsg_len = (uint32_t)(b->len - b->message_start);
}

// nf_tables objects: every message but the batch markers asks for an acknowledgement.
static void object_begin(struct nft_batch *b, int type, uint16_t flags, const char *step) {
    message_begin(b, (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | type), (uint16_t)(NLM_F_ACK | NLM_F_CREATE | flags), NFPROTO_INET, step);
}

static struct nlattr *attr(struct nft_batch *b, uint16_t type, const void *data, size_t len) {
    struct nlattr *a = reserve(b, NLA_HDRLEN + len);
    if (!a) return NULL;
    a->nla_type = type;
    a->nla_len = (uint16_t)(NLA_HDRLEN + len);
    if (len > 0) memcpy((char *)a + NLA_HDRLEN, data, len);
    return a;
}

static void attr_u32(struct nft_batch *b, uint16_t type, uint32_t value) {
    uint32_t be = htonl(value);
    attr(b, type, &be, sizeof be);
}

static void attr_u64(struct nft_batch *b, uint16_t type, uint64_t value) {
    uint64_t be = htobe64(value);
    attr(b, type, &be, sizeof be);
}

static void attr_str(struct nft_batch *b, uint16_t type, const char *s) { attr(b, type, s, strlen(s) + 1); }

static struct nlattr *nest_begin(struct nft_batch *b, uint16_t type) { return attr(b, (uint16_t)(type | NLA_F_NESTED), NULL, 0); }

static void nest_end(struct nft_batch *b, struct nlattr *nest) {
    if (nest && !b->overflow) nest->nla_len = (uint16_t)(b->bytes + b->len - (char *)nest);
}

// NFTA_DATA_VALUE inside the nest `type`.
static void data_value(struct nft_batch *b, uint16_t type, const void *value, size_t len) {
    struct nlattr *n = nest_begin(b, type);
    attr(b, NFTA_DATA_VALUE, value, len);
    nest_end(b, n);
}

// Expressions. Each is one NFTA_LIST_ELEM of the rule's NFTA_RULE_EXPRESSIONS.
static struct nlattr *expr_begin(struct nft_batch *b, const char *name, struct nlattr **data) {
    struct nlattr *elem = nest_begin(b, NFTA_LIST_ELEM);
    attr_str(b, NFTA_EXPR_NAME, name);
    *data = nest_begin(b, NFTA_EXPR_DATA);
    return elem;
}

static void expr_end(struct nft_batch *b, struct nlattr *elem, struct nlattr *data) {
    nest_end(b, data);
    nest_end(b, elem);
}

static void meta_load(struct nft_batch *b, uint32_t key) {
    struct nlattr *d, *e = expr_begin(b, "meta", &d);
    attr_u32(b, NFTA_META_DREG, NFT_REG_1);
    attr_u32(b, NFTA_META_KEY, key);
    expr_end(b, e, d);
}

static void payload_load(struct nft_batch *b, uint32_t base, uint32_t offset, uint32_t len) {
    struct nlattr *d, *e = expr_begin(b, "payload", &d);
    attr_u32(b, NFTA_PAYLOAD_DREG, NFT_REG_1);
    attr_u32(b, NFTA_PAYLOAD_BASE, base);
    attr_u32(b, NFTA_PAYLOAD_OFFSET, offset);
    attr_u32(b, NFTA_PAYLOAD_LEN, len);
    expr_end(b, e, d);
}

static void compare(struct nft_batch *b, uint32_t op, const void *value, size_t len) {
    struct nlattr *d, *e = expr_begin(b, "cmp", &d);
    attr_u32(b, NFTA_CMP_SREG, NFT_REG_1);
    attr_u32(b, NFTA_CMP_OP, op);
    data_value(b, NFTA_CMP_DATA, value, len);
    expr_end(b, e, d);
}

static void compare_byte(struct nft_batch *b, uint8_t value) { compare(b, NFT_CMP_EQ, &value, 1); }

// `oifname "lo"` / `iifname "lo"`: the name zero-padded to IFNAMSIZ, as nft sends it.
static void interface_is_loopback(struct nft_batch *b, uint32_t key) {
    char name[16] = "lo";
    meta_load(b, key);
    compare(b, NFT_CMP_EQ, name, sizeof name);
}

static void verdict(struct nft_batch *b, int code) {
    struct nlattr *d, *e = expr_begin(b, "immediate", &d);
    attr_u32(b, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
    struct nlattr *data = nest_begin(b, NFTA_IMMEDIATE_DATA);
    struct nlattr *v = nest_begin(b, NFTA_DATA_VERDICT);
    attr_u32(b, NFTA_VERDICT_CODE, (uint32_t)code);
    nest_end(b, v);
    nest_end(b, data);
    expr_end(b, e, d);
}

// `redirect to :port`: the port in register 1, then redir with a specified protocol range.
static void redirect(struct nft_batch *b, uint16_t port) {
    struct nlattr *d, *e = expr_begin(b, "immediate", &d);
    uint16_t be = htons(port);
    attr_u32(b, NFTA_IMMEDIATE_DREG, NFT_REG_1);
    data_value(b, NFTA_IMMEDIATE_DATA, &be, sizeof be);
    expr_end(b, e, d);
    e = expr_begin(b, "redir", &d);
    attr_u32(b, NFTA_REDIR_REG_PROTO_MIN, NFT_REG_1);
    attr_u32(b, NFTA_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
    expr_end(b, e, d);
}

// `counter name NAME`: the named counter object.
static void count_in(struct nft_batch *b, const char *counter) {
    struct nlattr *d, *e = expr_begin(b, "objref", &d);
    attr_u32(b, NFTA_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
    attr_str(b, NFTA_OBJREF_IMM_NAME, counter);
    expr_end(b, e, d);
}

// `ip daddr 127.0.0.0/8`: IPv4, first byte of the destination 127.
static void ipv4_to_loopback(struct nft_batch *b) {
    meta_load(b, NFT_META_NFPROTO);
    compare_byte(b, NFPROTO_IPV4);
    payload_load(b, NFT_PAYLOAD_NETWORK_HEADER, 16, 1);
    compare_byte(b, 127);
}

// `ct state established,related`: the state bits masked, not zero.
static void established_or_related(struct nft_batch *b) {
    struct nlattr *d, *e;
    uint32_t mask = NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED), zero = 0;
    e = expr_begin(b, "ct", &d);
    attr_u32(b, NFTA_CT_DREG, NFT_REG_1);
    attr_u32(b, NFTA_CT_KEY, NFT_CT_STATE);
    expr_end(b, e, d);
    e = expr_begin(b, "bitwise", &d);
    attr_u32(b, NFTA_BITWISE_SREG, NFT_REG_1);
    attr_u32(b, NFTA_BITWISE_DREG, NFT_REG_1);
    attr_u32(b, NFTA_BITWISE_LEN, sizeof mask);
    data_value(b, NFTA_BITWISE_MASK, &mask, sizeof mask);
    data_value(b, NFTA_BITWISE_XOR, &zero, sizeof zero);
    expr_end(b, e, d);
    compare(b, NFT_CMP_NEQ, &zero, sizeof zero);
}

static const char table_name[] = "cordon";

static void counter_object(struct nft_batch *b, const char *name, const char *step) {
    object_begin(b, NFT_MSG_NEWOBJ, 0, step);
    attr_str(b, NFTA_OBJ_TABLE, table_name);
    attr_str(b, NFTA_OBJ_NAME, name);
    attr_u32(b, NFTA_OBJ_TYPE, NFT_OBJECT_COUNTER);
    struct nlattr *data = nest_begin(b, NFTA_OBJ_DATA);
    attr_u64(b, NFTA_COUNTER_BYTES, 0);
    attr_u64(b, NFTA_COUNTER_PACKETS, 0);
    nest_end(b, data);
    message_end(b);
}

static void base_chain(struct nft_batch *b, const char *name, const char *type, uint32_t hook, int priority, uint32_t policy, const char *step) {
    object_begin(b, NFT_MSG_NEWCHAIN, 0, step);
    attr_str(b, NFTA_CHAIN_TABLE, table_name);
    attr_str(b, NFTA_CHAIN_NAME, name);
    struct nlattr *h = nest_begin(b, NFTA_CHAIN_HOOK);
    attr_u32(b, NFTA_HOOK_HOOKNUM, hook);
    attr_u32(b, NFTA_HOOK_PRIORITY, (uint32_t)priority);
    nest_end(b, h);
    attr_u32(b, NFTA_CHAIN_POLICY, policy);
    attr_str(b, NFTA_CHAIN_TYPE, type);
    message_end(b);
}

// A rule appended to `chain`: rule_begin, its expressions, rule_end.
static struct nlattr *rule_begin(struct nft_batch *b, const char *chain, const char *step) {
    object_begin(b, NFT_MSG_NEWRULE, NLM_F_APPEND, step);
    attr_str(b, NFTA_RULE_TABLE, table_name);
    attr_str(b, NFTA_RULE_CHAIN, chain);
    return nest_begin(b, NFTA_RULE_EXPRESSIONS);
}

static void rule_end(struct nft_batch *b, struct nlattr *expressions) {
    nest_end(b, expressions);
    message_end(b);
}

// `meta nfproto ipv4 meta l4proto PROTO`.
static void ipv4_protocol(struct nft_batch *b, uint8_t protocol) {
    meta_load(b, NFT_META_NFPROTO);
    compare_byte(b, NFPROTO_IPV4);
    meta_load(b, NFT_META_L4PROTO);
    compare_byte(b, protocol);
}

// The two rules every filter chain starts with: `oifname "lo" accept` (or iifname, `key`) and
// `ip daddr 127.0.0.0/8 accept`.
static void accept_loopback(struct nft_batch *b, const char *chain, uint32_t key, const char *interface_step, const char *address_step) {
    struct nlattr *r = rule_begin(b, chain, interface_step);
    interface_is_loopback(b, key);
    verdict(b, NF_ACCEPT);
    rule_end(b, r);
    r = rule_begin(b, chain, address_step);
    ipv4_to_loopback(b);
    verdict(b, NF_ACCEPT);
    rule_end(b, r);
}

// `[meta KEY VALUE] counter name COUNTER drop` (no match when `has_value` is 0).
static void count_and_drop(struct nft_batch *b, const char *chain, const char *step, const char *counter, uint32_t key, int has_value, uint8_t value) {
    struct nlattr *r = rule_begin(b, chain, step);
    if (has_value) {
        meta_load(b, key);
        compare_byte(b, value);
    }
    count_in(b, counter);
    verdict(b, NF_DROP);
    rule_end(b, r);
}

// `notrack`: an expression without data.
static void no_tracking(struct nft_batch *b) {
    struct nlattr *d, *e = expr_begin(b, "notrack", &d);
    expr_end(b, e, d);
}

// `oifname "lo" tcp PORTFIELD PORT notrack` (`offset` 0: sport, 2: dport).
static void untrack_loopback_port(struct nft_batch *b, const char *step, uint32_t offset, uint16_t port) {
    struct nlattr *r = rule_begin(b, "untracked", step);
    interface_is_loopback(b, NFT_META_OIFNAME);
    meta_load(b, NFT_META_L4PROTO);
    compare_byte(b, IPPROTO_TCP);
    payload_load(b, NFT_PAYLOAD_TRANSPORT_HEADER, offset, 2);
    uint16_t be = htons(port);
    compare(b, NFT_CMP_EQ, &be, sizeof be);
    no_tracking(b);
    rule_end(b, r);
}

static void build(struct nft_batch *b, uint16_t relay_port, uint16_t proxy_port, uint16_t dns_port, uint16_t sink_port) {
    struct nlattr *r;
    message_begin(b, NFNL_MSG_BATCH_BEGIN, 0, AF_UNSPEC, NULL);
    message_end(b);

    // Exclusive: a table left in this namespace is an error, never added to.
    object_begin(b, NFT_MSG_NEWTABLE, NLM_F_EXCL, "create table inet cordon");
    attr_str(b, NFTA_TABLE_NAME, table_name);
    message_end(b);
    counter_object(b, "dropped_ipv6", "create counter dropped_ipv6");
    counter_object(b, "dropped_icmp", "create counter dropped_icmp");
    counter_object(b, "dropped_other", "create counter dropped_other");

    // chain untracked: the explicit proxy's loopback connections (never redirected) skip
    // connection tracking: no table entry per connection, no lookups per packet.
    base_chain(b, "untracked", "filter", NF_INET_LOCAL_OUT, -300 /* raw: before conntrack (-200) */, NF_ACCEPT, "create chain untracked (type filter hook output priority raw)");
    untrack_loopback_port(b, "untracked: proxy port, to it", 2, proxy_port);
    untrack_loopback_port(b, "untracked: proxy port, from it", 0, proxy_port);

    // chain capture: TCP to the relay, UDP 53 to the DNS stub, other UDP to the sink.
    base_chain(b, "capture", "nat", NF_INET_LOCAL_OUT, -100, NF_ACCEPT, "create chain capture (type nat hook output)");
    r = rule_begin(b, "capture", "capture: oifname lo return");
    interface_is_loopback(b, NFT_META_OIFNAME);
    verdict(b, NFT_RETURN);
    rule_end(b, r);
    r = rule_begin(b, "capture", "capture: TCP redirect to the relay");
    ipv4_protocol(b, IPPROTO_TCP);
    redirect(b, relay_port);
    rule_end(b, r);
    r = rule_begin(b, "capture", "capture: UDP 53 redirect to the DNS stub");
    ipv4_protocol(b, IPPROTO_UDP);
    payload_load(b, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
    uint16_t dns = htons(53);
    compare(b, NFT_CMP_EQ, &dns, sizeof dns);
    redirect(b, dns_port);
    rule_end(b, r);
    r = rule_begin(b, "capture", "capture: UDP redirect to the sink");
    ipv4_protocol(b, IPPROTO_UDP);
    redirect(b, sink_port);
    rule_end(b, r);

    // chain guard: only loopback leaves; IPv6, ICMP and the rest are counted and dropped.
    base_chain(b, "guard", "filter", NF_INET_LOCAL_OUT, 0, NF_DROP, "create chain guard (type filter hook output)");
    accept_loopback(b, "guard", NFT_META_OIFNAME, "guard: oifname lo accept", "guard: ip daddr 127.0.0.0/8 accept");
    count_and_drop(b, "guard", "guard: IPv6 counted and dropped", "dropped_ipv6", NFT_META_NFPROTO, 1, NFPROTO_IPV6);
    count_and_drop(b, "guard", "guard: ICMP counted and dropped", "dropped_icmp", NFT_META_L4PROTO, 1, IPPROTO_ICMP);
    count_and_drop(b, "guard", "guard: ICMPv6 counted and dropped", "dropped_icmp", NFT_META_L4PROTO, 1, IPPROTO_ICMPV6);
    count_and_drop(b, "guard", "guard: the rest counted and dropped", "dropped_other", 0, 0, 0);

    // chain inbound: loopback, and replies to what was let out.
    base_chain(b, "inbound", "filter", NF_INET_LOCAL_IN, 0, NF_DROP, "create chain inbound (type filter hook input)");
    accept_loopback(b, "inbound", NFT_META_IIFNAME, "inbound: iifname lo accept", "inbound: ip daddr 127.0.0.0/8 accept");
    r = rule_begin(b, "inbound", "inbound: ct state established,related accept");
    established_or_related(b);
    verdict(b, NF_ACCEPT);
    rule_end(b, r);
    count_and_drop(b, "inbound", "inbound: the rest counted and dropped", "dropped_other", 0, 0, 0);

    message_begin(b, NFNL_MSG_BATCH_END, 0, AF_UNSPEC, NULL);
    message_end(b);
}

// Waits for every acknowledgement; the first error (the batch is then not applied) wins.
static int await_acknowledgements(int fd, const struct nft_batch *b, const char **failed_step) {
    char reply[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
    int acknowledged = 0;
    while (acknowledged < b->count) {
        ssize_t n;
        do { n = recv(fd, reply, sizeof reply, 0); } while (n < 0 && errno == EINTR);
        if (n < 0) return errno == EAGAIN ? -ETIMEDOUT : -errno;
        if (n == 0) return -EIO;
        int len = (int)n;
        for (struct nlmsghdr *h = (struct nlmsghdr *)reply; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) return -EIO;
            const struct nlmsgerr *e = NLMSG_DATA(h);
            uint32_t index = h->nlmsg_seq - b->first_seq;
            if (e->error != 0) {
                if (index < (uint32_t)b->count) *failed_step = b->steps[index];
                return e->error;
            }
            acknowledged++;
        }
    }
    return 0;
}

int ccordon_capture_rules(uint16_t relay_port, uint16_t proxy_port, uint16_t dns_port, uint16_t sink_port, const char **failed_step) {
    *failed_step = "build the rules";
    struct nft_batch *b = calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    *failed_step = "open a netfilter netlink socket";
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
    if (fd < 0) {
        int e = errno;
        free(b);
        return -e;
    }
    struct timeval timeout = {.tv_sec = 5};
    struct sockaddr_nl local = {.nl_family = AF_NETLINK};
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 || bind(fd, (struct sockaddr *)&local, sizeof local) != 0) {
        rc = -errno;
        goto done;
    }
    b->first_seq = 1;
    *failed_step = "the relay, proxy, DNS and sink ports must all differ";
    if (proxy_port == relay_port || proxy_port == dns_port || proxy_port == sink_port || relay_port == dns_port || relay_port == sink_port) {
        rc = -EINVAL;  // the proxy's port must not be a redirect target: its flows go untracked
        goto done;
    }
    build(b, relay_port, proxy_port, dns_port, sink_port);
    *failed_step = "build the rules";
    if (b->overflow) {
        rc = -E2BIG;
        goto done;
    }
    *failed_step = "send the rules";
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    ssize_t n;
    do { n = sendto(fd, b->bytes, b->len, 0, (struct sockaddr *)&kernel, sizeof kernel); } while (n < 0 && errno == EINTR);
    if (n < 0) {
        rc = -errno;
        goto done;
    }
    if ((size_t)n != b->len) {
        rc = -EIO;
        goto done;
    }
    *failed_step = "wait for the kernel's answer";
    rc = await_acknowledgements(fd, b, failed_step);
    if (rc == 0) *failed_step = NULL;
done:
    close(fd);
    free(b);
    return rc;
}
