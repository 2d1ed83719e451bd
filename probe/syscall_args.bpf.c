/* Where a syscall's arguments are read from: the task's saved user registers at exit (EXIT_ONLY), or
 * the enter tracepoint's record; and the strings and structs they point to in user memory. */

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

/* A syscall's record holds only its own arguments, and the kernel refuses to attach a program
 * that reads the context past that; a helper read of all six is not a context access. */
static __always_inline void read_args(__u64 *dst, struct tp_sys_enter *ctx)
{
    bpf_probe_read_kernel(dst, 6 * sizeof(__u64), (void *)ctx + offsetof(struct tp_sys_enter, args));
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
