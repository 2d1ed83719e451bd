/* -- The kernel-side filter: decides, before a record is built, whether any loaded rule could match it.
 *
 * User space derives the tables from the rules (src/tiercel/kfilter/derive.py) and fills these maps;
 * src/tiercel/kfilter/offline.py holds the same decision in Python (`passes`), which the tests run on
 * captures to prove the tables sound. Per syscall number, `kf_classes` holds up to 64 slots, one bit
 * each; a record passes when some slot's tests all hold:
 *   ret    success (ret >= 0) or failure                          kf_class.ret_ok / ret_fail
 *   comm   the comm at the process's last exec (exec_comm)      kf_comms[{nr, comm}] | comm_any
 *   host   the process exec'd outside any container (exec_comm)  ~not_host
 *   path   the path argument, absolute and normal              kf_paths (exact + prefix, LPM) |
 *                                                               kf_suffixes (reversed, LPM) | path_any
 *   flags  open flags: the access mode is one the slot accepts (acc_slots), or a bit it names is
 *          set (bit_slots)
 * A test that cannot be decided for a record (unknown exec comm, relative or long path) holds.
 * Here: the tables and kf_decide; the path tests, file resolution, repeat memo and tail-called
 * programs follow in kfilter_path, kfilter_file, kfilter_repeat and kfilter_exit.bpf.c.
 */

#define KF_PATH_MAX 240         /* src/tiercel/probe/filtertables.py PATH_MAX_K */
#define KF_KEY_DATA 244         /* 2 bytes of syscall number, the path, its NUL, padding */
#define KF_SLOTS 64
#define KF_NEEDLES 4            /* src/tiercel/probe/filtertables.py MAX_NEEDLES; each two bytes */
#define KF_O_DIRECTORY 0200000
#define KF_O_PATH 010000000

struct kf_class {
    __u8 mode;          /* 0: every record passes; 1: filtered */
    __u8 state;         /* enum rec_class of the records that pass: CLASS_PROC, the process state needs
                         * them all; CLASS_FD, the fd state; CLASS_RULE otherwise */
    __u8 path_slot;     /* 0: string slot 0 holds the path fd.name is made from; 0xff: none */
    __u8 flags_arg;     /* argument index of open flags; 0xff: none */
    __u8 has_comm;      /* some slot tests the exec comm */
    __u8 fd_result;     /* ret is a new fd the state keeps: known fd numbers pass (known_fds) */
    __u8 fd_close;      /* close: closing a known fd passes */
    __u8 fd_track;      /* a passing record's new fd becomes known */
    __u8 coalesce;      /* identical records of a thread within COALESCE_NS become one, counted */
    __u8 enum_arg;      /* argument index of a value tested against sets (kf_enums); 0xff: none */
    __u8 resolve;       /* open family: a file its path test missed may still be one a slot names,
                         * reached through a link (kf_inodes) */
    __u8 sock_test;     /* some slot tests the socket's server port or its kind (sock_values) */
    __u8 pad[4];
    __u64 all;          /* bits of the slots in use */
    __u64 ret_ok;
    __u64 ret_fail;
    __u64 comm_any;
    __u64 path_any;
    __u64 needle_any;   /* slots with no needle test */
    __u64 enum_any;     /* slots with no value-set test */
    __u64 needle[KF_NEEDLES];       /* the needle's two bytes, first byte lowest */
    __u64 needle_slots[KF_NEEDLES]; /* slots whose test holds when the path contains it */
    __u64 acc_slots[4];     /* by access mode (flags & 3): slots whose flags test it satisfies */
    __u64 bit_slots[32];    /* by flag bit: slots whose flags test holds when it is set */
    __u32 bits_used;        /* the bits some slot's test names */
    __u8 needle_len[KF_NEEDLES];
    __u64 port_any;         /* slots with no test of the server port (fd.sport) */
    __u64 kind_any;         /* slots with no test of the socket's kind (family and l4proto) */
    __u64 not_local;        /* slots that cannot hold when the server address (fd.sip) is an IPv4
                             * loopback or 0.0.0.0 (sock_values: KF_SOCK_LOCAL) */
    __u64 not_local6;       /* ... is ::1 or :: */
    __u64 not_host;         /* slots that cannot hold for a process on the host (exec_comm.host):
                             * their rule asks for a container */
};

