"""Field offsets of the running kernel's structs, read from its BTF (/sys/kernel/btf/vmlinux).

The probe is compiled against headers that may not match the running kernel, so the few kernel
struct fields it reads (task->mm, mm->arg_start, ...) are located here and passed in as constants.
Only what that needs is parsed: type records, struct/union members, and the string table.
"""

from __future__ import annotations

import struct
from pathlib import Path

VMLINUX = Path("/sys/kernel/btf/vmlinux")

_INT, _PTR, _ARRAY, _STRUCT, _UNION, _ENUM, _FWD, _TYPEDEF, _VOLATILE, _CONST, _RESTRICT = range(1, 12)
_FUNC, _FUNC_PROTO, _VAR, _DATASEC, _FLOAT, _DECL_TAG, _TYPE_TAG, _ENUM64 = range(12, 20)
# bytes that follow the 12-byte common record: fixed, or per vlen item
_EXTRA_FIXED = {_INT: 4, _ARRAY: 12, _VAR: 4, _DECL_TAG: 4}
_EXTRA_PER_ITEM = {_STRUCT: 12, _UNION: 12, _ENUM: 8, _FUNC_PROTO: 8, _DATASEC: 12, _ENUM64: 12}
_QUALIFIERS = {_TYPEDEF, _VOLATILE, _CONST, _RESTRICT, _TYPE_TAG}


