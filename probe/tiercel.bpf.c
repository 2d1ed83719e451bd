/* tiercel's kernel side, compiled by BCC at start-up.
 *
 * Two generic programs serve every syscall: sys_enter and sys_exit are attached to the
 * syscalls:sys_enter_<name>/sys_exit_<name> tracepoints of exactly the syscalls that are wanted,
 * and read the syscall number and arguments from the tracepoint record, whose layout
 * (common header, int nr, unsigned long args[6] / long ret) is the same for every syscall.
 * What to read from user memory for each syscall comes from the `shapes` map, filled by user
 * space from one table (src/tiercel/events/syscalls.py). No kernel struct is read, so the probe
 * is right even when the headers it is compiled against are not the running kernel's.
 *
 * Records no loaded rule could match stay in the kernel (kfilter.h). Rule records may use only part
 * of the ring; the rest is kept for the records the state needs (exec, fork, exit ...), so a storm of
 * rule records cannot push those out.
 *
 * With EXIT_ONLY (kernels with BTF and bpf_task_pt_regs, >= 5.15), a syscall's arguments are read at
 * exit from the task's saved user registers, so only execve/execveat attach their enter tracepoint;
 * otherwise every syscall attaches the enter/exit pair and arguments travel through `inflight`.
 *
 * Compile-time constants (-D): AGENT_TGID, NR_EXIT, NR_EXIT_GROUP, NR_CLONE, NR_CLONE3, NR_OPENAT2,
 * NR_FORK, NR_VFORK, RINGBUF_PAGES, RESERVE_BYTES, EXIT_ONLY; and, when the running kernel's BTF gives them,
 * OFF_TASK_MM, OFF_MM_ARG_START, OFF_MM_ARG_END, and the cgroup ones OFF_TASK_CGROUPS ...
 * CGROUP_V1_SUBSYS, and the pid-namespace ones OFF_TASK_THREAD_PID ... UPID_SIZE
 * (see src/tiercel/probe/btf.py).
 */
#include "events.h"

#define CLONE_VM 0x00000100ULL
#define CLONE_VFORK 0x00004000ULL
#define CLONE_THREAD 0x00010000ULL
#define SIGCHLD 17

/* `v & mask` that clang cannot fold away when it believes v is already in range: the verifier
 * needs to see the mask to know a variable size or offset is bounded. */
#define BOUNDED(v, mask) ({ __u32 _b = (v); asm volatile("" : "+r"(_b)); _b & (mask); })

struct tp_sys_enter {
    __u64 common;
    int nr;
    int pad;
    __u64 args[6];
};

struct tp_sys_exit {
    __u64 common;
    int nr;
    int pad;
    long ret;
};

/* Arguments of a syscall in flight, per thread, from enter to exit. */
struct inflight {
    __u64 args[6];
    __u64 clone_flags;
    __u32 nr;
    __u32 pad;
};

BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);
BPF_ARRAY(shapes, struct shape, 512);
BPF_TABLE("lru_hash", __u32, struct inflight, inflight, 65536);
/* execve's filename and argv must be copied at enter: at exit the old memory is gone. */
BPF_F_TABLE("hash", __u32, struct rec_syscall, exec_stash, 4096, BPF_F_NO_PREALLOC);
BPF_PERCPU_ARRAY(scratch, struct rec_syscall, 1);
/* Records that could not be sent, by enum lost_kind; user space reports them. */
BPF_PERCPU_ARRAY(lost, __u64, LOST_KINDS);
/* [0] ring bytes produced (records + headers), [1] bytes user space has consumed (it writes it) */
BPF_ARRAY(ring_acct, __u64, 2);

/* -- The kernel-side filter: decides, before a record is built, whether any loaded rule could match it.
 *
 * User space derives the tables from the rules (src/tiercel/kfilter/derive.py) and fills these maps;
 * src/tiercel/kfilter/tables.py holds the same decision in Python (`passes`), which the tests run on
 * captures to prove the tables sound. Per syscall number, `kf_classes` holds up to 64 slots, one bit
 * each; a record passes when some slot's tests all hold:
 *   ret    success (ret >= 0) or failure                          kf_class.ret_ok / ret_fail
 *   comm   the comm at the process's last exec (exec_comm)      kf_comms[{nr, comm}] | comm_any
 *   path   the path argument, absolute and normal              kf_paths (exact + prefix, LPM) |
 *                                                               kf_suffixes (reversed, LPM) | path_any
 *   flags  open flags: the access mode is one the slot accepts (acc_slots), or a bit it names is
 *          set (bit_slots)
 * A test that cannot be decided for a record (unknown exec comm, relative or long path) holds.
 * (In this file, not a header: BCC rewrites map calls only in the main source.)
 */

#define KF_PATH_MAX 240         /* kfilter/tables.py PATH_MAX_K */
#define KF_KEY_DATA 244         /* 2 bytes of syscall number, the path, its NUL, padding */
#define KF_SLOTS 64
#define KF_NEEDLES 4            /* kfilter/tables.py MAX_NEEDLES; each two bytes */
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
/* Counters bumped at each change of what a decision remembered under them read: a decision made
 * under older values may not hold any more. Each has one writer: user space cannot add atomically,
 * and a read-modify-write of a counter the probe also bumps could take it back to a value a stale
 * decision was made under. */
BPF_ARRAY(kf_gen, __u64, 1);        /* user space: it has changed a filter table (kf_classes, the
                                     * tries, kf_comms, kf_enums, kf_inodes) or known_fds */
BPF_ARRAY(kf_fdgen, __u64, 1);      /* the probe: an fd number has become known (known_fds) */
#define KF_RESOLVED (1ULL << 63)

/* [0] records the filter kept in the kernel after judging them, [1] records it let through, [2]
 * records coalesced into a previous identical one (reported with the thread's next record or its
 * exit), [3] records kept in the kernel as repeats of the open before them (kf_repeat) */
BPF_PERCPU_ARRAY(kf_counts, __u64, 4);

/* Per thread: the last record sent (a hash of what makes it that record), when, and how many
 * identical records were coalesced into it since. */