struct kf_path_key {
    __u32 prefixlen;    /* in bits, over data */
    __u8 data[KF_KEY_DATA];
};

struct kf_comm_key {
    __u32 nr;
    char comm[16];
};

struct kf_enum_key {
    __u32 nr;
    __u32 dim;          /* KF_DIM_*: what the value is */
    __u64 value;
};
#define KF_DIM_ARG 0        /* the class's enum_arg argument */
#define KF_DIM_PORT 1       /* a socket's server port (fd.sport), from the kernel (fd_describe) */
#define KF_DIM_KIND 2       /* a socket's kind: family << 8 | l4 code (sock_kind) */
#define KF_SOCK_VALID (1ULL << 62)  /* args[6] (port), args[7] (kind): the kernel told the value */
#define KF_SOCK_LOCAL (1ULL << 61)  /* args[7]: the server address is 127.0.0.0/8, ::1, 0.0.0.0 or :: */

struct kf_comm {
    char comm[16];
    __u8 host;          /* 1: the cgroup the process exec'd in names no container (lifecycle:
                         * cgroup_names_host), so user space has it on the host (container.id host) */
    __u8 pad[7];
};

struct kf_scratch {
    __u64 tmp[32];      /* the path as read */
    __u64 rtmp[32];     /* its words reversed */
    struct kf_path_key fwd;
    struct kf_path_key rev;
    struct kf_comm_key comm;
    __u64 args[8];      /* a decision left to kf_path_exit: the record's arguments (6, and 2 zero), */
    __u64 cand;         /* the slots still holding, each waiting on its needle test, */
    __u32 words;        /* the path's words in tmp (0: the path was not judged), */
    __u32 nr;           /* and its syscall; */
    __u32 passes;       /* 1: the record passes already (kf_path_exit only resolves its file) */
    __u32 len;          /* the path's length (kf_path_mask) */
    __u64 gen;          /* kf_gen and kf_fdgen when sys_exit began deciding (kf_repeat) */
    __u64 fdgen;
    __u64 file[3];      /* the opened file's dentry, its parent and inode (kf_file) */
    __u32 file_ok;      /* 1: kf_file read them */
    __u32 hexrun;       /* cgroup_names_host's count of hex digits in a row */
    __u8 spare[256];    /* masked offsets into fwd/rev stay inside the value */
};

BPF_ARRAY(kf_classes, struct kf_class, 512);
BPF_F_TABLE("lpm_trie", struct kf_path_key, __u64, kf_paths, 16384, BPF_F_NO_PREALLOC);
BPF_F_TABLE("lpm_trie", struct kf_path_key, __u64, kf_suffixes, 16384, BPF_F_NO_PREALLOC);
BPF_HASH(kf_comms, struct kf_comm_key, __u64, 16384);
/* {syscall, argument value} -> the slots whose value set holds it (e.g. ptrace's request) */
BPF_HASH(kf_enums, struct kf_enum_key, __u64, 4096);
/* tgid -> the comm it had right after its last exec, or its parent's (tiercel's proc.name) */
BPF_TABLE("lru_hash", __u32, struct kf_comm, exec_comm, 65536);
BPF_PERCPU_ARRAY(kf_scratch_map, struct kf_scratch, 1);
/* [0] kf_path_exit, [1] kf_emit_exit, set by the loader */
BPF_PROG_ARRAY(kf_tail, 2);
/* {tgid, fd} of fds user space holds in its fd table (set when such a record passes, and by user
 * space for the fds it read from /proc): a filtered open that reuses one of these numbers must still
 * reach user space, or its table would keep the old entry. A close that reaches user space removes
 * its entry, as user space does for the fds of a process that exits: without that the LRU would
 * evict entries still needed on a busy host (an entry kept too long only lets more through). */
BPF_TABLE("lru_hash", __u64, __u8, known_fds, 262144);
/* KF_INHERIT_FDS (set by the loader, filtermaps.INHERIT_FDS): fd numbers below it are copied to a
 * child at fork in the kernel (sched_process_fork), the others by user space */
/* Counters bumped at each change of what a decision remembered under them read: a decision made
 * under older values may not hold any more. Each has one writer: user space cannot add atomically,
 * and a read-modify-write of a counter the probe also bumps could take it back to a value a stale
 * decision was made under. */