class Btf:
    """The type records of a BTF blob, walked once for where each starts; a record is decoded only
    when asked for (the kernel's has ~130,000 types, the probe needs a dozen structs: decoding all
    of them took 0.15-0.25 s of the agent's start-up)."""

    def __init__(self, data: bytes) -> None:
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "<HBBIIIII", data)
        if magic != 0xEB9F:
            raise ValueError("not BTF data")
        self._data = data
        self._strings = data[hdr_len + str_off:hdr_len + str_off + str_len]
        self._pos = [0]                 # type id -> where its record starts (id 0: void)
        self._by_name_off: dict[int, int] = {}  # a struct's name (string offset) -> its first id
        self._enums: list[int] = []     # ids of enums
        fixed, per_item, unpack, append = _EXTRA_FIXED, _EXTRA_PER_ITEM, struct.unpack_from, self._pos.append
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        while pos < end:
            name_off, info = unpack("<II", data, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            append(pos)
            if kind == _STRUCT and name_off:
                self._by_name_off.setdefault(name_off, len(self._pos) - 1)
            elif kind == _ENUM:
                self._enums.append(len(self._pos) - 1)
            pos += 12 + fixed.get(kind, 0) + vlen * per_item.get(kind, 0)

    def _str(self, off: int) -> str:
        return self._strings[off:self._strings.index(b"\0", off)].decode()

    def _name_off(self, name: str) -> int | None:
        """Where `name` is in the string table (BTF keeps each string once)."""
        at = self._strings.find(b"\0" + name.encode() + b"\0")
        return None if at < 0 else at + 1

    def _record(self, type_id: int) -> tuple[int, int, int, int, int]:
        """(kind, vlen, kflag, size_or_type, where its items start)"""
        pos = self._pos[type_id]
        _name, info, size_type = struct.unpack_from("<III", self._data, pos)
        return (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, size_type, pos + 12

    def _members(self, type_id: int) -> list[tuple[str, int, int]]:
        """(name, type, byte offset) of a struct's or union's members."""
        _kind, vlen, kflag, _size, items = self._record(type_id)
        out = []
        for i in range(vlen):
            m_name, m_type, m_off = struct.unpack_from("<III", self._data, items + 12 * i)
            out.append((self._str(m_name), m_type, (m_off & 0xFFFFFF if kflag else m_off) // 8))
        return out

    def _resolve(self, type_id: int) -> int:
        while self._record(type_id)[0] in _QUALIFIERS:
            type_id = self._record(type_id)[3]
        return type_id

    def _struct(self, struct_name: str) -> int | None:
        off = self._name_off(struct_name)
        return None if off is None else self._by_name_off.get(off)

    def struct_size(self, struct_name: str) -> int | None:
        sid = self._struct(struct_name)
        return None if sid is None else self._record(sid)[3]

    def member_offset(self, struct_name: str, member: str) -> int | None:
        """Byte offset of `member` in `struct struct_name`, looking inside anonymous members."""
        sid = self._struct(struct_name)
        return None if sid is None else self._find(sid, member)

    def _find(self, type_id: int, member: str) -> int | None:
        for name, m_type, byte_off in self._members(type_id):
            if name == member:
                return byte_off
            if not name:  # anonymous struct/union: its members belong to the outer struct
                inner = self._resolve(m_type)
                if self._record(inner)[0] in (_STRUCT, _UNION):
                    found = self._find(inner, member)
                    if found is not None:
                        return byte_off + found
        return None

    def enum_value(self, name: str) -> int | None:
        """The value of the enumerator `name`, in whichever enum holds it."""
        off = self._name_off(name)
        if off is None:
            return None
        for type_id in self._enums:
            _kind, vlen, _kflag, _size, items = self._record(type_id)
            for i in range(vlen):
                e_name, e_val = struct.unpack_from("<Ii", self._data, items + 8 * i)
                if e_name == off:
                    return int(e_val)
        return None


# cgroup v1 controllers whose hierarchy the probe reads when the task sits at the v2 root, most
# likely first to be set up by a container runtime (and least likely to be a host's own layout).
V1_CONTROLLERS = ("cpu_cgrp_id", "pids_cgrp_id", "cpuset_cgrp_id", "memory_cgrp_id")

# What the probe reads of an fd at the event (probe: fd_describe): the file's inode mode, and for a
# socket its family, type, protocol and both ends. skc_daddr/skc_rcv_saddr and skc_dport/skc_num
# are pairs the kernel keeps side by side (skc_addrpair, skc_portpair): one read each.
SOCKET_FIELDS = {
    "OFF_FILE_INODE": ("file", "f_inode"),
    "OFF_FILE_PRIVATE": ("file", "private_data"),
    "OFF_INODE_MODE": ("inode", "i_mode"),
    "OFF_SOCKET_SK": ("socket", "sk"),
    "OFF_SK_FAMILY": ("sock_common", "skc_family"),
    "OFF_SK_DADDR": ("sock_common", "skc_daddr"),
    "OFF_SK_RCV_SADDR": ("sock_common", "skc_rcv_saddr"),
    "OFF_SK_DPORT": ("sock_common", "skc_dport"),
    "OFF_SK_NUM": ("sock_common", "skc_num"),
    "OFF_SK_V6_DADDR": ("sock_common", "skc_v6_daddr"),
    "OFF_SK_V6_RCV_SADDR": ("sock_common", "skc_v6_rcv_saddr"),
    "OFF_SK_TYPE": ("sock", "sk_type"),
    "OFF_SK_PROTOCOL": ("sock", "sk_protocol"),
}


def kernel_offsets(path: Path = VMLINUX) -> dict[str, int] | None:
    """The offsets the probe needs, or None when the kernel has no BTF or lacks a field.

    The cgroup ones (OFF_TASK_CGROUPS ...) are added when all of them exist; without them the
    container id comes from /proc alone."""
    try:
        btf = Btf(path.read_bytes())
    except (OSError, ValueError, struct.error):
        return None
    out = _find(btf, {
        "OFF_TASK_MM": ("task_struct", "mm"),
        "OFF_MM_ARG_START": ("mm_struct", "arg_start"),
        "OFF_MM_ARG_END": ("mm_struct", "arg_end"),
        "OFF_TASK_LOGINUID": ("task_struct", "loginuid"),
    })
    if out is None:
        return None
    cgroups = _find(btf, {
        "OFF_TASK_CGROUPS": ("task_struct", "cgroups"),
        "OFF_CSS_SET_DFL_CGRP": ("css_set", "dfl_cgrp"),
        "OFF_CSS_SET_SUBSYS": ("css_set", "subsys"),
        "OFF_CSS_CGROUP": ("cgroup_subsys_state", "cgroup"),
        "OFF_CGROUP_KN": ("cgroup", "kn"),
        "OFF_KN_NAME": ("kernfs_node", "name"),
    })
    pids = _find(btf, {
        "OFF_TASK_THREAD_PID": ("task_struct", "thread_pid"),
        "OFF_PID_LEVEL": ("pid", "level"),
        "OFF_PID_NUMBERS": ("pid", "numbers"),
        "OFF_UPID_NR": ("upid", "nr"),
    })
    upid_size = btf.struct_size("upid")
    if pids is not None and upid_size:
        out.update(pids)
        out["UPID_SIZE"] = upid_size
    tty = _find(btf, {
        "OFF_TASK_SIGNAL": ("task_struct", "signal"),
        "OFF_SIGNAL_TTY": ("signal_struct", "tty"),
        "OFF_TTY_INDEX": ("tty_struct", "index"),
        "OFF_TTY_DRIVER": ("tty_struct", "driver"),
        "OFF_DRIVER_MAJOR": ("tty_driver", "major"),
        "OFF_DRIVER_MINOR_START": ("tty_driver", "minor_start"),
    })
    if tty is not None:
        out.update(tty)
    files = _find(btf, {
        "OFF_TASK_FILES": ("task_struct", "files"),
        "OFF_FILES_FDT": ("files_struct", "fdt"),
        "OFF_FDT_MAX_FDS": ("fdtable", "max_fds"),
        "OFF_FDT_FD": ("fdtable", "fd"),
        "OFF_FILE_PATH": ("file", "f_path"),
        "OFF_PATH_DENTRY": ("path", "dentry"),
        "OFF_DENTRY_PARENT": ("dentry", "d_parent"),
        "OFF_DENTRY_NAME": ("dentry", "d_name"),
        "OFF_QSTR_NAME": ("qstr", "name"),
        "OFF_DENTRY_INODE": ("dentry", "d_inode"),
        "OFF_INODE_INO": ("inode", "i_ino"),
        "OFF_INODE_SB": ("inode", "i_sb"),
        "OFF_SB_DEV": ("super_block", "s_dev"),
    })
    if files is not None:   # an opened file's inode and its parents' (probe: kf_resolve)
        out.update(files)
        repeat = _find(btf, {      # what tells a thread's repeated open, and its file (kf_repeat)
            "OFF_TASK_START_TIME": ("task_struct", "start_time"),
            "OFF_TASK_SELF_EXEC_ID": ("task_struct", "self_exec_id"),
            "OFF_FILES_FDTAB": ("files_struct", "fdtab"),
            "OFF_FILES_FD_ARRAY": ("files_struct", "fd_array"),
        })
        if repeat is not None:
            out.update(repeat)
        sockets = _find(btf, SOCKET_FIELDS)
        if sockets is not None:
            out.update(sockets)
    v1 = next((v for v in map(btf.enum_value, V1_CONTROLLERS) if v is not None), None)
    if cgroups is not None and v1 is not None:
        out.update(cgroups)
        out["CGROUP_V1_SUBSYS"] = v1
    return out


def _find(btf: Btf, wanted: dict[str, tuple[str, str]]) -> dict[str, int] | None:
    out = {}
    for const, (st, member) in wanted.items():
        off = btf.member_offset(st, member)
        if off is None:
            return None
        out[const] = off
    return out