struct coalesce_state {
    __u64 key;
    __u64 since;
    __u32 repeats;
    __u32 pad;
};
BPF_TABLE("lru_hash", __u32, struct coalesce_state, coalesce, 65536);
#define COALESCE_NS 1000000000ULL

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

#define KF_ONES 0x0101010101010101ULL
/* All ones if d (a difference of small numbers) is negative, else 0, without a branch: the barrier
 * keeps clang from turning it into a select, which BPF can only do with a jump (and the verifier
 * would then follow both ways at every word of the needle search). */
static __always_inline __u64 KF_NEG(__u64 d)
{
    asm volatile("" : "+r"(d));
    __u64 sign = d >> 63;
    asm volatile("" : "+r"(sign));
    return 0ULL - sign;
}
#define KF_LOW7 0x7f7f7f7f7f7f7f7fULL

/* 0x80 in each byte of w that equals b, 0 elsewhere (exact, no carries between bytes). */
static __always_inline __u64 kf_bytes_eq(__u64 w, __u8 b)
{
    __u64 x = w ^ (KF_ONES * b);
    __u64 t = (x & KF_LOW7) + KF_LOW7;
    return ~(t | x | KF_LOW7);
}

/* The slots whose needle test holds (or that have none): which needles (two bytes each) the path
 * (its `words` words in s->tmp, zero after its end) contains. One pass over the words, each tried
 * against every needle without branches: bytes equal to the first byte, followed by one equal to the
 * second (in this word or, for the last byte, the next). Only kf_path_exit runs this. */
static __always_inline __u64 kf_needles(struct kf_class *cls, struct kf_scratch *s, __u32 words)
{
    __u64 found[KF_NEEDLES] = {}, used[KF_NEEDLES];
#pragma unroll
    for (int i = 0; i < KF_NEEDLES; i++)
        used[i] = KF_NEG(0 - (__u64)cls->needle_len[i]);
    for (__u32 k = 0; k < KF_PATH_MAX / 8; k++) {
        if (k >= words)
            break;
        __u64 w = s->tmp[BOUNDED(k, 31)];
        __u64 nx = s->tmp[BOUNDED(k + 1, 31)] & KF_NEG((__u64)k + 1 - words);
#pragma unroll
        for (int i = 0; i < KF_NEEDLES; i++) {
            __u64 needle = cls->needle[i];
            __u8 b0 = needle, b1 = needle >> 8;
            __u64 second = (kf_bytes_eq(w, b1) >> 8) | (kf_bytes_eq(nx, b1) << 56);
            found[i] |= kf_bytes_eq(w, b0) & second & used[i];
        }
    }
    __u64 mask = cls->needle_any;
#pragma unroll
    for (int i = 0; i < KF_NEEDLES; i++)
        if (found[i])
            mask |= cls->needle_slots[i];
    return mask;
}

/* The mask of slots whose path test holds. The path is handled 8 bytes at a time, without a
 * branch per byte (the verifier cannot follow a byte loop of this length): `//` and `/.` are found
 * with word arithmetic, and the reversed path (for suffixes) is made by byte-swapping words. */
