/* The two generic programs attached to every wanted syscall's tracepoints: sys_enter keeps the
 * arguments (pair mode) or execve's strings, sys_exit asks the kernel filter and sends what passes
 * (exit_emit). */

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

/* A syscall record that passed the filter: counted, its fd tracked, coalesced or sent. */
static __always_inline int exit_emit(struct tp_sys_exit *ctx, __u64 id, __u32 nr, struct shape *sh,
                                     __u64 *args)
{
    __u32 tid = (__u32)id;
    kf_count(1);
    struct kf_class *cls = kf_classes.lookup(&nr);
    int klass = cls ? cls->state : CLASS_RULE;
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
#ifdef FD_DESCRIBED
    /* the fd it used or made, from the task's file table: the record carries what rules read about
     * it, whatever records before it stayed in the kernel */
    __u8 fa = sh->fd;
    if (fa != SHAPE_NONE && (fa != SHAPE_RET || ctx->ret >= 0) &&
        fd_describe(rec, fa == SHAPE_RET ? ctx->ret : (long)(int)kf_arg(args, fa)))
        rec->h.flags |= REC_F_FD;
#endif

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
    if (send(rec, size, klass == CLASS_FD ? LOST_FD : klass == CLASS_PROC ? LOST_STATE : LOST_RULE,
             klass) < 0) {
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
#ifdef FD_DESCRIBED
    /* which end its socket is now, for every later record that describes it (a non-blocking
     * connect under way, EINPROGRESS, is a client already) */
    if (sh->role && (ctx->ret >= 0 || ctx->ret == -115) && sh->fd != SHAPE_NONE)
        fd_set_role(sh->fd == SHAPE_RET ? ctx->ret : (long)(int)kf_arg(args, sh->fd), sh->role);
#endif
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
    int pass = kf_decide(nr, ctx->ret, args, id >> 32, sh);
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
