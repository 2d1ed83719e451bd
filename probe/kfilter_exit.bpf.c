/* The kernel filter's tail-called programs (kf_tail), loaded by the loader: each is a program of its
 * own so that sys_exit stays within the verifier's limit. */

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