static __always_inline __u64 kf_path_mask(struct kf_class *cls, struct kf_scratch *s, __u32 nr, __u64 ptr)
{
    long n = bpf_probe_read_user_str(s->tmp, KF_PATH_MAX, (void *)ptr);
    s->words = 0;
    if (n <= 1 || n >= KF_PATH_MAX || (s->tmp[0] & 0xff) != '/')
        return ~0ULL;               /* unreadable, empty, too long or relative: not judged */
    __u32 len = n - 1, words = (len + 7) / 8;
    __u64 bad = 0, carry = 0;
    for (__u32 k = 0; k < KF_PATH_MAX / 8; k++) {
        if (k >= words)
            break;
        __u64 w = s->tmp[BOUNDED(k, 31)];
        if (k == words - 1 && (len & 7)) {
            w &= (1ULL << ((len & 7) * 8)) - 1;    /* the NUL and what follows it */
            s->tmp[BOUNDED(k, 31)] = w;             /* for the needle search */
        }
        __u64 slash = kf_bytes_eq(w, '/');
        __u64 next = slash | kf_bytes_eq(w, '.');
        bad |= (slash & (next >> 8)) | (carry & (next << 56));
        carry = slash & (0x80ULL << 56);
        s->rtmp[BOUNDED(words - 1 - k, 31)] = __builtin_bswap64(w);
    }
    __u8 last = ((__u8 *)s->tmp)[BOUNDED(len - 1, 255)];
    if (bad || (last == '/' && len > 1))
        return ~0ULL;               /* `//`, `/.` or a final `/`: fd.name is not this text */
    bpf_probe_read_kernel(&s->fwd.data[2], BOUNDED(len + 1, 255), s->tmp);
    bpf_probe_read_kernel(&s->rev.data[2], BOUNDED(len, 255),
                          (__u8 *)s->rtmp + BOUNDED(words * 8 - len, 7));
    s->fwd.data[0] = s->rev.data[0] = nr >> 8;
    s->fwd.data[1] = s->rev.data[1] = nr & 0xff;
    s->fwd.prefixlen = (2 + len + 1) * 8;      /* the NUL too: an exact name ends there */
    s->rev.prefixlen = (2 + len) * 8;
    __u64 mask = cls->path_any;
    __u64 *m = kf_paths.lookup(&s->fwd);
    if (m)
        mask |= *m;
    m = kf_suffixes.lookup(&s->rev);
    if (m)
        mask |= *m;
    s->words = words;
    s->len = len;
    return mask;
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

static __always_inline void fill_hdr(struct rec_hdr *h, __u16 kind, __u64 id)
{
    __u64 ug = bpf_get_current_uid_gid();
    h->kind = kind;
    h->flags = 0;
    h->cpu = bpf_get_smp_processor_id();
    h->ts = bpf_ktime_get_ns();
    h->tid = (__u32)id;
    h->pid = id >> 32;
    h->uid = (__u32)ug;
    h->gid = ug >> 32;
    bpf_get_current_comm(&h->comm, sizeof(h->comm));
}

static __always_inline void count_lost(__u32 kind)
{
    __u64 *n = lost.lookup(&kind);
    if (n)
        *n += 1;
}

#define WAKE_BYTES (256 * 1024)
#define RB_NO_WAKEUP 1
#define RB_FORCE_WAKEUP 2

/* Send a record. A record the state does not need is refused once the ring holds more than
 * RESERVE_BYTES, so the rest stays free for exec, fork and exit records.
 * Waking the reader costs the writer an interrupt (measured here, in a VM: ~10 us, more than all the
 * rest of a fork's or exit's record), and by default every record written to an empty ring wakes
 * it: every fork, exec and exit of a storm the reader keeps up with. The reader looks at the ring
 * every poll interval anyway (live.POLL_MS), so only a record that takes what is pending past a
 * multiple of WAKE_BYTES wakes it: soon enough that the ring never fills meanwhile. */
static __always_inline int send(void *rec, __u32 size, __u32 kind, int state)
{
    __u32 p = 0, c = 1;
    __u64 *produced = ring_acct.lookup(&p), *consumed = ring_acct.lookup(&c);
    __u64 cost = (size + 8 + 7) & ~7ULL;      /* the ring's 8-byte header and alignment */
    __u64 pending = produced && consumed ? *produced - *consumed : 0;
    if (!state && produced && consumed && (__s64)pending + cost > RESERVE_BYTES) {
        count_lost(LOST_RESERVED);
        return -1;
    }
    __u64 wake = pending / WAKE_BYTES != (pending + cost) / WAKE_BYTES ? RB_FORCE_WAKEUP : RB_NO_WAKEUP;
    if (events.ringbuf_output(rec, size, wake) < 0) {
        count_lost(kind);
        return -1;
    }
    if (produced)
        __sync_fetch_and_add(produced, cost);
    return 0;
}

#ifdef EXIT_ONLY
/* The syscall's arguments from the task's saved user registers (x86_64 struct pt_regs: di, si, dx,
 * r10, r8, r9), and the syscall number (orig_ax). Helpers 158 and 175 are bpf_get_current_task_btf
 * and bpf_task_pt_regs, called through pointers: BCC 0.26 cannot declare them for this use. */
static __always_inline __u64 user_regs(void)
{
    void *task = ((void *(*)(void))158)();
    return ((__u64(*)(void *))175)(task);
}

/* Loads through the BTF pointer bpf_task_pt_regs returns: no helper call. */
static __always_inline void regs_args(__u64 *dst)
{
    char *r = (char *)user_regs();
    dst[0] = *(__u64 *)(r + 112);   /* di */
    dst[1] = *(__u64 *)(r + 104);   /* si */
    dst[2] = *(__u64 *)(r + 96);    /* dx */
    dst[3] = *(__u64 *)(r + 56);    /* r10 */
    dst[4] = *(__u64 *)(r + 72);    /* r8 */
    dst[5] = *(__u64 *)(r + 64);    /* r9 */
}

static __always_inline __u64 regs_nr(void)
{
    return *(__u64 *)((char *)user_regs() + 120);   /* orig_ax */
}
#endif

static __always_inline void remember_comm(__u32 tgid)
{
    struct kf_comm c = {};
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    exec_comm.update(&tgid, &c);
}

/* A syscall's record holds only its own arguments, and the kernel refuses to attach a program
 * that reads the context past that; a helper read of all six is not a context access. */
static __always_inline void read_args(__u64 *dst, struct tp_sys_enter *ctx)
{
    bpf_probe_read_kernel(dst, 6 * sizeof(__u64), (void *)ctx + offsetof(struct tp_sys_enter, args));
}

static __always_inline int stash_exec(struct tp_sys_enter *ctx, struct shape *sh, __u32 tid)
{
    __u32 zero = 0;
    struct rec_syscall *rec = scratch.lookup(&zero);
    if (!rec)
        return 0;
    rec->h.flags = 0;
    rec->nr = ctx->nr;
    rec->len0 = 0;
    rec->len1 = 0;
    rec->len2 = 0;
    read_args(rec->args, ctx);
    __u8 fi = sh->str0, ai = sh->str1;
    if (fi < 6) {
        long n = bpf_probe_read_user_str(&rec->data[SLOT0_OFF], SLOT0_SIZE, (void *)rec->args[fi]);
        rec->len0 = n > 0 ? n : 0;
    }
    if (ai < 6) {
        const char *const *argv = (const char *const *)rec->args[ai];
        __u32 off = 0;
        for (int i = 0; i < ARGV_MAX_ARGS; i++) {
            const char *p = 0;
            if (bpf_probe_read_user(&p, sizeof(p), &argv[i]) < 0 || !p)
                break;
            if (off >= SLOT1_SIZE) {
                rec->h.flags |= REC_F_ARGV_TRUNCATED;
                break;
            }
            /* The slot is twice SLOT1_SIZE long, so a read of SLOT1_SIZE at any masked offset
             * stays inside it: that is what lets the verifier accept a variable offset. */
            __u32 at = BOUNDED(off, SLOT1_SIZE - 1);
            long n = bpf_probe_read_user_str(&rec->data[SLOT1_OFF + at], SLOT1_SIZE, p);
            if (n <= 0)
                break;
            off += n;
        }
        if (off > SLOT1_SIZE) {
            off = SLOT1_SIZE;
            rec->h.flags |= REC_F_ARGV_TRUNCATED;
        }
        rec->len1 = off;
    }
    exec_stash.update(&tid, rec);
    return 0;
}

int sys_enter(struct tp_sys_enter *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if ((id >> 32) == AGENT_TGID)
        return 0;
    __u32 nr = ctx->nr;
    struct shape *sh = shapes.lookup(&nr);
    if (!sh)
        return 0;
    if (sh->kind == SHAPE_EXEC)
        return stash_exec(ctx, sh, tid);

    struct inflight f = {};
    f.nr = nr;
    read_args(f.args, ctx);
    if (sh->kind == SHAPE_CLONE) {
        if (nr == NR_CLONE)
            f.clone_flags = f.args[0];
        else if (nr == NR_CLONE3)
            bpf_probe_read_user(&f.clone_flags, sizeof(f.clone_flags), (void *)f.args[0]);
        else if (nr == NR_VFORK)
            f.clone_flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
        else
            f.clone_flags = SIGCHLD;
    }
    inflight.update(&tid, &f);
    return 0;
}

static __always_inline __u32 read_str(struct rec_syscall *rec, __u32 off, __u32 size, __u64 ptr)
{
    if (off == SLOT0_OFF) {
        long n = bpf_probe_read_user_str(&rec->data[SLOT0_OFF], SLOT0_SIZE, (void *)ptr);
        return n > 0 ? n : 0;
    }
    if (off == SLOT1_OFF) {
        long n = bpf_probe_read_user_str(&rec->data[SLOT1_OFF], SLOT1_SIZE, (void *)ptr);
        return n > 0 ? n : 0;
    }
    long n = bpf_probe_read_user_str(&rec->data[SLOT2_OFF], SLOT2_SIZE, (void *)ptr);
    return n > 0 ? n : 0;
}

#ifdef OFF_TASK_CGROUPS
static __always_inline long kn_name(struct rec_syscall *rec, __u64 cgrp, __u32 at)
{
    __u64 kn = 0, name = 0;
    if (!cgrp)
        return 0;
    bpf_probe_read_kernel(&kn, sizeof(kn), (void *)(cgrp + OFF_CGROUP_KN));
    if (kn)
        bpf_probe_read_kernel(&name, sizeof(name), (void *)(kn + OFF_KN_NAME));
    if (!name)
        return 0;
    return bpf_probe_read_kernel_str(&rec->data[SLOT1_OFF + at], SLOT2_SIZE, (void *)name);
}

/* The name of the cgroup the task runs in right after exec: of the v2 hierarchy, or, when the task
 * sits at the v2 root (a cgroup v1 host), of one v1 controller's hierarchy. Runtimes move a process
 * into its container's cgroup before exec, so this names the container even for a process that is
 * gone before user space could read /proc. It goes right after argv in slot 1. */
static __always_inline __u16 read_cgroup_leaf(struct rec_syscall *rec)
{
    __u64 task = bpf_get_current_task(), cset = 0, cgrp = 0, css = 0;
    __u32 at = BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1);
    bpf_probe_read_kernel(&cset, sizeof(cset), (void *)(task + OFF_TASK_CGROUPS));
    if (!cset)
        return 0;
    bpf_probe_read_kernel(&cgrp, sizeof(cgrp), (void *)(cset + OFF_CSS_SET_DFL_CGRP));
    long n = kn_name(rec, cgrp, at);
    if (n <= 1) {
        bpf_probe_read_kernel(&css, sizeof(css),
                              (void *)(cset + OFF_CSS_SET_SUBSYS + 8 * CGROUP_V1_SUBSYS));
        cgrp = 0;
        if (css)
            bpf_probe_read_kernel(&cgrp, sizeof(cgrp), (void *)(css + OFF_CSS_CGROUP));
        n = kn_name(rec, cgrp, at);
    }
    return n > 1 ? n : 0;
}
#endif

