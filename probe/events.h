/* The kernel/user boundary of tiercel: every record the probe sends through the ring buffer.
 * This file is the one definition; src/tiercel/events/wire.py mirrors it and
 * tests/events/test_wire_layout.py checks sizes and offsets against the compiled structs.
 * The first field of every record is its kind. All integers are host byte order.
 */
#ifndef TIERCEL_EVENTS_H
#define TIERCEL_EVENTS_H

enum rec_kind {
    REC_SYSCALL = 1, /* one syscall, enter arguments merged with the return value */
    REC_CLONE = 2,   /* a task was created (sched_process_fork), reported from the parent */
    REC_EXIT = 3,    /* a task ended (sched_process_exit) */
};

/* Syscall shapes: how the probe reads a syscall's user memory. Filled by user space per nr. */
enum shape_kind {
    SHAPE_PLAIN = 0, /* arguments, up to three strings and one sockaddr */
    SHAPE_EXEC = 1,  /* execve/execveat: filename and argv copied at enter, old memory is gone at exit */
    SHAPE_CLONE = 2, /* clone family: reported by sched_process_fork; only failures come from exit */
    SHAPE_EXIT = 3,  /* exit/exit_group: never return; the status is kept for the exit record */
};

/* Why records were lost, counted per kind in the `lost` map. */
enum lost_kind {
    LOST_RULE = 1,      /* a record a rule could match: the ring was full */
    LOST_CLONE = 2,     /* a task creation */
    LOST_EXIT = 3,      /* a task exit */
    LOST_STATE = 4,     /* a syscall the process state needs (exec, chdir): past its share of the ring */
    LOST_FD = 5,        /* a record only the fd state needs: past its share of the ring (FD_BYTES) */
    LOST_KINDS = 6,
};

/* What a record is for, which decides how much of the ring it may fill (probe: send): a record a rule
 * may match, the whole ring; one only the process state needs, up to PROC_BYTES; one only the fd
 * state needs, up to FD_BYTES. State can be repaired (/proc, the kernel's own fd table at the next
 * record); a rule record refused is an attack missed. */
enum rec_class {
    CLASS_RULE = 0,
    CLASS_PROC = 1,
    CLASS_FD = 2,
};

#define SHAPE_NONE 0xff     /* "no such argument" in a shape field */
#define SHAPE_RET 0xfe      /* shape.fd: the fd is the syscall's return value */
#define SLOT0_OFF 0         /* first string (or sockaddr) */
#define SLOT0_SIZE 4096
#define SLOT1_OFF 4096      /* second string, or argv (twice the size: see the argv loop) */
#define SLOT1_SIZE 4096
#define SLOT2_OFF 12288     /* a short third string (mount's fstype) */
#define SLOT2_SIZE 256
#define DATA_SIZE 12544
#define ARGV_MAX_ARGS 64    /* documented limit: argv beyond 64 arguments or 4096 bytes is cut */
#define SOCKADDR_MAX 128

#define REC_F_ARGV_TRUNCATED 1
#define REC_F_CGROUP_READ 2     /* exec: the probe read the cgroup name (len2 = 0: the root) */
#define REC_F_RESOLVED 4        /* open family: the kernel filter found the opened file by its inode
                                 * at a place a rule names (reached through a link): args[5] is
                                 * index << 8 | level, slot 1 the names below that place, leaf first */
#define REC_F_FD 8              /* fdi holds the fd the kernel's file table had at the event */

struct shape {
    __u8 kind;          /* enum shape_kind */
    __u8 str0;          /* argument index of a user string read into slot 0, or SHAPE_NONE */
    __u8 str1;          /* ... into slot 1 (for SHAPE_EXEC: the argv array) */
    __u8 str2;          /* ... into slot 2 */
    __u8 sock;          /* argument index of a struct sockaddr pointer, read into slot 0 */
    __u8 socklen;       /* argument index of its length */
    __u8 socklen_ptr;   /* 1: that argument points to the length (accept), 0: it is the length */
    __u8 fd;            /* argument index of the fd the probe describes from the task's file table
                         * (fd_describe), SHAPE_RET for the return value, or SHAPE_NONE */
    __u8 role;          /* the end of a connection its socket is after it succeeds (enum sock_role) */
    __u8 pad[7];
};

/* Which end of a connection a socket is, as the last call that decided it said: connect makes a
 * client, accept, bind and listen a server (libsinsp's fd.is_server). Kept per socket (sk_roles), so
 * a copy (dup, fork) is the same end whichever records left the kernel. */
enum sock_role {
    ROLE_NONE = 0,
    ROLE_CLIENT = 1,
    ROLE_SERVER = 2,
};

/* An fd as the task's file table holds it at the event (probe: fd_describe). */
struct fd_info {
    __s32 fd;
    __u16 mode;         /* its inode's i_mode: S_IFSOCK, S_IFREG, S_IFDIR, S_IFIFO ... (0: none) */
    __u16 family;       /* a socket's AF_* */
    __u16 type;         /* SOCK_STREAM, SOCK_DGRAM ... */
    __u16 proto;        /* IPPROTO_TCP, IPPROTO_UDP ... */
    __u16 lport;        /* local port, host order */
    __u16 rport;        /* remote port, host order (0: not connected) */
    __u8 laddr[16];     /* local address: 4 bytes for AF_INET, 16 for AF_INET6, network order */
    __u8 raddr[16];     /* remote address */
    __u8 role;          /* enum sock_role */
    __u8 pad[7];
};

struct rec_hdr {
    __u16 kind;         /* enum rec_kind */
    __u16 flags;        /* REC_F_* */
    __u32 cpu;
    __u64 ts;           /* CLOCK_MONOTONIC ns (bpf_ktime_get_ns) */
    __u32 tid;          /* kernel task id (thread) */
    __u32 pid;          /* kernel tgid (process) */
    __u32 uid;
    __u32 gid;
    char comm[16];
};

struct rec_syscall {
    struct rec_hdr h;
    __s64 ret;
    __u64 args[6];      /* raw syscall arguments as seen at enter; for execve/execveat, args[5]
                         * holds the controlling terminal after a successful exec (tty_nr) */
    __u32 nr;           /* syscall number of the running architecture */
    __u16 len0;         /* bytes in slot 0 (strings include their NUL) */
    __u16 len1;
    __u16 len2;         /* execve/execveat: the cgroup name, stored right after argv in slot 1 */
    __u16 pad;
    __u32 vpid;         /* execve/execveat: the process id in its own pid namespace (0: unknown) */
    __u32 repeats;      /* records identical to the previous one sent for this thread, coalesced in
                         * the kernel since it was sent (each stands for one more of it) */
    __u32 pad2;
    struct fd_info fdi; /* with REC_F_FD: the fd the syscall used or made, as the kernel has it */
    char data[DATA_SIZE];
};

struct rec_clone {
    struct rec_hdr h;   /* the parent */
    __u32 child_tid;
    __u32 child_pid;
    __u64 flags;        /* clone flags as requested */
    __u32 nr;           /* the syscall that created it; 0 for a kernel-created task */
    __u32 pad;
};

struct rec_exit {
    struct rec_hdr h;
    __s64 status;       /* the exit()/exit_group() argument when the task called one, else -1 */
    __u32 repeats;      /* as rec_syscall.repeats: the thread's last coalesced count, at its end */
    __u32 pad;
};

#endif