BPF_ARRAY(kf_gen, __u64, 1);        /* user space: it has changed a filter table (kf_classes, the
                                     * tries, kf_comms, kf_enums, kf_inodes) or known_fds */
BPF_ARRAY(kf_fdgen, __u64, 1);      /* the probe: an fd number has become known (known_fds) */

/* [0] records the filter kept in the kernel after judging them, [1] records it let through, [2]
 * records coalesced into a previous identical one (reported with the thread's next record or its
 * exit), [3] records kept in the kernel as repeats of the open before them (kf_repeat) */
BPF_PERCPU_ARRAY(kf_counts, __u64, 4);

static __always_inline void kf_count(__u32 i)
{
    __u64 *n = kf_counts.lookup(&i);
    if (n)
        *n += 1;
}

static __always_inline __u64 kf_arg(__u64 *args, __u8 i)
{
    switch (i) {
    case 0: return args[0];
    case 1: return args[1];
    case 2: return args[2];
    case 3: return args[3];
    case 4: return args[4];
    default: return args[5];
    }
}

#define KF_PATH_PENDING 2

#ifdef FD_DESCRIBED
/* A socket's kind as the filter tests it: its family (unix, inet, inet6, netlink; any other 0) << 8 |
 * its l4 code (0 none, 1 tcp, 2 udp, 3 raw, 4 icmp), as events/model.py KernelFd.l4proto reads fd.l4proto:
 * only an inet socket with an end (bound, connected, accepted) has one. */
static __always_inline __u64 sock_kind(struct fd_info *fi)
{
    __u16 f = fi->family;
    __u64 fam = (f == 1 || f == 2 || f == 10 || f == 16) ? f : 0, l4 = 0;
    if ((f == 2 || f == 10) && (fi->lport || fi->rport)) {
        if (fi->type == 3)
            l4 = 3;
        else if (fi->proto == 6)
            l4 = 1;
        else if (fi->proto == 17)
            l4 = 2;
        else if (fi->proto == 1 || fi->proto == 58)
            l4 = 4;
        else if (fi->type == 1)
            l4 = 1;
        else if (fi->type == 2)
            l4 = 2;
    }
    return fam << 8 | l4;
}

/* args[6] and args[7] for kf_decide's socket tests: the socket's server port (fd.sport: the local
 * port of a server's end, the remote one of a client's) and its kind, each with KF_SOCK_VALID when
 * the kernel tells it. An end the kernel has not got yet (a failed connect) is left untold. */
static __always_inline void sock_values(long ret, struct shape *sh, __u64 *args)
{
    __u32 zero = 0;
    struct rec_syscall *rec = scratch.lookup(&zero);
    __u8 fa = sh->fd;
    if (!rec || fa == SHAPE_NONE || (fa == SHAPE_RET && ret < 0))
        return;
    if (!fd_describe(rec, fa == SHAPE_RET ? ret : (long)(int)kf_arg(args, fa)))
        return;
    struct fd_info *fi = &rec->fdi;
    if ((fi->mode & FD_S_IFMT) != FD_S_IFSOCK)
        return;
    args[7] = KF_SOCK_VALID | sock_kind(fi);
    __u16 port = fi->role == ROLE_SERVER ? fi->lport : fi->role == ROLE_CLIENT ? fi->rport : 0;
    if (port)
        args[6] = KF_SOCK_VALID | port;
    /* the server's address is a local one: told only with its port (an end the kernel has) */
    __u8 *a = fi->role == ROLE_SERVER ? fi->laddr : fi->raddr;
    if (port && fi->family == FD_AF_INET && (a[0] == 127 || !(a[0] | a[1] | a[2] | a[3])))
        args[7] |= KF_SOCK_LOCAL;
    if (port && fi->family == FD_AF_INET6) {
        __u64 hi = 0, lo = 0;
        __builtin_memcpy(&hi, a, 8);
        __builtin_memcpy(&lo, a + 8, 8);
        if (!hi && (!lo || lo == 0x0100000000000000ULL))    /* :: or ::1 (network order) */
            args[7] |= KF_SOCK_LOCAL;
    }
}
#endif

/* 1 when some loaded rule could match this record, or the state needs it; 0 when none can;
 * KF_PATH_PENDING when only slots with a path test still hold (kf_scratch says which): the path is
 * read and tested in kf_path_exit, a program of its own, whose loops verified on each of sys_exit's
 * many paths would take sys_exit past the verifier's limit. */