static __always_inline int exit_exec(struct tp_sys_exit *ctx, __u64 id)
{
    __u32 tid = (__u32)id;
    struct rec_syscall *rec = exec_stash.lookup(&tid);
    if (!rec)
        return 0;
    __u16 flags = rec->h.flags;
    fill_hdr(&rec->h, REC_SYSCALL, id);
    rec->h.flags = flags;
    rec->ret = ctx->ret;
#ifdef OFF_TASK_MM
    /* After a successful exec the kernel has just copied argv to the new stack, so those pages
     * are present, unlike the caller's strings at enter, which may not have been faulted in. */
    if (ctx->ret == 0) {
        __u64 task = bpf_get_current_task(), mm = 0, start = 0, end = 0;
        bpf_probe_read_kernel(&mm, sizeof(mm), (void *)(task + OFF_TASK_MM));
        if (mm) {
            bpf_probe_read_kernel(&start, sizeof(start), (void *)(mm + OFF_MM_ARG_START));
            bpf_probe_read_kernel(&end, sizeof(end), (void *)(mm + OFF_MM_ARG_END));
        }
        if (end > start) {
            __u64 len = end - start;
            if (len > SLOT1_SIZE) {
                len = SLOT1_SIZE;
                rec->h.flags |= REC_F_ARGV_TRUNCATED;
            } else {
                rec->h.flags &= ~REC_F_ARGV_TRUNCATED;
            }
            if (bpf_probe_read_user(&rec->data[SLOT1_OFF], BOUNDED(len, SLOT1_SIZE * 2 - 1),
                                    (void *)start) == 0)
                rec->len1 = len;
        }
    }
#endif
#ifdef OFF_TASK_CGROUPS
    if (ctx->ret == 0) {
        rec->len2 = read_cgroup_leaf(rec);
        rec->h.flags |= REC_F_CGROUP_READ;
    }
#endif
    rec->vpid = 0;
#ifdef OFF_TASK_THREAD_PID
    /* The pid as the process sees it in its own namespace: 1 for a container's first program. */
    if (ctx->ret == 0) {
        __u64 task = bpf_get_current_task(), pid = 0;
        __u32 level = 0;
        int nr = 0;
        bpf_probe_read_kernel(&pid, sizeof(pid), (void *)(task + OFF_TASK_THREAD_PID));
        if (pid) {
            bpf_probe_read_kernel(&level, sizeof(level), (void *)(pid + OFF_PID_LEVEL));
            bpf_probe_read_kernel(&nr, sizeof(nr), (void *)(pid + OFF_PID_NUMBERS +
                                  (level & 31) * UPID_SIZE + OFF_UPID_NR));
        }
        rec->vpid = nr;
    }
#endif
#ifdef OFF_TASK_SIGNAL
    /* The controlling terminal, encoded as /proc/PID/stat's tty_nr; in args[5], which neither
     * execve nor execveat uses. 0: no terminal. */
    rec->args[5] = 0;
    if (ctx->ret == 0) {
        __u64 task = bpf_get_current_task(), sig = 0, tty = 0, drv = 0;
        int index = 0, major = 0, minor_start = 0;
        bpf_probe_read_kernel(&sig, sizeof(sig), (void *)(task + OFF_TASK_SIGNAL));
        if (sig)
            bpf_probe_read_kernel(&tty, sizeof(tty), (void *)(sig + OFF_SIGNAL_TTY));
        if (tty) {
            bpf_probe_read_kernel(&index, sizeof(index), (void *)(tty + OFF_TTY_INDEX));
            bpf_probe_read_kernel(&drv, sizeof(drv), (void *)(tty + OFF_TTY_DRIVER));
        }
        if (drv) {
            bpf_probe_read_kernel(&major, sizeof(major), (void *)(drv + OFF_DRIVER_MAJOR));
            bpf_probe_read_kernel(&minor_start, sizeof(minor_start),
                                  (void *)(drv + OFF_DRIVER_MINOR_START));
            __u32 minor = minor_start + index;
            rec->args[5] = (minor & 0xff) | ((__u32)major << 8) | ((__u64)(minor & ~0xffU) << 12);
        }
    }
#endif
    if (ctx->ret == 0)
        remember_comm(id >> 32);
    rec->repeats = 0;
    __u32 size = offsetof(struct rec_syscall, data) + SLOT1_OFF +
                 BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1) + BOUNDED(rec->len2, SLOT2_SIZE * 2 - 1);
    if (size > sizeof(*rec))
        size = sizeof(*rec);
    send(rec, size, LOST_STATE, 1);
    exec_stash.delete(&tid);
    return 0;
}

