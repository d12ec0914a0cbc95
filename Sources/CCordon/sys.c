#include "ccordon.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/capability.h>
#include <net/if.h>
#include <seccomp.h>
#include <linux/audit.h>
#include <linux/falloc.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <sched.h>
#include <termios.h>
#include <unistd.h>

int ccordon_unshare(uint64_t flags) { return unshare((int)flags) == 0 ? 0 : -errno; }

int ccordon_pivot_root(const char *new_root, const char *put_old) {
    return syscall(SYS_pivot_root, new_root, put_old) == 0 ? 0 : -errno;
}

int ccordon_set_no_new_privs(void) { return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 ? 0 : -errno; }
int ccordon_set_pdeathsig(int sig) { return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0 ? 0 : -errno; }
int ccordon_set_dumpable(int value) { return prctl(PR_SET_DUMPABLE, value, 0, 0, 0) == 0 ? 0 : -errno; }
int ccordon_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno; }

#ifndef SECBIT_NOROOT
#define SECBIT_NOROOT (1 << 0)
#define SECBIT_NOROOT_LOCKED (1 << 1)
#define SECBIT_NO_SETUID_FIXUP (1 << 2)
#define SECBIT_NO_SETUID_FIXUP_LOCKED (1 << 3)
#define SECBIT_KEEP_CAPS_LOCKED (1 << 5)
#define SECBIT_NO_CAP_AMBIENT_RAISE (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

int ccordon_drop_all_capabilities(void) {
    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f) {
        if (fscanf(f, "%d", &last) != 1) last = CAP_LAST_CAP;
        fclose(f);
    }
    for (int cap = 0; cap <= last; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return -errno;
    // Root inside gets no capabilities back through execve.
    int bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
               SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) return -errno;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capset, &hdr, data) != 0) return -errno;
    return 0;
}

int ccordon_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : -errno;
}

int ccordon_loopback_up(void) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    int e = errno;
    close(fd);
    return rc == 0 ? 0 : -e;
}

int ccordon_set_controlling_tty(int fd) { return ioctl(fd, TIOCSCTTY, 0) == 0 ? 0 : -errno; }

int ccordon_mount_flags(const char *path, unsigned long *flags) {
    struct statvfs s;
    if (statvfs(path, &s) != 0) return -errno;
    unsigned long f = 0;
    if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
    if (s.f_flag & ST_NODEV) f |= MS_NODEV;
    if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
    if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
    if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
    if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
    if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
    *flags = f;
    return 0;
}

int ccordon_remount_readonly(const char *path, unsigned long extra_flags) {
    unsigned long current = 0;
    int rc = ccordon_mount_flags(path, &current);
    if (rc != 0) return rc;
    unsigned long flags = MS_BIND | MS_REMOUNT | MS_RDONLY | current | extra_flags;
    return mount("none", path, NULL, flags, NULL) == 0 ? 0 : -errno;
}

// ---- Landlock (structures defined here: Debian 12's headers predate ABI 4+) ----

#define LL_CREATE_RULESET_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1

#define LL_FS_EXECUTE (1ULL << 0)
#define LL_FS_WRITE_FILE (1ULL << 1)
#define LL_FS_READ_FILE (1ULL << 2)
#define LL_FS_READ_DIR (1ULL << 3)
#define LL_FS_REMOVE_DIR (1ULL << 4)
#define LL_FS_REMOVE_FILE (1ULL << 5)
#define LL_FS_MAKE_CHAR (1ULL << 6)
#define LL_FS_MAKE_DIR (1ULL << 7)
#define LL_FS_MAKE_REG (1ULL << 8)
#define LL_FS_MAKE_SOCK (1ULL << 9)
#define LL_FS_MAKE_FIFO (1ULL << 10)
#define LL_FS_MAKE_BLOCK (1ULL << 11)
#define LL_FS_MAKE_SYM (1ULL << 12)
#define LL_FS_REFER (1ULL << 13)
#define LL_FS_TRUNCATE (1ULL << 14)
#define LL_FS_IOCTL_DEV (1ULL << 15)
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL (1ULL << 1)

struct ll_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};

struct ll_path_beneath_attr {
    uint64_t allowed_access;
    int32_t parent_fd;
} __attribute__((packed));

int ccordon_landlock_abi(void) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LL_CREATE_RULESET_VERSION);
    return abi < 0 ? 0 : (int)abi;
}

static int add_path_rule(int ruleset, const char *path, uint64_t access) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? 0 : -errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
        // Directory-only rights are invalid on files.
        access &= LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV;
    }
    struct ll_path_beneath_attr rule = {.allowed_access = access, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &rule, 0);
    int e = errno;
    close(fd);
    return rc == 0 ? 0 : -e;
}

