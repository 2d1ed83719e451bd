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
 * Compile-time constants (-D): AGENT_TGID, NR_EXIT, NR_EXIT_GROUP, NR_CLONE, NR_CLONE3,
 * NR_FORK, NR_VFORK, RINGBUF_PAGES; and, when the running kernel's BTF gives them,
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
/* Records that could not be sent, by enum rec_kind; user space reports them. */
BPF_PERCPU_ARRAY(lost, __u64, 4);

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

static __always_inline void send(void *rec, __u32 size, __u32 kind)
{
    if (events.ringbuf_output(rec, size, 0) < 0) {
        __u64 *n = lost.lookup(&kind);
        if (n)
            *n += 1;
    }
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
    __u32 size = offsetof(struct rec_syscall, data) + SLOT1_OFF +
                 BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1) + BOUNDED(rec->len2, SLOT2_SIZE * 2 - 1);
    if (size > sizeof(*rec))
        size = sizeof(*rec);
    send(rec, size, REC_SYSCALL);
    exec_stash.delete(&tid);
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

    struct inflight *f = inflight.lookup(&tid);
    if (!f)
        return 0; /* e.g. a new child returning from clone: it never entered */
    if (f->nr != nr || (sh->kind == SHAPE_CLONE && ctx->ret >= 0)) {
        inflight.delete(&tid);
        return 0;
    }

    __u32 zero = 0;
    struct rec_syscall *rec = scratch.lookup(&zero);
    if (!rec) {
        inflight.delete(&tid);
        return 0;
    }
    fill_hdr(&rec->h, REC_SYSCALL, id);
    rec->ret = ctx->ret;
    rec->nr = nr;
#pragma unroll
    for (int i = 0; i < 6; i++)
        rec->args[i] = f->args[i];
    rec->len0 = 0;
    rec->len1 = 0;
    rec->len2 = 0;

    __u8 i0 = sh->str0, i1 = sh->str1, i2 = sh->str2, is = sh->sock, il = sh->socklen;
    if (i0 < 6)
        rec->len0 = read_str(rec, SLOT0_OFF, SLOT0_SIZE, f->args[i0]);
    if (i1 < 6)
        rec->len1 = read_str(rec, SLOT1_OFF, SLOT1_SIZE, f->args[i1]);
    if (i2 < 6)
        rec->len2 = read_str(rec, SLOT2_OFF, SLOT2_SIZE, f->args[i2]);
    if (is < 6 && il < 6 && f->args[is]) {
        __u32 alen = 0;
        if (sh->socklen_ptr) {
            if (f->args[il])
                bpf_probe_read_user(&alen, sizeof(alen), (void *)f->args[il]);
        } else {
            alen = f->args[il];
        }
        if (alen > SOCKADDR_MAX)
            alen = SOCKADDR_MAX;
        if (alen > 0 && bpf_probe_read_user(&rec->data[SLOT0_OFF], BOUNDED(alen, SOCKADDR_MAX * 2 - 1),
                                            (void *)f->args[is]) == 0)
            rec->len0 = alen;
    }
    inflight.delete(&tid);

    __u32 size = offsetof(struct rec_syscall, data);
    if (rec->len2)
        size += SLOT2_OFF + BOUNDED(rec->len2, SLOT2_SIZE * 2 - 1);
    else if (rec->len1)
        size += SLOT1_OFF + BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1);
    else
        size += BOUNDED(rec->len0, SLOT0_SIZE * 2 - 1);
    if (size > sizeof(*rec))
        size = sizeof(*rec);
    send(rec, size, REC_SYSCALL);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_fork)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tid = (__u32)id;
    if ((id >> 32) == AGENT_TGID)
        return 0;
    struct rec_clone c = {};
    fill_hdr(&c.h, REC_CLONE, id);
    struct inflight *f = inflight.lookup(&tid);
    if (f) {
        c.nr = f->nr;
        c.flags = f->clone_flags;
    }
    c.child_tid = args->child_pid;
    c.child_pid = (c.flags & CLONE_THREAD) ? (__u32)(id >> 32) : (__u32)args->child_pid;
    send(&c, sizeof(c), REC_CLONE);
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
    struct inflight *f = inflight.lookup(&tid);
    if (f) {
        if (f->nr == NR_EXIT || f->nr == NR_EXIT_GROUP)
            e.status = (int)f->args[0];
        inflight.delete(&tid);
    }
    exec_stash.delete(&tid);
    send(&e, sizeof(e), REC_EXIT);
    return 0;
}