/* What makes a record "the same": syscall, result, arguments and the bytes of its one string or
 * address (whole: an attacker must not hide a different path behind a coalesced one). 0: never
 * coalesced (two strings, or one longer than 256 bytes). */
static __always_inline __u64 record_key(struct rec_syscall *rec)
{
    if (rec->len1 || rec->len2 || rec->len0 > 256)
        return 0;
    __u64 h = 0xcbf29ce484222325ULL ^ rec->nr;
    h = (h ^ (__u64)rec->ret) * 0x100000001b3ULL;
#pragma unroll
    for (int i = 0; i < 6; i++)
        h = (h ^ rec->args[i]) * 0x100000001b3ULL;
    __u32 len = rec->len0, words = (len + 7) / 8;
    __u64 *w = (__u64 *)rec->data;
    for (__u32 k = 0; k < 32; k++) {
        if (k >= words)
            break;
        __u64 v = w[BOUNDED(k, 31)];
        if (k == words - 1 && (len & 7))
            v &= (1ULL << ((len & 7) * 8)) - 1;
        h = (h ^ v) * 0x100000001b3ULL;
    }
    return h | 1;
}

/* 1: the record repeats the thread's last one within the window and was counted instead of sent;
 * otherwise the record carries the last one's count of repeats and becomes the last one. */
static __always_inline int coalesced(struct rec_syscall *rec, __u32 tid)
{
    __u64 key = record_key(rec);
    struct coalesce_state *c = coalesce.lookup(&tid);
    __u64 now = rec->h.ts;
    if (c && key && c->key == key && now - c->since < COALESCE_NS) {
        c->repeats += 1;
        kf_count(2);
        return 1;
    }
    rec->repeats = c ? c->repeats : 0;
    struct coalesce_state fresh = {};
    fresh.key = key;
    fresh.since = now;
    coalesce.update(&tid, &fresh);
    return 0;
}

/* openat2 passes its flags, mode and resolve flags in a struct (open_how, argument 2): they take
 * the places of the pointer and the struct's size (arguments 2-4), so the filter and user space
 * read them as they read openat's. Unreadable: zero, and the struct's size stays unknown. */
static __always_inline void read_open_how(__u64 *args)
{
    __u64 how[3] = {};
    bpf_probe_read_user(how, sizeof(how), (void *)args[2]);
    args[2] = how[0];
    args[3] = how[1];
    args[4] = how[2];
}

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