int ccordon_landlock_apply(const char *const *writable, int writable_count, const char *const *write_files, int write_files_count) {
    int abi = ccordon_landlock_abi();
    if (abi < 1) return -EOPNOTSUPP;
    uint64_t read = LL_FS_EXECUTE | LL_FS_READ_FILE | LL_FS_READ_DIR;
    uint64_t write = LL_FS_WRITE_FILE | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_CHAR | LL_FS_MAKE_DIR |
                     LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_BLOCK | LL_FS_MAKE_SYM;
    if (abi >= 2) write |= LL_FS_REFER;
    if (abi >= 3) write |= LL_FS_TRUNCATE;
    uint64_t ioctl_dev = abi >= 5 ? LL_FS_IOCTL_DEV : 0;
    struct ll_ruleset_attr attr = {.handled_access_fs = read | write | ioctl_dev, .handled_access_net = 0, .scoped = 0};
    if (abi >= 6) attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
    size_t size = abi >= 6 ? sizeof attr : (abi >= 4 ? 16 : 8);
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (ruleset < 0) return -errno;
    int rc = add_path_rule(ruleset, "/", read);
    // Device ioctls (terminals) only under /dev.
    if (rc == 0 && ioctl_dev) rc = add_path_rule(ruleset, "/dev", read | ioctl_dev);
    for (int i = 0; rc == 0 && i < writable_count; i++) rc = add_path_rule(ruleset, writable[i], read | write | ioctl_dev);
    uint64_t file_write = LL_FS_WRITE_FILE | (abi >= 3 ? LL_FS_TRUNCATE : 0);
    for (int i = 0; rc == 0 && i < write_files_count; i++) rc = add_path_rule(ruleset, write_files[i], read | file_write | ioctl_dev);
    if (rc == 0 && syscall(SYS_landlock_restrict_self, ruleset, 0) != 0) rc = -errno;
    close(ruleset);
    return rc == 0 ? abi : rc;
}

// ---- seccomp ----

// personality(2): only the query (0xffffffff) and the default persona (0). libseccomp cannot
// express "neither of two values" in one rule, so this is a second, stacked raw filter.
static int install_personality_filter(void) {
    struct sock_filter code[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // foreign arches: the main filter denies
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_personality, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xffffffffU, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof code / sizeof code[0]), .filter = code};
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0 ? 0 : -errno;
}

#define DENY(name) do { if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(name), 0)) != 0 && rc != -EDOM && rc != -EFAULT) goto out; } while (0)

int ccordon_seccomp_install(void) {
    int rc;
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return -ENOMEM;
    // Calls from a foreign architecture (i386 via int 0x80, x32) get EPERM, not a kill.
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM))) != 0) goto out;

    DENY(mount); DENY(umount); DENY(umount2); DENY(pivot_root); DENY(chroot);
    DENY(move_mount); DENY(open_tree); DENY(fsopen); DENY(fsconfig); DENY(fsmount); DENY(fspick); DENY(mount_setattr);
    DENY(ptrace); DENY(process_vm_readv); DENY(process_vm_writev); DENY(kcmp); DENY(pidfd_getfd);
    DENY(kexec_load); DENY(kexec_file_load); DENY(reboot);
    DENY(init_module); DENY(finit_module); DENY(delete_module); DENY(create_module);
    DENY(bpf); DENY(perf_event_open); DENY(userfaultfd);
    DENY(keyctl); DENY(add_key); DENY(request_key);
    DENY(open_by_handle_at); DENY(name_to_handle_at);
    DENY(setns); DENY(swapon); DENY(swapoff); DENY(iopl); DENY(ioperm);
    DENY(acct); DENY(quotactl); DENY(quotactl_fd); DENY(lookup_dcookie);
    DENY(io_uring_setup); DENY(io_uring_enter); DENY(io_uring_register);
    DENY(syslog); DENY(vhangup); DENY(uselib); DENY(ustat); DENY(sysfs); DENY(_sysctl);
    DENY(settimeofday); DENY(clock_settime); DENY(clock_adjtime); DENY(adjtimex);
    DENY(fanotify_init); DENY(nfsservctl); DENY(get_kernel_syms); DENY(query_module); DENY(vm86); DENY(vm86old);
    DENY(migrate_pages); DENY(move_pages);
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) != 0) goto out;

    // clone/unshare with any namespace flag: one rule per flag (each rule is "flag bit set").
    const uint64_t each[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWCGROUP, 0x00000080ULL};
    for (unsigned i = 0; i < sizeof each / sizeof each[0]; i++) {
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, each[i], each[i]))) != 0) goto out;
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, each[i], each[i]))) != 0) goto out;
    }

    // fallocate allocates blocks without writing them, gigabytes in milliseconds, faster than the
    // disk watcher measures (resources.disk). Refused with EOPNOTSUPP, as by a filesystem without
    // it: glibc's posix_fallocate then writes the blocks, at the pace of real writes. Freeing
    // space (punching a hole) stays allowed.
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EOPNOTSUPP), SCMP_SYS(fallocate), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, FALLOC_FL_PUNCH_HOLE, 0))) != 0) goto out;

    // Terminal injection into whatever terminal the sandbox was handed.
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCSTI))) != 0) goto out;
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(ioctl), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, 0xffffffffULL, TIOCLINUX))) != 0) goto out;

    // Sockets: AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK only for NETLINK_ROUTE; no raw or packet types.
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_GT, AF_NETLINK))) != 0) goto out;
    for (int family = 0; family < AF_NETLINK; family++) {
        if (family == AF_UNIX || family == AF_INET || family == AF_INET6) continue;
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_EQ, family))) != 0) goto out;
    }
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_NE, NETLINK_ROUTE))) != 0) goto out;
    for (int family = AF_UNIX; family <= AF_INET6; family++) {
        if (family != AF_UNIX && family != AF_INET && family != AF_INET6) continue;
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, family), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_RAW))) != 0) goto out;
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 2, SCMP_A0(SCMP_CMP_EQ, family), SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, SOCK_PACKET))) != 0) goto out;
    }
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX))) != 0) goto out;

    rc = seccomp_load(ctx);
    if (rc == 0) rc = install_personality_filter();
