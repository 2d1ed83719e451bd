/* The kernel filter's memo of its last decision: a storm's repeated open is kept in the kernel
 * without being judged again. It reads the task and its file table through BTF pointers, so it needs
 * EXIT_ONLY and the offsets of kfilter_file.bpf.c (OFF_TASK_FILES) and of the task's start. */

#if defined(OFF_TASK_FILES) && defined(EXIT_ONLY) && defined(OFF_TASK_START_TIME)
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