/* The dentry of file descriptor `fd` (just opened), its parent and its inode: 0 when fd is not open. */
static __always_inline int kf_file(long fd, __u64 *d, __u64 *parent, __u64 *inode)
{
    __u64 fda = 0, file = 0, max = 0;
    *d = 0;
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
#if defined(EXIT_ONLY) && defined(OFF_TASK_START_TIME)
#define KF_REPEAT
#define KF_LAST_WORDS 16
/* Per CPU, the last open its filter kept in the kernel, with everything that decided it: the thread
 * (its id, when it started, how many execs it has made: exec_comm changes only at an exec), the
 * syscall, result and arguments, the path's bytes, the file it opened, and the tables (kf_gen).
 * A storm repeats one open: when all of that is the same again, so is the decision (kf_repeat), and
 * the path tests, the comm and known-fd lookups and the walk up the file's directories are not made
 * again. */
struct kf_last {
    __u64 path[KF_LAST_WORDS];
    __u64 args[6];
    __u64 file[3];
    __u64 gen;
    __u64 fdgen;
    __u64 start;
    __u64 exec_id;
    __s64 ret;
    __u32 tid;
    __u32 nr;
    __u32 len;
    __u32 file_ok;
};
BPF_PERCPU_ARRAY(kf_last_map, struct kf_last, 1);

/* The current task's start time and exec count: loads through its BTF pointer, no helper call
 * (helper 158 is bpf_get_current_task_btf, as in user_regs). */
static __always_inline void kf_task_ids(__u64 *start, __u64 *exec_id)
{
    char *task = ((void *(*)(void))158)();
    *start = *(__u64 *)(task + OFF_TASK_START_TIME);
    *exec_id = *(__u64 *)(task + OFF_TASK_SELF_EXEC_ID);
}

#define KF_FD_CASE(n) case n: file = *(char **)(files + OFF_FILES_FD_ARRAY + n * 8); break;
/* 1 when fd's file is the dentry, parent and inode in f. While a process's fd table is the one
 * inside its files_struct (it has never had more than 64 fds open, nor a parent that had when it
 * was forked), its lowest fds are at constant offsets from a BTF pointer: loads, no helper call;
 * otherwise kf_file's helper reads. */
static __always_inline int kf_same_file(long fd, __u64 *f)
{
    char *task = ((void *(*)(void))158)();
    char *files = *(char **)(task + OFF_TASK_FILES);
    char *fdt = *(char **)(files + OFF_FILES_FDT);
    char *file = 0;
    if (fdt == files + OFF_FILES_FDTAB) {
        switch (fd) {
        KF_FD_CASE(0) KF_FD_CASE(1) KF_FD_CASE(2) KF_FD_CASE(3) KF_FD_CASE(4) KF_FD_CASE(5)
        KF_FD_CASE(6) KF_FD_CASE(7) KF_FD_CASE(8) KF_FD_CASE(9) KF_FD_CASE(10) KF_FD_CASE(11)
        default: break;
        }
    }
    if (file) {
        char *d = *(char **)(file + OFF_FILE_PATH + OFF_PATH_DENTRY);
        char *parent = *(char **)(d + OFF_DENTRY_PARENT), *inode = *(char **)(d + OFF_DENTRY_INODE);
        return d == (char *)f[0] && parent == (char *)f[1] && inode == (char *)f[2];
    }
    __u64 g[3];
    if (!kf_file(fd, &g[0], &g[1], &g[2]))
        return 0;
    return !((g[0] ^ f[0]) | (g[1] ^ f[1]) | (g[2] ^ f[2]));
}

/* 1 when this record repeats the one kf_last_map remembers in all that decided it: kept in the
 * kernel again. The path is read again (its memory may have changed), and so is the opened file (a
 * link may point elsewhere now). */
static __always_inline int kf_repeat(__u32 nr, long ret, __u64 *args, __u8 str0, __u32 tid,
                                     struct kf_scratch *s)
{
    __u32 zero = 0;
    struct kf_last *l = kf_last_map.lookup(&zero);
    if (!l || l->tid != tid || l->nr != nr || l->ret != ret)
        return 0;
    __u64 diff = 0;
#pragma unroll
    for (int i = 0; i < 6; i++)
        diff |= (args[i] ^ l->args[i]) & (i == str0 ? 0 : ~0ULL);
    __u64 start = 0, exec_id = 0;
    kf_task_ids(&start, &exec_id);
    diff |= (start ^ l->start) | (exec_id ^ l->exec_id) | (s->gen ^ l->gen) | (s->fdgen ^ l->fdgen);
    if (diff)
        return 0;
    __u32 len = l->len, words = (len + 7) / 8;
    if (bpf_probe_read_user(s->tmp, BOUNDED(len + 1, KF_LAST_WORDS * 8 - 1), (void *)args[BOUNDED(str0, 7)]))
        return 0;
    if (((__u8 *)s->tmp)[BOUNDED(len, KF_LAST_WORDS * 8 - 1)])
        return 0;
#pragma unroll
    for (int k = 0; k < KF_LAST_WORDS; k++) {
        __u64 w = s->tmp[k];
        if (k == words - 1 && (len & 7))
            w &= (1ULL << ((len & 7) * 8)) - 1;
        diff |= (w ^ l->path[k]) & (0ULL - (__u64)(k < words));
    }
    if (diff)
        return 0;
    return !l->file_ok || kf_same_file(ret, l->file);
}

/* kf_path_exit keeps a record in the kernel: remember what decided it. `file`: the decision read
 * the opened file (kf_file), which a repeat must then find the same. */
static __always_inline void kf_remember(struct kf_scratch *s, __u32 nr, long ret, __u8 str0, int file)
{
    if (!s->words || s->len + 1 >= KF_LAST_WORDS * 8 || str0 >= 6 || (file && !s->file_ok))
        return;
    __u32 zero = 0;
    struct kf_last *l = kf_last_map.lookup(&zero);
    if (!l)
        return;
#pragma unroll
    for (int k = 0; k < KF_LAST_WORDS; k++)
        l->path[k] = k < s->words ? s->tmp[k] : 0;
#pragma unroll
    for (int i = 0; i < 6; i++)
        l->args[i] = s->args[i];
    l->file[0] = s->file[0];
    l->file[1] = s->file[1];
    l->file[2] = s->file[2];
    l->file_ok = file;
    l->gen = s->gen;
    l->fdgen = s->fdgen;
    kf_task_ids(&l->start, &l->exec_id);
    l->ret = ret;
    l->tid = (__u32)bpf_get_current_pid_tgid();
    l->nr = nr;
    l->len = s->len;
}
#endif
#endif

/* A syscall record that passed the filter: counted, its fd tracked, coalesced or sent. */
static __always_inline int exit_emit(struct tp_sys_exit *ctx, __u64 id, __u32 nr, struct shape *sh,
                                     __u64 *args)
{
    __u32 tid = (__u32)id;
    kf_count(1);
    struct kf_class *cls = kf_classes.lookup(&nr);
    int state = cls ? cls->state : 0;
    if (cls && cls->fd_track && ctx->ret >= 0) {
        __u64 key = ((id >> 32) << 32) | (__u32)ctx->ret;
        __u8 one = 1;
        known_fds.update(&key, &one);
        __u32 zero = 0;
        __u64 *g = kf_fdgen.lookup(&zero);
        if (g)
            __sync_fetch_and_add(g, 1);
    }

    __u32 zero = 0;
    struct rec_syscall *rec = scratch.lookup(&zero);
    if (!rec)
        return 0;
    fill_hdr(&rec->h, REC_SYSCALL, id);
    rec->ret = ctx->ret;
    rec->nr = nr;
#pragma unroll
    for (int i = 0; i < 6; i++)
        rec->args[i] = args[i];
    rec->len0 = 0;
    rec->len1 = 0;
    rec->len2 = 0;

    __u8 i0 = sh->str0, i1 = sh->str1, i2 = sh->str2, is = sh->sock, il = sh->socklen;
    if (i0 < 6)
        rec->len0 = read_str(rec, SLOT0_OFF, SLOT0_SIZE, kf_arg(args, i0));
    if (i1 < 6)
        rec->len1 = read_str(rec, SLOT1_OFF, SLOT1_SIZE, kf_arg(args, i1));
    if (i2 < 6)
        rec->len2 = read_str(rec, SLOT2_OFF, SLOT2_SIZE, kf_arg(args, i2));
    __u64 sockaddr = is < 6 ? kf_arg(args, is) : 0, socklen = il < 6 ? kf_arg(args, il) : 0;
    if (sockaddr && il < 6) {
        __u32 alen = 0;
        if (sh->socklen_ptr) {
            if (socklen)
                bpf_probe_read_user(&alen, sizeof(alen), (void *)socklen);
        } else {
            alen = socklen;
        }
        if (alen > SOCKADDR_MAX)
            alen = SOCKADDR_MAX;
        if (alen > 0 && bpf_probe_read_user(&rec->data[SLOT0_OFF], BOUNDED(alen, SOCKADDR_MAX * 2 - 1),
                                            (void *)sockaddr) == 0)
            rec->len0 = alen;
    }

    __u32 size = offsetof(struct rec_syscall, data);
    if (rec->len2)
        size += SLOT2_OFF + BOUNDED(rec->len2, SLOT2_SIZE * 2 - 1);
    else if (rec->len1)
        size += SLOT1_OFF + BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1);
    else
        size += BOUNDED(rec->len0, SLOT0_SIZE * 2 - 1);
    if (size > sizeof(*rec))
        size = sizeof(*rec);
#ifdef OFF_TASK_FILES
    if (args[6] & KF_RESOLVED) {        /* kf_path_exit found the file by its inode */
        rec->h.flags |= REC_F_RESOLVED;
        rec->args[5] = args[6] & 0xffffffffULL;
        rec->len1 = kf_names(rec, args[7], args[6] & 0xff);
        size = offsetof(struct rec_syscall, data) + SLOT1_OFF + BOUNDED(rec->len1, SLOT1_SIZE - 1);
    }
#endif
    rec->repeats = 0;
    if (cls && cls->coalesce && coalesced(rec, tid))
        return 0;
    if (send(rec, size, state ? LOST_STATE : LOST_RULE, state) < 0) {
        /* the repeats it carried are lost with it: counted too */
        __u32 kind = LOST_RULE;
        __u64 *n = lost.lookup(&kind);
        if (n)
            *n += rec->repeats;
    } else if (cls && cls->fd_close && ctx->ret == 0) {
        __u64 key = ((id >> 32) << 32) | (__u32)args[0];
        known_fds.delete(&key);
    }
    return 0;
}

