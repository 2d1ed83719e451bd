"""What the evt.* fields need to know about each event type: category, I/O direction, parameter types.

Taken from the event table (`oracles/scap-format/event_table.json`, newest version of each event).
Events that are not listed here (nor in the syscall table) are generic syscalls: category `other`.
"""

from __future__ import annotations

from tiercel.events.syscalls import SYSCALLS_X86_64


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _by_group(groups: dict[str, str]) -> dict[str, str]:
    return {word: group for group, words in groups.items() for word in words.split()}


# evt.category, the way libsinsp names the categories: the syscalls tiercel watches carry theirs in
# their row (events/syscalls.py); the other events of Falco's table (from captures) are listed here.
CATEGORY: dict[str, str] = {**_by_group({
    "file": "access copy_file_range flock fstat fstat64 getcwd getdents getdents64 llseek lseek lstat "
            "lstat64 newfstatat open_by_handle_at stat stat64 umount userfaultfd",
    "internal": "drop infra procinfo scapevent",
    "IO_other": "close_range io_uring_enter io_uring_register io_uring_setup ioctl splice",
    "IO_read": "pread preadv read readv recv recvfrom recvmmsg recvmsg",
    "IO_write": "pwrite pwritev send sendfile sendmmsg sendmsg sendto write writev",
    "IPC": "eventfd eventfd2 futex inotify_init inotify_init1 pipe pipe2 process_vm_readv process_vm_writev "
           "socketpair",
    "memory": "brk mlock mlock2 mlockall mmap mmap2 mprotect munlock munlockall munmap",
    "net": "getpeername getsockname getsockopt setsockopt shutdown",
    "process": "capset chroot container getrlimit groupadded groupdeleted pidfd_getfd pidfd_open prctl "
               "prlimit procexit semctl semget semop setpgid setrlimit setsid useradded userdeleted",
    "scheduler": "switch",
    "signal": "kill signaldeliver signalfd signalfd4 tgkill tkill",
    "sleep": "nanosleep",
    "system": "cpu_hotplug fsconfig",
    "time": "timerfd_create",
    "user": "getegid geteuid getgid getresgid getresuid getuid quotactl",
    "wait": "epoll_create epoll_create1 epoll_wait poll ppoll select",
}), **{sc.name: sc.category for sc in SYSCALLS_X86_64}}

READS_FROM_FD = _words("copy_file_range finit_module pread preadv read readv recv recvfrom recvmmsg recvmsg")
WRITES_TO_FD = _words("copy_file_range pwrite pwritev send sendmmsg sendmsg sendto write writev")
WAITS = _words("epoll_wait nanosleep poll ppoll select")

# Events that are not system calls: syscall.type is empty for them.
NOT_SYSCALLS = _words(
    "NA asyncevent container cpu_hotplug drop groupadded groupdeleted infra notification page_fault "
    "pluginevent procexit procinfo scapevent signaldeliver switch task task_file_anon_inode "
    "task_file_directory task_file_memfd task_file_pipe task_file_regular task_file_socket_inet "
    "task_file_socket_inet6 task_file_socket_netlink task_file_socket_unix useradded userdeleted")

OPEN_EVENTS = _words("open openat openat2 open_by_handle_at")
CREATE_FD_PATH_EVENTS = _words("open openat openat2 open_by_handle_at creat")

# evt.rawarg.<name>: the type of the first event parameter with that name, as libsinsp picks it.
RAWARG_TYPE: dict[str, str] = _by_group({
    "ABSTIME": "exe_ino_ctime exe_ino_mtime start_time",
    "BYTEBUF": "args cgroups data env img msgcontrol value_bytebuf",
    "CHARBUF": "addr arg2_str comm container_id cwd desc description exe fds home json quotafilepath "
               "scope shell special target tuple uargs value_charbuf",
    "CHARBUFARRAY": "argv tags",
    "ERRNO": "maxevents res ret status",
    "FD": "dirfd fd fd1 fd2 fd_in fd_out fdin fdout in_fd linkdirfd mountfd newdir newdirfd newfd olddir "
          "olddirfd oldfd out_fd pid_fd target_fd",
    "FLAGS16": "creat_flags op opcode request sem_flg_0 sem_flg_1",
    "FLAGS32": "domain error features flags nstype operation option prot resolve semflg",
    "FLAGS8": "cmd dqi_flags fd_type how level optname quota_fmt quota_fmt_out resource whence",
    "FSPATH": "dir exepath filename linkpath name newpath oldpath path pathname root sun_path "
              "trusted_exepath",
    "GID": "egid gid rgid sgid",
    "INT16": "sem_op_0 sem_op_1",
    "INT32": "aux backlog key nsems semid semnum",
    "INT64": "arg2_int cur fdlimit max newcur newmax oldcur oldmax timeout",
    "IPADDR": "local_ip remote_ip",
    "PID": "dpid next pgid pid ppid ptid reaper_tid sid spid tid vpgid vpid vtgid vtid",
    "PORT": "local_port remote_port",
    "RELTIME": "dqb_btime dqb_itime dqi_bgrace dqi_igrace interval",
    "UID": "euid loginuid ruid suid uid",
    "UINT16": "ID nativeID sem_num_0 sem_num_1 sk_proto sk_type",
    "UINT32": "action cpu cq_entries dev entries event_type first id last mask min_complete mnt_id mode "
              "nr_args nsops optlen plugin_id proto queuelen queuemax ratio sigmask size sq_entries "
              "sq_thread_cpu sq_thread_idle to_submit tty type vm_rss vm_size vm_swap",
    "UINT64": "arg arg2 arg3 arg4 arg5 argument cap_effective cap_inheritable cap_permitted cpu_sys "
              "cpu_usr dqb_bhardlimit dqb_bsoftlimit dqb_curspace dqb_ihardlimit dqb_isoftlimit "
              "event_data exe_ino exe_ino_num initval ino ino_num ip len length offin offout offset peer "
              "pgft_maj pgft_min pgoffset pidns_init_start_ts pos sk_pointer source val",
    "UINT8": "clockid core queuepct sig",
})

# Every parameter name some event has: evt.arg.<name> must name one of them.
PARAM_NAMES = frozenset(RAWARG_TYPE)
