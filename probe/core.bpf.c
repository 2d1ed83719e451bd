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
 * Records no loaded rule could match stay in the kernel (kfilter*.bpf.c). A record a rule may match can
 * fill the whole ring; those only the state needs may fill only part of it (enum rec_class), so a
 * storm of state records never leaves a rule record without room.
 *
 * With EXIT_ONLY (kernels with BTF and bpf_task_pt_regs, >= 5.15), a syscall's arguments are read at
 * exit from the task's saved user registers, so only execve/execveat attach their enter tracepoint;
 * otherwise every syscall attaches the enter/exit pair and arguments travel through `inflight`.
 *
 * Compile-time constants (-D): AGENT_TGID, NR_EXIT, NR_EXIT_GROUP, NR_CLONE, NR_CLONE3, NR_OPENAT2,
 * NR_FORK, NR_VFORK, RINGBUF_PAGES, PROC_BYTES, FD_BYTES, EXIT_ONLY; and, when the running kernel's BTF gives them,
 * OFF_TASK_MM, OFF_MM_ARG_START, OFF_MM_ARG_END, and the cgroup ones OFF_TASK_CGROUPS ...
 * CGROUP_V1_SUBSYS, and the pid-namespace ones OFF_TASK_THREAD_PID ... UPID_SIZE
 * (see src/tiercel/probe/btf.py).
 *
 * The probe is written as fragments, one per concern, that the loader joins in one fixed order
 * (FRAGMENTS, src/tiercel/probe/loader.py) into the one source BCC compiles: BCC rewrites map calls
 * (`shapes.lookup(...)`) only in the main source it is given, never in a header it includes. Each
 * fragment uses only what the fragments before it define. This one, the first, holds what every
 * record needs: the tracepoint layouts, the ring buffer and its accounting, the syscall shapes, the
 * arguments in flight and the per-CPU record scratch.
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
BPF_PERCPU_ARRAY(scratch, struct rec_syscall, 1);
/* Records that could not be sent, by enum lost_kind; user space reports them. */
BPF_PERCPU_ARRAY(lost, __u64, LOST_KINDS);
/* [0] ring bytes produced (records + headers), [1] bytes user space has consumed (it writes it) */
BPF_ARRAY(ring_acct, __u64, 2);

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

/* Send a record. Admission by what it is for (enum rec_class): a rule record is refused only when
 * the ring is full; a record only the process state needs, once the ring holds more than PROC_BYTES;
 * one only the fd state needs, past FD_BYTES. State degrades first, and can be repaired: a process
 * never seen is read from /proc, an fd is described by the kernel in the next record that uses it.
 * Waking the reader costs the writer an interrupt (measured here, in a VM: ~10 us, more than all the
 * rest of a fork's or exit's record), and by default every record written to an empty ring wakes
 * it: every fork, exec and exit of a storm the reader keeps up with. The reader looks at the ring
 * every poll interval anyway (live.POLL_MS), so only a record that takes what is pending past a
 * multiple of WAKE_BYTES wakes it: soon enough that the ring never fills meanwhile. */
static __always_inline int send(void *rec, __u32 size, __u32 kind, int cls)
{
    __u32 p = 0, c = 1;
    __u64 *produced = ring_acct.lookup(&p), *consumed = ring_acct.lookup(&c);
    __u64 cost = (size + 8 + 7) & ~7ULL;      /* the ring's 8-byte header and alignment */
    __u64 pending = produced && consumed ? *produced - *consumed : 0;
    if (cls != CLASS_RULE && produced && consumed &&
        (__s64)pending + cost > (cls == CLASS_FD ? FD_BYTES : PROC_BYTES)) {
        count_lost(kind);
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