int sys_exit(struct tp_sys_exit *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if ((id >> 32) == AGENT_TGID)
        return 0;
    __u32 nr = ctx->nr;
    struct shape *sh = shapes.lookup(&nr);
    if (!sh)
        return 0;
    if (sh->kind == SHAPE_EXEC)
        return exit_exec(ctx, id);

    __u64 args[8] = {};      /* 6 arguments; 8 for kf_decide's masked index */
#ifdef EXIT_ONLY
    if (sh->kind == SHAPE_CLONE && ctx->ret >= 0)
        return 0;   /* reported by sched_process_fork */
    regs_args(args);
#else
    struct inflight *f = inflight.lookup(&tid);
    if (!f)
        return 0; /* e.g. a new child returning from clone: it never entered */
    if (f->nr != nr || (sh->kind == SHAPE_CLONE && ctx->ret >= 0)) {
        inflight.delete(&tid);
        return 0;
    }
#pragma unroll
    for (int i = 0; i < 6; i++)
        args[i] = f->args[i];
    inflight.delete(&tid);
#endif
    if (nr == NR_OPENAT2)
        read_open_how(args);
    if (sh->str0 < 6) {
        /* the tables' generations before anything is decided from them: a decision remembered
         * (kf_remember: only a path's) under them is one any later change invalidates */
        __u32 zero = 0;
        struct kf_scratch *s = kf_scratch_map.lookup(&zero);
        __u64 *g = kf_gen.lookup(&zero), *fg = kf_fdgen.lookup(&zero);
        if (s && g && fg) {
            s->gen = *g;
            s->fdgen = *fg;
#ifdef KF_REPEAT
            if (kf_repeat(nr, ctx->ret, args, sh->str0, tid, s)) {
                kf_count(3);        /* kept in the kernel: user space adds these to [0] */
                return 0;
            }
#endif
        }
    }
    int pass = kf_decide(nr, ctx->ret, args, id >> 32);
    if (pass == 1 && ctx->ret >= 0) {
        /* an open that passes anyway still has its file looked up: it may be one a rule names under
         * another name (a link), which the name it was opened under does not satisfy */
        struct kf_class *cls = kf_classes.lookup(&nr);
        __u32 zero = 0;
        struct kf_scratch *s = kf_scratch_map.lookup(&zero);
        if (cls && cls->resolve && s) {
            s->cand = cls->all & cls->ret_ok;
            s->nr = nr;
            s->passes = 1;
            pass = KF_PATH_PENDING;
        }
    } else if (pass == KF_PATH_PENDING) {
        __u32 zero = 0;
        struct kf_scratch *s = kf_scratch_map.lookup(&zero);
        if (s)
            s->passes = 0;
    }
    if (pass == KF_PATH_PENDING) {
        __u32 zero = 0;
        struct kf_scratch *s = kf_scratch_map.lookup(&zero);
        if (s) {
#pragma unroll
            for (int i = 0; i < 8; i++)
                s->args[i] = args[i];
            kf_tail.call(ctx, 0);
        }
        /* no path program (not loaded yet): the record passes */
    } else if (!pass) {
        kf_count(0);
        return 0;
    }
    return exit_emit(ctx, id, nr, sh, args);
}


/* The path tests of a record sys_exit left undecided (a tail call: kf_decide), then, for a record
 * that passes, kf_emit_exit. */
