/* Process lifecycle: exec's record (arguments stashed at enter, completed at exit with the new argv,
 * cgroup, pid in its namespace and terminal) and the sched tracepoints of fork, exec and exit, which
 * keep the state's records and the filter's per-process tables (exec_comm, known_fds) in step. */

/* execve's filename and argv must be copied at enter: at exit the old memory is gone. */
BPF_F_TABLE("hash", __u32, struct rec_syscall, exec_stash, 4096, BPF_F_NO_PREALLOC);
#define CGROUP_NAME_BUF 256     /* kf_scratch.tmp: a cgroup's name (a kernfs name: at most 255 bytes) */

static __always_inline void remember_comm(__u32 tgid, __u8 host)
{
    struct kf_comm c = {};
    bpf_get_current_comm(&c.comm, sizeof(c.comm));
    c.host = host;
    exec_comm.update(&tgid, &c);
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

#ifdef OFF_TASK_CGROUPS
static __always_inline long kn_name(char *dst, __u32 size, __u64 cgrp)
{
    __u64 kn = 0, name = 0;
    if (!cgrp)
        return 0;
    bpf_probe_read_kernel(&kn, sizeof(kn), (void *)(cgrp + OFF_CGROUP_KN));
    if (kn)
        bpf_probe_read_kernel(&name, sizeof(name), (void *)(kn + OFF_KN_NAME));
    if (!name)
        return 0;
    return bpf_probe_read_kernel_str(dst, size, (void *)name);
}

/* The name of the cgroup the task runs in, into dst: of the v2 hierarchy, or, when the task sits at
 * the v2 root (a cgroup v1 host), of one v1 controller's hierarchy. Its length with the NUL, or 0. */
static __always_inline long task_cgroup_name(char *dst, __u32 size)
{
    __u64 task = bpf_get_current_task(), cset = 0, cgrp = 0, css = 0;
    bpf_probe_read_kernel(&cset, sizeof(cset), (void *)(task + OFF_TASK_CGROUPS));
    if (!cset)
        return 0;
    bpf_probe_read_kernel(&cgrp, sizeof(cgrp), (void *)(cset + OFF_CSS_SET_DFL_CGRP));
    long n = kn_name(dst, size, cgrp);
    if (n <= 1) {
        bpf_probe_read_kernel(&css, sizeof(css),
                              (void *)(cset + OFF_CSS_SET_SUBSYS + 8 * CGROUP_V1_SUBSYS));
        cgrp = 0;
        if (css)
            bpf_probe_read_kernel(&cgrp, sizeof(cgrp), (void *)(css + OFF_CSS_CGROUP));
        n = kn_name(dst, size, cgrp);
    }
    return n > 1 ? n : 0;
}

/* The cgroup name right after exec, right after argv in slot 1. Runtimes move a process into its
 * container's cgroup before exec, so this names the container even for a process that is gone
 * before user space could read /proc. */
static __always_inline __u16 read_cgroup_leaf(struct rec_syscall *rec)
{
    __u32 at = BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1);
    return task_cgroup_name(&rec->data[SLOT1_OFF + at], SLOT2_SIZE);
}

/* 1 when that name has no run of 64 lowercase hex digits: every runtime names a container's cgroup
 * with its 64-digit id (src/tiercel/container/cgroup.py from_name), so user space will put the program
 * being exec'd on the host (container.id "host"; an empty name too), and the filter may drop records
 * only a container's could match (kf_class.not_host). Read again here, in sched_process_exec's own
 * program, so that the loop over the name adds nothing to sys_exit's verification. */
static __always_inline __u8 cgroup_names_host(void)
{
    __u32 zero = 0;
    struct kf_scratch *s = kf_scratch_map.lookup(&zero);
    if (!s)
        return 0;
    char *buf = (char *)s->tmp;
    if (!task_cgroup_name(buf, CGROUP_NAME_BUF))
        return 1;
    /* branch-free, the count in map memory: a value that differs by path and stays live across the
     * loop would make the verifier walk every path of every iteration */
    volatile __u32 *run = &s->hexrun;
    *run = 0;
    for (__u32 i = 0; i < CGROUP_NAME_BUF; i++) {
        __u8 c = buf[i];
        if (!c)
            break;          /* the read always ends the name with one within the buffer */
        __u32 hex = ((__u8)(c - '0') < 10) | ((__u8)(c - 'a') < 6);
        *run = (*run + 1) * hex;
        if (*run >= 64)
            break;
    }
    return *run < 64;
}
#else
static __always_inline __u8 cgroup_names_host(void)
{
    return 0;       /* user space reads the container from /proc: nothing is known here */
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
    rec->repeats = 0;
    __u32 size = offsetof(struct rec_syscall, data) + SLOT1_OFF +
                 BOUNDED(rec->len1, SLOT1_SIZE * 2 - 1) + BOUNDED(rec->len2, SLOT2_SIZE * 2 - 1);
    if (size > sizeof(*rec))
        size = sizeof(*rec);
    send(rec, size, LOST_STATE, CLASS_PROC);
    exec_stash.delete(&tid);
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
            copy.host = pc->host;
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
    send(&c, sizeof(c), LOST_CLONE, CLASS_PROC);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exec)
{
    /* the new program's comm, and whether it runs on the host, for the filter (exec_comm): here,
     * where a successful exec is past its point of no return, before execve returns */
    __u64 id = bpf_get_current_pid_tgid();
    if ((id >> 32) != AGENT_TGID)
        remember_comm(id >> 32, cgroup_names_host());
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
    send(&e, sizeof(e), LOST_EXIT, CLASS_PROC);
    return 0;
}
