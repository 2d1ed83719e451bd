/* Coalescing: a flood of one thread's identical records becomes one record with a count of repeats
 * (reported with the thread's next record or its exit). */

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