int kf_path_exit(struct tp_sys_exit *ctx)
{
    __u32 nr = ctx->nr, zero = 0;
    struct kf_scratch *s = kf_scratch_map.lookup(&zero);
    struct shape *sh = shapes.lookup(&nr);
    struct kf_class *cls = kf_classes.lookup(&nr);
    if (!s || !sh || !cls || s->nr != nr) {
        count_lost(LOST_RULE);      /* cannot happen (sys_exit just wrote them); never silent */
        return 0;
    }
    __u64 cand = s->cand;
    if (cls->mode && sh->str0 < 6) {
        cand &= kf_path_mask(cls, s, nr, s->args[BOUNDED(sh->str0, 7)]);
        if (cand && s->words && !(cand & cls->needle_any))
            cand &= kf_needles(cls, s, s->words);
#ifdef OFF_TASK_FILES
        /* the slots the name as opened does not satisfy (all, when it was not judged) may hold
         * for the file itself */
        __u64 named = s->words ? cand : 0;
        s->file_ok = 0;
        if (cls->resolve && ctx->ret >= 0 && (s->cand & ~named)) {
            s->file_ok = kf_file(ctx->ret, &s->file[0], &s->file[1], &s->file[2]);
            if (s->file_ok)
                cand |= kf_resolve(nr, s->cand & ~named, s->file, &s->args[6], &s->args[7]);
        }
#endif
        if (!cand && !s->passes) {
#ifdef KF_REPEAT
            kf_remember(s, nr, ctx->ret, sh->str0, cls->resolve && ctx->ret >= 0);
#endif
            kf_count(0);
            return 0;
        }
    }
    kf_tail.call(ctx, 1);
    count_lost(LOST_RULE);          /* kf_emit_exit missing: cannot happen once loaded; counted */
    return 0;
}

/* A record kf_path_exit let through, sent as sys_exit would have sent it (a program of its own:
 * verified after the path loops' every exit, exit_emit would take it past the limit). */
int kf_emit_exit(struct tp_sys_exit *ctx)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 nr = ctx->nr, zero = 0;
    struct kf_scratch *s = kf_scratch_map.lookup(&zero);
    struct shape *sh = shapes.lookup(&nr);
    if (!s || !sh || s->nr != nr) {
        count_lost(LOST_RULE);
        return 0;
    }
    return exit_emit(ctx, id, nr, sh, s->args);
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if ((id >> 32) == AGENT_TGID)
        return 0;
    struct rec_clone c = {};
    fill_hdr(&c.h, REC_CLONE, id);
#ifdef EXIT_ONLY
    /* The parent is inside its clone call: the flags are in its registers. kthreadd (pid 2)
     * creates kernel threads outside any syscall. */
    if ((id >> 32) != 2) {
        __u64 nr = regs_nr(), a[6];
        regs_args(a);
        if (nr == NR_CLONE)
            c.flags = a[0];
        else if (nr == NR_CLONE3)
            bpf_probe_read_user(&c.flags, sizeof(c.flags), (void *)a[0]);
        else if (nr == NR_VFORK)
            c.flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
        else if (nr == NR_FORK)
            c.flags = SIGCHLD;
        else
            nr = 0;
        c.nr = nr;
    }
#else
    struct inflight *f = inflight.lookup(&tid);
    if (f) {
        c.nr = f->nr;
        c.flags = f->clone_flags;
    }
#endif
    c.child_tid = args->child_pid;
    c.child_pid = (c.flags & CLONE_THREAD) ? (__u32)(id >> 32) : (__u32)args->child_pid;
    if (!(c.flags & CLONE_THREAD)) {
        __u32 parent = id >> 32, child = c.child_pid;
        struct kf_comm *pc = exec_comm.lookup(&parent);
        if (pc) {
            struct kf_comm copy = {};
            __builtin_memcpy(copy.comm, pc->comm, 16);
            exec_comm.update(&child, &copy);
        }
        /* The child's fd table is a copy of its parent's, so are its known fds: without them a
         * child's open that reuses an inherited number would be filtered and user space would
         * keep the inherited entry (a socket then seems dup2'ed onto stdio). The lowest numbers,
         * which the child's next opens take, are copied here, before the child runs; user space
         * adds the rest when the clone record arrives. */
        __u64 pk = (__u64)parent << 32, ck = (__u64)child << 32;
        __u8 one = 1;
        for (__u32 fd = 0; fd < KF_INHERIT_FDS; fd++) {
            __u64 k = pk | fd;
            if (known_fds.lookup(&k)) {
                __u64 kc = ck | fd;
                known_fds.update(&kc, &one);
            }
        }
    }
    send(&c, sizeof(c), LOST_CLONE, 1);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    /* A non-leader thread that execs takes over the leader's id before execve returns:
     * move its stashed arguments to the id that sys_exit will see. */
    __u32 old = args->old_pid, now = args->pid;
    if (old == now)
        return 0;
    struct rec_syscall *rec = exec_stash.lookup(&old);
    if (rec) {
        exec_stash.update(&now, rec);
        exec_stash.delete(&old);
    }
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if ((id >> 32) == AGENT_TGID)
        return 0;
    struct rec_exit e = {};
    fill_hdr(&e.h, REC_EXIT, id);
    e.status = -1;
#ifdef EXIT_ONLY
    __u64 nr = regs_nr();
    if (nr == NR_EXIT || nr == NR_EXIT_GROUP) {
        __u64 a[6];
        regs_args(a);
        e.status = (int)a[0];
    }
#else
    struct inflight *f = inflight.lookup(&tid);
    if (f) {
        if (f->nr == NR_EXIT || f->nr == NR_EXIT_GROUP)
            e.status = (int)f->args[0];
        inflight.delete(&tid);
    }
#endif
    exec_stash.delete(&tid);
    struct coalesce_state *c = coalesce.lookup(&tid);
    if (c) {
        e.repeats = c->repeats;
        coalesce.delete(&tid);
    }
    if (tid == (__u32)(id >> 32)) {
        __u32 tgid = tid;
        exec_comm.delete(&tgid);
    }
    send(&e, sizeof(e), LOST_EXIT, 1);
    return 0;
}