static __always_inline int kf_decide(__u32 nr, long ret, __u64 *args, __u32 tgid, struct shape *sh)
{
    struct kf_class *cls = kf_classes.lookup(&nr);
    if (!cls || !cls->mode)
        return 1;
    if (cls->fd_result && ret >= 0) {
        __u64 key = ((__u64)tgid << 32) | (__u32)ret;
        if (known_fds.lookup(&key))
            return 1;
    }
    if (cls->fd_close) {
        __u64 key = ((__u64)tgid << 32) | (__u32)args[0];
        if (known_fds.lookup(&key))
            return 1;
    }
    __u64 flags = 0;
    __u8 fa = cls->flags_arg;
    if (fa < 6) {
        flags = kf_arg(args, fa);
        if (flags & (KF_O_DIRECTORY | KF_O_PATH))
            return 1;               /* directory fds: later paths are resolved against them */
    }
    __u64 cand = cls->all & (ret >= 0 ? cls->ret_ok : cls->ret_fail);
    if (!cand)
        return 0;
    if (cls->enum_arg < 6) {
        /* args has 8 slots (the last two zero): an index, not kf_arg's switch, whose six ways
         * take the enter/exit pair build's sys_exit past the verifier's limit */
        struct kf_enum_key ek = {.nr = nr, .value = args[BOUNDED(cls->enum_arg, 7)]};
        __u64 *m = kf_enums.lookup(&ek);
        cand &= (m ? *m : 0) | cls->enum_any;
        if (!cand)
            return 0;
    }
    __u32 zero = 0;
    struct kf_scratch *s = kf_scratch_map.lookup(&zero);
    if (!s)
        return 1;
    if (cls->has_comm || cls->not_host) {
        struct kf_comm *c = exec_comm.lookup(&tgid);
        if (c && c->host)
            cand &= ~cls->not_host;
        if (c && cls->has_comm) {
            s->comm.nr = nr;
            __builtin_memcpy(s->comm.comm, c->comm, 16);
            __u64 *m = kf_comms.lookup(&s->comm);
            cand &= (m ? *m : 0) | cls->comm_any;
            if (!cand)
                return 0;
        }
    }
    if (cls->sock_test && (cand & ~(cls->port_any & cls->kind_any & ~cls->not_local & ~cls->not_local6))) {
        /* the socket's server port and kind as the kernel has them (sock_values), read only now that
         * the cheaper tests have left a slot that tests them; a value it could not tell leaves the
         * test holding */
#ifdef FD_DESCRIBED
        if (sh->fd != SHAPE_NONE)
            sock_values(ret, sh, args);
#endif
        if (args[6] & KF_SOCK_VALID) {
            struct kf_enum_key pk = {.nr = nr, .dim = KF_DIM_PORT, .value = args[6] & 0xffff};
            __u64 *m = kf_enums.lookup(&pk);
            cand &= (m ? *m : 0) | cls->port_any;
        }
        if (args[7] & KF_SOCK_VALID) {
            struct kf_enum_key kk = {.nr = nr, .dim = KF_DIM_KIND, .value = args[7] & 0xffff};
            __u64 *m = kf_enums.lookup(&kk);
            cand &= (m ? *m : 0) | cls->kind_any;
            if (args[7] & KF_SOCK_LOCAL)
                cand &= ~(((args[7] >> 8) & 0xff) == FD_AF_INET6 ? cls->not_local6 : cls->not_local);
        }
        if (!cand)
            return 0;
    }
    if (fa < 6) {
        /* per slot: the access mode is one it accepts, or a bit it names is set; tables by mode and
         * by bit, so no loop over the slots (most opens set none of the bits rules name) */
        __u64 ok = cls->acc_slots[flags & 3];
        __u32 set = flags & cls->bits_used;
        if (set) {
#pragma unroll
            for (int b = 0; b < 32; b++)
                ok |= cls->bit_slots[b] & (0ULL - ((set >> b) & 1));
        }
        cand &= ok;
    }
    if (!cand)
        return 0;
    if (cls->path_slot != 0 || (cand & cls->path_any & cls->needle_any))
        return 1;                   /* no path test to make, or a slot without one holds */
    s->cand = cand;                 /* the path decides: kf_path_exit */
    s->nr = nr;
    return KF_PATH_PENDING;
}
