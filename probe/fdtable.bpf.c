/* The task's own file table: the file behind an fd (fd_file), and what rules read about an fd — its
 * type, and for a socket its family, type, protocol and both ends — read at the event (fd_describe).
 * A record that carries its fd's description needs no record before it to have left the kernel: the
 * kernel is the fd table, user space's is a cache. The code needs the running kernel's offsets
 * (OFF_TASK_FILES ..., and OFF_SK_* for sockets: src/tiercel/probe/btf.py). */

#ifdef OFF_TASK_FILES
/* Two 8-aligned fields of one struct, `a` and `b` bytes into it, with one helper call when they lie
 * within 64 bytes of each other (the offsets are constants: the other way is compiled out). Helper
 * calls are most of what the inode walk costs. */
static __always_inline void read_pair(__u64 base, __u32 a, __u32 b, __u64 *va, __u64 *vb)
{
    __u32 lo = a < b ? a : b, hi = a < b ? b : a;
    if (hi - lo < 64 && !((hi - lo) & 7)) {
        __u64 buf[8] = {};
        bpf_probe_read_kernel(buf, hi - lo + 8, (void *)(base + lo));
        *va = buf[((a - lo) / 8) & 7];
        *vb = buf[((b - lo) / 8) & 7];
    } else {
        bpf_probe_read_kernel(va, 8, (void *)(base + a));
        bpf_probe_read_kernel(vb, 8, (void *)(base + b));
    }
}

/* The struct file of the current task's fd `fd`, or 0 when it is not open. */
static __always_inline __u64 fd_file(long fd)
{
    __u64 fda = 0, file = 0, max = 0;
#ifdef EXIT_ONLY
    /* loads through the task's BTF pointer as far as the types lead (the fd array holds plain
     * pointers: helper reads from there) */
    char *task = ((void *(*)(void))158)();
    char *files = *(char **)(task + OFF_TASK_FILES);
    if (!files)
        return 0;
    char *fdt = *(char **)(files + OFF_FILES_FDT);
    if (!fdt)
        return 0;
    max = *(__u32 *)(fdt + OFF_FDT_MAX_FDS);
    fda = *(__u64 *)(fdt + OFF_FDT_FD);
#else
    __u64 task = bpf_get_current_task(), files = 0, fdt = 0;
    bpf_probe_read_kernel(&files, sizeof(files), (void *)(task + OFF_TASK_FILES));
    if (files)
        bpf_probe_read_kernel(&fdt, sizeof(fdt), (void *)(files + OFF_FILES_FDT));
    if (!fdt)
        return 0;
    read_pair(fdt, OFF_FDT_MAX_FDS, OFF_FDT_FD, &max, &fda);   /* max_fds: an unsigned int */
#endif
    if (fd < 0 || fd >= (__u32)max)
        return 0;
    bpf_probe_read_kernel(&file, sizeof(file), (void *)(fda + fd * 8));
    return file;
}

#ifdef OFF_SK_FAMILY
#define FD_DESCRIBED
/* struct sock * -> enum sock_role, set at every successful connect, accept, bind and listen whether or
 * not its record leaves the kernel */
BPF_TABLE("lru_hash", __u64, __u8, sk_roles, 65536);
#define FD_S_IFMT 0170000
#define FD_S_IFSOCK 0140000
#define FD_AF_INET 2
#define FD_AF_INET6 10

/* The struct sock of the current task's fd `fd` when it is a socket, else 0. */
static __always_inline __u64 fd_sock(long fd)
{
    __u64 file = fd_file(fd), sock = 0, sk = 0;
    if (file)
        bpf_probe_read_kernel(&sock, sizeof(sock), (void *)(file + OFF_FILE_PRIVATE));
    if (sock)
        bpf_probe_read_kernel(&sk, sizeof(sk), (void *)(sock + OFF_SOCKET_SK));
    return sk;
}

/* Remember which end the socket of `fd` is: called for every record of a call that decides it. A
 * file's private_data is no socket: only socket calls get here, and they fail on anything else. */
