/// A C program run inside the sandbox: it attempts each call the seccomp filter (and the dropped
/// capabilities) must refuse and prints `name=errno` per line (0 = the call succeeded).
enum AttackProgram {
    static let source = #"""
        #define _GNU_SOURCE
        #include <errno.h>
        #include <stdio.h>
        #include <string.h>
        #include <unistd.h>
        #include <sched.h>
        #include <signal.h>
        #include <sys/ioctl.h>
        #include <sys/socket.h>
        #include <sys/syscall.h>
        #include <linux/netlink.h>
        #include <sys/personality.h>
        #include <sys/mount.h>
        #include <netinet/in.h>

        static void report(const char *name, long rc) { printf("%s=%d\n", name, rc < 0 ? errno : 0); fflush(stdout); }
        static void sock(const char *name, int domain, int type, int proto) {
            int fd = socket(domain, type, proto);
            report(name, fd);
            if (fd >= 0) close(fd);
        }

        int main(void) {
            report("mount", mount("tmpfs", "/tmp", "tmpfs", 0, NULL));
            report("umount2", umount2("/workspace", MNT_DETACH));
            report("pivot_root", syscall(SYS_pivot_root, "/tmp", "/tmp"));
            report("chroot", chroot("/tmp"));
            report("ptrace_attach_pid1", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
            report("process_vm_readv", syscall(SYS_process_vm_readv, 1, NULL, 0, NULL, 0, 0));
            report("init_module", syscall(SYS_init_module, NULL, 0, ""));
            report("finit_module", syscall(SYS_finit_module, 0, "", 0));
            report("delete_module", syscall(SYS_delete_module, "ext4", 0));
            report("bpf", syscall(SYS_bpf, 0, NULL, 0));
            report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
            report("keyctl", syscall(SYS_keyctl, 0, 0, 0, 0, 0));
            report("add_key", syscall(SYS_add_key, "user", "x", "y", 1, -2));
            report("request_key", syscall(SYS_request_key, "user", "x", NULL, 0));
            report("userfaultfd", syscall(SYS_userfaultfd, 0));
            report("open_by_handle_at", syscall(SYS_open_by_handle_at, 0, NULL, 0));
            report("name_to_handle_at", syscall(SYS_name_to_handle_at, 0, "/", NULL, NULL, 0));
            report("setns", syscall(SYS_setns, 0, 0));
            report("unshare_user", unshare(CLONE_NEWUSER));
            report("unshare_net", unshare(CLONE_NEWNET));
            report("clone_newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
            report("clone3", syscall(SYS_clone3, NULL, 0));
            report("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0));
            report("reboot", syscall(SYS_reboot, 0, 0, 0, NULL));
            report("swapon", syscall(SYS_swapon, "/tmp/x", 0));
            report("iopl", syscall(SYS_iopl, 3));
            report("ioperm", syscall(SYS_ioperm, 0, 8, 1));
            report("acct", syscall(SYS_acct, NULL));
            report("quotactl", syscall(SYS_quotactl, 0, NULL, 0, NULL));
            report("lookup_dcookie", syscall(SYS_lookup_dcookie, 0, NULL, 0));
            report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
            report("personality_change", syscall(SYS_personality, 0x0040000 /* ADDR_NO_RANDOMIZE */));
            report("personality_query", syscall(SYS_personality, 0xffffffffUL));
            report("tiocsti", ioctl(0, TIOCSTI, "x"));
            sock("socket_packet", AF_PACKET, SOCK_RAW, 0);
            sock("socket_inet_raw", AF_INET, SOCK_RAW, IPPROTO_ICMP);
            sock("socket_inet6_raw", AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
            sock("socket_netlink_xfrm", AF_NETLINK, SOCK_RAW, 6 /* NETLINK_XFRM */);
            sock("socket_netlink_audit", AF_NETLINK, SOCK_RAW, 9 /* NETLINK_AUDIT */);
            sock("socket_bluetooth", 31, SOCK_STREAM, 0);
            sock("socket_vsock", 40, SOCK_STREAM, 0);
            sock("socket_alg", 38, SOCK_SEQPACKET, 0);
            sock("socket_netlink_route", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
            sock("socket_inet_stream", AF_INET, SOCK_STREAM, 0);
            sock("socket_unix", AF_UNIX, SOCK_STREAM, 0);
            report("x32_getpid", syscall(0x40000000 | 39));
            long r32;
            __asm__ volatile("int $0x80" : "=a"(r32) : "a"(20 /* i386 getpid */) : "memory");
            errno = r32 < 0 ? (int)-r32 : 0;
            report("int80_getpid", r32 < 0 ? -1 : 0);
            return 0;
        }
        """#
}
