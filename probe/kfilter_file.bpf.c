/* The kernel filter's file resolution: the file an open just made (kf_file), and whether it, or one of
 * its nearest directories, is a file a path test names under another name (kf_resolve, kf_names).
 * The maps are declared whatever the kernel's BTF gives (user space fills kf_inodes); the code that
 * reads kernel structs needs the offsets (OFF_TASK_FILES ...) and the file table (fdtable.bpf.c). */

/* {syscall, device, inode} of the files (and directories) the open family's path tests name, as user
 * space found them: a file opened under another name (a symlink, a hard link, a bind mount,
 * /proc/<pid>/root) is still the file a rule names. `index` names the path for user space. */
struct kf_inode_key {
    __u32 nr;
    __u32 dev;          /* the kernel's dev_t of the file's superblock */
    __u64 ino;
};
struct kf_inode_val {
    __u64 file_slots;   /* slots whose exact name is this file */
    __u64 dir_slots;    /* slots whose prefix is this directory */
    __u32 index;
    __u32 pad;
};
BPF_HASH(kf_inodes, struct kf_inode_key, struct kf_inode_val, 8192);
#define KF_RESOLVE_DEPTH 8      /* the file and its 7 nearest directories */
/* Per CPU, the last file whose walk found nothing (a storm reopens one file): the same dentry under
 * the same parent, the same inode and candidates, and kf_inodes unchanged since (kf_gen, which user
 * space bumps at each refill, every 5 s) find nothing again. A file moved to another directory has
 * another parent, so it is walked anew; a directory further up moved elsewhere is seen at the next
 * refill. */
struct kf_miss {
    __u64 dentry;
    __u64 parent;
    __u64 inode;
    __u64 cand;
    __u64 gen;
    __u32 nr;
    __u32 pad;
};
BPF_PERCPU_ARRAY(kf_miss_map, struct kf_miss, 1);
#define KF_RESOLVED (1ULL << 63)

#ifdef OFF_TASK_FILES
/* The dentry of file descriptor `fd` (just opened), its parent and its inode: 0 when fd is not open. */
static __always_inline int kf_file(long fd, __u64 *d, __u64 *parent, __u64 *inode)
{
    __u64 file = fd_file(fd);
    *d = 0;
    if (file)
        bpf_probe_read_kernel(d, sizeof(*d), (void *)(file + OFF_FILE_PATH + OFF_PATH_DENTRY));
    if (!*d)
        return 0;
    read_pair(*d, OFF_DENTRY_INODE, OFF_DENTRY_PARENT, inode, parent);
    return 1;
}

/* The slots of `cand` that the file just opened (kf_file's dentry, parent and inode) satisfies by
 * what it is rather than by the name it was opened under: the file, or one of its nearest
 * directories, is one a path test names (kf_inodes). On a hit, *found is
 * KF_RESOLVED | index << 8 | level (0: the file itself) and *leaf the file's dentry. Inodes, not
 * names, so mounts need no walking. */
static __always_inline __u64 kf_resolve(__u32 nr, __u64 cand, __u64 *file, __u64 *found, __u64 *leaf)
{
    __u64 d = file[0], parent0 = file[1], inode = file[2], sb = 0;
    __u32 dev = 0;
    __u32 zero = 0;
    struct kf_miss *miss = kf_miss_map.lookup(&zero);
    __u64 *genp = kf_gen.lookup(&zero);
    __u64 gen = genp ? *genp : 0;
    if (miss && miss->dentry == d && miss->parent == parent0 && miss->inode == inode &&
        miss->cand == cand && miss->nr == nr && miss->gen == gen)
        return 0;
    __u64 leaf0 = d, inode0 = inode;
    if (inode)
        bpf_probe_read_kernel(&sb, sizeof(sb), (void *)(inode + OFF_INODE_SB));
    if (!sb)
        return 0;
    bpf_probe_read_kernel(&dev, sizeof(dev), (void *)(sb + OFF_SB_DEV));
    struct kf_inode_key k = {.nr = nr, .dev = dev};
    *leaf = d;
    for (__u32 level = 0; level < KF_RESOLVE_DEPTH; level++) {
        if (!inode)
            break;
        bpf_probe_read_kernel(&k.ino, sizeof(k.ino), (void *)(inode + OFF_INODE_INO));
        struct kf_inode_val *v = kf_inodes.lookup(&k);
        if (v) {
            __u64 m = (level ? v->dir_slots : v->file_slots) & cand;
            if (m) {
                *found = KF_RESOLVED | (__u64)v->index << 8 | level;
                return m;
            }
        }
        __u64 parent = level ? 0 : parent0;
        if (level)
            bpf_probe_read_kernel(&parent, sizeof(parent), (void *)(d + OFF_DENTRY_PARENT));
        if (!parent || parent == d)
            break;          /* the root of its filesystem */
        d = parent;
        inode = 0;
        bpf_probe_read_kernel(&inode, sizeof(inode), (void *)(d + OFF_DENTRY_INODE));
    }
    if (miss) {
        miss->dentry = leaf0;
        miss->parent = parent0;
        miss->inode = inode0;
        miss->cand = cand;
        miss->nr = nr;
        miss->gen = gen;
    }
    return 0;
}

/* The names of a resolved file and of its directories below the one kf_resolve found, leaf first,
 * each with its NUL, into slot 1. */
static __always_inline __u32 kf_names(struct rec_syscall *rec, __u64 d, __u32 levels)
{
    __u32 off = 0;
    for (__u32 i = 0; i < KF_RESOLVE_DEPTH - 1; i++) {
        if (i >= levels || !d)
            break;
        __u64 name = 0;
        bpf_probe_read_kernel(&name, sizeof(name), (void *)(d + OFF_DENTRY_NAME + OFF_QSTR_NAME));
        long n = bpf_probe_read_kernel_str(&rec->data[SLOT1_OFF + BOUNDED(off, 2047)], 256, (void *)name);
        if (n <= 0)
            break;
        off += n;
        bpf_probe_read_kernel(&d, sizeof(d), (void *)(d + OFF_DENTRY_PARENT));
    }
    return off;
}
#endif