out:
    seccomp_release(ctx);
    return rc;
}

// ---- The main program's relocation table, dropped once relocation is done ----

struct reloc_range {
    uintptr_t start, end;
    int found;
};

static int find_relocations(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct reloc_range *r = data;
    // The first object is the main program.
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    }
    if (!dyn) return 1;
    uintptr_t table = 0, bytes = 0;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_TEXTREL) return 1;  // relocations write into read-only segments: leave all alone
        if (dyn->d_tag == DT_RELA) table = dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_RELASZ) bytes = dyn->d_un.d_val;
    }
    if (!table || !bytes) return 1;
    // ld.so rewrites some dynamic entries to absolute addresses; an offset is below the base.
    if (table < info->dlpi_addr) table += info->dlpi_addr;
    // Only inside a segment that is never written (so no page holds anything but the file).
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *p = &info->dlpi_phdr[i];
        uintptr_t lo = info->dlpi_addr + p->p_vaddr, hi = lo + p->p_filesz;
        if (p->p_type == PT_LOAD && !(p->p_flags & PF_W) && table >= lo && table + bytes <= hi) {
            r->start = table;
            r->end = table + bytes;
            r->found = 1;
        }
    }
    return 1;
}

long ccordon_drop_relocation_table(void) {
    struct reloc_range r = {0, 0, 0};
    dl_iterate_phdr(find_relocations, &r);
    if (!r.found) return 0;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (r.start + page - 1) & ~(page - 1), end = r.end & ~(page - 1);
    if (end <= start) return 0;
    if (madvise((void *)start, end - start, MADV_DONTNEED) != 0) return -errno;
    return (long)(end - start);
}

// ---- Program code's resident pages, dropped once a long-lived process is idle ----

long ccordon_drop_program_text(void) {
    FILE *smaps = fopen("/proc/self/smaps", "re");
    if (!smaps) return -errno;
    char line[4096];
    unsigned long start = 0, end = 0;
    int candidate = 0;
    long dropped = 0;
    while (fgets(line, sizeof line, smaps)) {
        unsigned long lo, hi;
        char perms[8];
        int path = 0;
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &lo, &hi, perms, &path) == 3) {
            // A mapping's header: program code is r-xp with a file's path.
            candidate = strcmp(perms, "r-xp") == 0 && path > 0 && line[path] == '/';
            start = lo;
            end = hi;
            continue;
        }
        unsigned long anonymous;
        if (candidate && sscanf(line, "Anonymous: %lu kB", &anonymous) == 1) {
            candidate = 0;
            // A page of its own (written: a text relocation, a debugger's breakpoint, a uprobe)
            // would be lost: such a mapping stays as it is.
            if (anonymous != 0) continue;
            if (madvise((void *)start, end - start, MADV_DONTNEED) == 0) dropped += (long)(end - start);
        }
    }
    fclose(smaps);
    return dropped;
}
