/* The kernel filter's path tests (kf_path_mask, kf_needles), run by kf_path_exit only: a path is
 * judged 8 bytes at a time, without a branch per byte. */

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
