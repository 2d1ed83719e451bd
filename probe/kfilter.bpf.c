/* -- The kernel-side filter: decides, before a record is built, whether any loaded rule could match it.
 *
 * User space derives the tables from the rules (src/tiercel/kfilter/derive.py) and fills these maps;
 * src/tiercel/kfilter/offline.py holds the same decision in Python (`passes`), which the tests run on
 * captures to prove the tables sound. Per syscall number, `kf_classes` holds up to 64 slots, one bit
 * each; a record passes when some slot's tests all hold:
 *   ret    success (ret >= 0) or failure                          kf_class.ret_ok / ret_fail
 *   comm   the comm at the process's last exec (exec_comm)      kf_comms[{nr, comm}] | comm_any
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
    __u8 state;         /* 1: the state needs these records (they may use the reserved ring space) */
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
    __u8 pad[5];
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
    __u32 pad;
    __u64 value;
};

struct kf_comm {
    char comm[16];
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
    __u32 pad2;
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

/* 1 when some loaded rule could match this record, or the state needs it; 0 when none can;
 * KF_PATH_PENDING when only slots with a path test still hold (kf_scratch says which): the path is
 * read and tested in kf_path_exit, a program of its own, whose loops verified on each of sys_exit's
 * many paths would take sys_exit past the verifier's limit. */
static __always_inline int kf_decide(__u32 nr, long ret, __u64 *args, __u32 tgid)
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
    if (cls->has_comm) {
        struct kf_comm *c = exec_comm.lookup(&tgid);
        if (c) {
            s->comm.nr = nr;
            __builtin_memcpy(s->comm.comm, c->comm, 16);
            __u64 *m = kf_comms.lookup(&s->comm);
            cand &= (m ? *m : 0) | cls->comm_any;
            if (!cand)
                return 0;
        }
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