static __always_inline void fd_set_role(long fd, __u8 role)
{
    __u64 sk = fd_sock(fd);
    if (sk)
        sk_roles.update(&sk, &role);
}

/* rec->fdi for the current task's fd `fd`: 1 when it is open. skc_daddr/skc_rcv_saddr and
 * skc_dport/skc_num lie side by side in the kernel's sock_common: one read each pair. */
static __always_inline int fd_describe(struct rec_syscall *rec, long fd)
{
    struct fd_info *fi = &rec->fdi;
    __builtin_memset(fi, 0, sizeof(*fi));
    __u64 file = fd_file(fd), inode = 0, sock = 0, sk = 0;
    if (!file)
        return 0;
    fi->fd = fd;
    bpf_probe_read_kernel(&inode, sizeof(inode), (void *)(file + OFF_FILE_INODE));
    if (inode)
        bpf_probe_read_kernel(&fi->mode, sizeof(fi->mode), (void *)(inode + OFF_INODE_MODE));
    if ((fi->mode & FD_S_IFMT) != FD_S_IFSOCK)
        return 1;
    bpf_probe_read_kernel(&sock, sizeof(sock), (void *)(file + OFF_FILE_PRIVATE));
    if (sock)
        bpf_probe_read_kernel(&sk, sizeof(sk), (void *)(sock + OFF_SOCKET_SK));
    if (!sk)
        return 1;
    __u8 *role = sk_roles.lookup(&sk);
    if (role)
        fi->role = *role;
    bpf_probe_read_kernel(&fi->family, sizeof(fi->family), (void *)(sk + OFF_SK_FAMILY));
    bpf_probe_read_kernel(&fi->type, sizeof(fi->type), (void *)(sk + OFF_SK_TYPE));
    bpf_probe_read_kernel(&fi->proto, sizeof(fi->proto), (void *)(sk + OFF_SK_PROTOCOL));
    __u16 ports[2] = {};            /* skc_dport (network order), skc_num (host order) */
    bpf_probe_read_kernel(ports, sizeof(ports), (void *)(sk + OFF_SK_DPORT));
    fi->rport = (__u16)((ports[0] >> 8) | (ports[0] << 8));
    fi->lport = ports[1];
    if (fi->family == FD_AF_INET) {
        __u32 addrs[2] = {};        /* skc_daddr, skc_rcv_saddr */
        bpf_probe_read_kernel(addrs, sizeof(addrs), (void *)(sk + OFF_SK_DADDR));
        __builtin_memcpy(fi->raddr, &addrs[0], 4);
        __builtin_memcpy(fi->laddr, &addrs[1], 4);
    } else if (fi->family == FD_AF_INET6) {
        bpf_probe_read_kernel(fi->raddr, 16, (void *)(sk + OFF_SK_V6_DADDR));
        bpf_probe_read_kernel(fi->laddr, 16, (void *)(sk + OFF_SK_V6_RCV_SADDR));
        /* a dual-stack socket talking IPv4 (both ends ::ffff:a.b.c.d, or unset) is an IPv4 one, as
         * libscap reports it: the rules' IPv4 networks (127.0.0.0/8 ...) must see its addresses */
        __u32 l[4], r[4];
        __builtin_memcpy(l, fi->laddr, 16);
        __builtin_memcpy(r, fi->raddr, 16);
        int lmap = !l[0] && !l[1] && l[2] == 0xffff0000, rmap = !r[0] && !r[1] && r[2] == 0xffff0000;
        int lnone = !(l[0] | l[1] | l[2] | l[3]), rnone = !(r[0] | r[1] | r[2] | r[3]);
        if ((lmap || rmap) && (lmap || lnone) && (rmap || rnone)) {
            fi->family = FD_AF_INET;
            __builtin_memset(fi->laddr, 0, 16);
            __builtin_memset(fi->raddr, 0, 16);
            __builtin_memcpy(fi->laddr, &l[3], 4);
            __builtin_memcpy(fi->raddr, &r[3], 4);
        }
    }
    return 1;
}
#endif
#endif
