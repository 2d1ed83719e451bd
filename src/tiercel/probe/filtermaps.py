"""The kernel filter's tables (probe.filtertables) written into the probe's maps.

Replacing the tables (a rule reload) never needs a recompile, and is sound while it happens: every
class is first set to let everything through, the path and comm maps are refilled, and only then are
the classes switched back to filtering.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Iterable
from typing import Any

from tiercel.probe.filtertables import BITS_WIDTH, OPEN_FAMILY, FilterTables, SyscallFilter

BPF_NOEXIST = 1
NONE = 0xFF


# probe/events.h enum rec_class: how much of the ring a syscall's passing records may fill
CLASS_RULE, CLASS_PROC, CLASS_FD = 0, 1, 2


def ring_class(f: SyscallFilter) -> int:
    """Records a rule may match may fill the whole ring; those only the state needs less of it."""
    return CLASS_FD if f.fd_state else CLASS_PROC if f.state else CLASS_RULE


def load_tables(bpf: Any, tables: FilterTables, enabled: bool = True, roots: Iterable[str] = ("",)
                ) -> tuple[Places, int]:
    """Fill the maps, the files rules name looked up under each of `roots` (see fill_inodes).
    Returns those places and how many were left out of a full kf_inodes."""
    classes = bpf[b"kf_classes"]
    for f in tables.syscalls.values():       # first: let everything through
        leaf = classes.Leaf()
        leaf.state = ring_class(f)
        leaf.fd_result = int(f.fd_result)
        leaf.fd_close = int(f.fd_close)
        leaf.fd_track = int(f.fd_track)
        classes[ctypes.c_uint32(f.nr)] = leaf
    for name in (b"kf_paths", b"kf_suffixes", b"kf_comms", b"kf_enums"):
        bpf[name].clear()
    if not enabled:
        return {}, fill_inodes(bpf, {})
    paths, suffixes, comms = bpf[b"kf_paths"], bpf[b"kf_suffixes"], bpf[b"kf_comms"]
    for f in tables.syscalls.values():
        if f.open:
            continue
        fwd: dict[bytes, int] = {}
        rev: dict[bytes, int] = {}
        who: dict[bytes, int] = {}
        nr = f.nr.to_bytes(2, "big")
        for i, slot in enumerate(f.slots):
            bit = 1 << i
            if slot.paths is not None:
                for p in slot.paths.exact:
                    fwd[nr + p + b"\0"] = fwd.get(nr + p + b"\0", 0) | bit
                for p in slot.paths.prefix:
                    fwd[nr + p] = fwd.get(nr + p, 0) | bit
                for p in slot.paths.suffix:
                    rev[nr + p[::-1]] = rev.get(nr + p[::-1], 0) | bit
            if slot.comms is not None:
                for c in slot.comms:
                    who[c] = who.get(c, 0) | bit
        _fill_trie(paths, fwd)
        _fill_trie(suffixes, rev)
        for comm, mask in who.items():
            key = comms.Key()
            key.nr = f.nr
            _put(key, "comm", comm)
            comms[key] = ctypes.c_uint64(mask)
        _fill_values(bpf[b"kf_enums"], f)
    places = inode_places(tables)
    left_out = fill_inodes(bpf, places, roots)
    for f in tables.syscalls.values():       # last: filter
        if not f.open:
            leaf = _class_leaf(classes.Leaf(), f)
            leaf.resolve = int(any(nr == f.nr for nr, _ in places))
            classes[ctypes.c_uint32(f.nr)] = leaf
    bump(bpf)
    return places, left_out


# {(syscall nr, path): (file slots, directory slots)}: what kf_inodes is made from.
Places = dict[tuple[int, str], tuple[int, int]]


def place_paths(places: Places) -> tuple[str, ...]:
    """The places' paths in the order of the probe's kf_inodes index (the decoder's inode_paths)."""
    return tuple(sorted({p for _, p in places}))


def inode_places(tables: FilterTables) -> Places:
    """The files and directories the open family's path tests name: exact names (a file), prefixes
    that are directories. The probe finds an opened file among them by inode when the name it was
    opened under misses, so a link does not hide it. A name that does not exist (yet), or a prefix
    that is not a directory, is not known by inode: the probe would have to let every open of its
    parent through."""
    out: Places = {}
    for f in tables.syscalls.values():
        if f.open or f.name not in OPEN_FAMILY:
            continue
        for i, slot in enumerate(f.slots):
            if slot.paths is None:
                continue
            for raw in slot.paths.exact:
                key = (f.nr, os.fsdecode(raw))
                files, dirs = out.get(key, (0, 0))
                out[key] = (files | 1 << i, dirs)
            for raw in slot.paths.prefix:
                if raw.endswith(b"/") or os.path.isdir(raw):
                    key = (f.nr, os.fsdecode(raw.rstrip(b"/")) or "/")
                    files, dirs = out.get(key, (0, 0))
                    out[key] = (files, dirs | 1 << i)
    return out


INODES_MAX = 8192     # the probe's kf_inodes


def fill_inodes(bpf: Any, places: Places, roots: Iterable[str] = ("",)) -> int:
    """kf_inodes as `places` are now, under each root ("" for the host's, /proc/<pid>/root for a
    container's: its /etc/shadow is another file). Called again from time to time (a file replaced
    by a rename has a new inode). Entries are added before stale ones go, so nothing is unknown
    meanwhile. Returns how many places were left out for want of room (kf_inodes is full)."""
    table = bpf[b"kf_inodes"]
    index = {p: i for i, p in enumerate(place_paths(places))}
    fresh: dict[tuple[int, int, int], tuple[int, int, int]] = {}
    left_out = 0
    by_path: dict[str, list[tuple[int, int, int]]] = {}
    for (nr, path), (files, dirs) in places.items():
        by_path.setdefault(path, []).append((nr, files, dirs))
    for root in roots:
        for path, uses in by_path.items():
            try:
                st = os.stat(root + path)
            except OSError:
                continue
            dev = os.major(st.st_dev) << 20 | os.minor(st.st_dev)   # the kernel's dev_t encoding
            for nr, files, dirs in uses:
                key = (nr, dev, st.st_ino)
                if key not in fresh and len(fresh) >= INODES_MAX:
                    left_out += 1
                    continue
                was = fresh.get(key, (0, 0, index[path]))
                fresh[key] = (was[0] | files, was[1] | dirs, was[2])
    for (nr, dev, ino), (files, dirs, i) in fresh.items():
        k, v = table.Key(), table.Leaf()
        k.nr, k.dev, k.ino = nr, dev, ino
        v.file_slots, v.dir_slots, v.index = files, dirs, i
        table[k] = v
    for k in list(table.keys()):
        if (k.nr, k.dev, k.ino) not in fresh:
            with contextlib.suppress(KeyError):
                del table[k]
    bump(bpf)    # the probe's remembered misses were judged against the old table
    return left_out


def bump(bpf: Any) -> None:
    """A decision the probe remembers (a walk that found nothing, an open it kept in the kernel)
    holds only while kf_gen is what it was made under: bumped after each change user space makes to
    what the probe decides from. (The probe's own counter, kf_fdgen, is never written here: a
    read-modify-write could undo the probe's increments meanwhile.)"""
    gen = bpf[b"kf_gen"]
    key = ctypes.c_uint32(0)
    gen[key] = ctypes.c_uint64(gen[key].value + 1)


def _class_leaf(leaf: Any, f: SyscallFilter) -> Any:
    leaf.mode = 1
    leaf.state = ring_class(f)
    leaf.fd_result = int(f.fd_result)
    leaf.fd_close = int(f.fd_close)
    leaf.fd_track = int(f.fd_track)
    leaf.coalesce = int(not f.state)
    leaf.path_slot = 0 if f.path_slot == 0 else NONE
    leaf.flags_arg = f.flags_arg if f.flags_arg is not None else NONE
    leaf.enum_arg = f.enum_arg if f.enum_arg is not None else NONE
    leaf.has_comm = int(any(s.comms is not None for s in f.slots))
    leaf.sock_test = int(f.sock_test)
    needles = sorted({n for s in f.slots if s.needles for n in s.needles})
    for j, n in enumerate(needles):
        leaf.needle[j] = int.from_bytes(n, "little")
        leaf.needle_len[j] = len(n)
    for i, s in enumerate(f.slots):
        bit = 1 << i
        leaf.all |= bit
        if s.ret_ok:
            leaf.ret_ok |= bit
        if s.ret_fail:
            leaf.ret_fail |= bit
        if s.comms is None:
            leaf.comm_any |= bit
        if s.paths is None:
            leaf.path_any |= bit
        if s.needles is None:
            leaf.needle_any |= bit
        if s.values is None:
            leaf.enum_any |= bit
        if s.ports is None:
            leaf.port_any |= bit
        if s.kinds is None:
            leaf.kind_any |= bit
        if not s.local:
            leaf.not_local |= bit
        if not s.local6:
            leaf.not_local6 |= bit
        if not s.host:
            leaf.not_host |= bit
        for n in s.needles or ():
            leaf.needle_slots[needles.index(n)] |= bit
        for acc in range(4):
            if s.acc_ok >> acc & 1:
                leaf.acc_slots[acc] |= bit
        for b in range(BITS_WIDTH):
            if s.bits_any >> b & 1:
                leaf.bit_slots[b] |= bit
        leaf.bits_used |= s.bits_any
    return leaf


# probe/kfilter.bpf.c KF_DIM_*: what a kf_enums value is
DIM_ARG, DIM_PORT, DIM_KIND = 0, 1, 2


def _fill_values(enums: Any, f: SyscallFilter) -> None:
    masks: dict[tuple[int, int], int] = {}
    for i, slot in enumerate(f.slots):
        for dim, values in ((DIM_ARG, slot.values), (DIM_PORT, slot.ports), (DIM_KIND, slot.kinds)):
            for v in values or ():
                masks[dim, v] = masks.get((dim, v), 0) | 1 << i
    for (dim, value), mask in masks.items():
        key = enums.Key()
        key.nr = f.nr
        key.dim = dim
        key.value = value
        enums[key] = ctypes.c_uint64(mask)


def _fill_trie(trie: Any, entries: dict[bytes, int]) -> None:
    """Longest-prefix match returns one entry: give each the bits of every entry that is a prefix
    of it, so the longest match carries them all."""
    keys = sorted(entries)
    for k in keys:
        mask = 0
        for other in keys:
            if k.startswith(other):
                mask |= entries[other]
        key = trie.Key()
        key.prefixlen = len(k) * 8
        _put(key, "data", k)
        trie[key] = ctypes.c_uint64(mask)


def seed_exec_comms(bpf: Any, procs: Iterable[tuple[int, str, bool]]) -> int:
    """The comm the state holds for processes that exec'd before the probe was attached (tiercel's
    proc.name for them), and whether the state has them on the host. Never overwrites what the
    kernel wrote at an exec since."""
    table = bpf[b"exec_comm"]
    lib = _bcc_lib()
    n = 0
    for pid, comm, host in procs:
        leaf = table.Leaf()
        raw = comm.encode("utf-8", "surrogateescape")[:15]
        _put(leaf, "comm", raw)
        leaf.host = int(host)
        key = ctypes.c_uint32(pid)
        if lib.bpf_update_elem(table.map_fd, ctypes.byref(key), ctypes.byref(leaf), BPF_NOEXIST) == 0:
            n += 1
    return n


# A child's known fds below this number are copied from its parent's in the kernel at fork (the
# probe's KF_INHERIT_FDS: a bounded loop there); user space seeds the higher ones.
INHERIT_FDS = 64


def seed_known_fds(bpf: Any, fds: Iterable[tuple[int, int]]) -> None:
    """The (pid, fd) pairs the state read from /proc at start."""
    table = bpf[b"known_fds"]
    one = ctypes.c_uint8(1)
    for pid, fd in fds:
        if fd >= 0:
            table[ctypes.c_uint64((pid << 32) | fd)] = one
    bump(bpf)    # fd numbers known now: decisions made before them are void


def forget_known_fds(bpf: Any, pid: int, fds: Iterable[int]) -> None:
    """A process has exited: its (pid, fd) pairs leave known_fds (an LRU: what stays takes the place
    of entries still needed)."""
    table = bpf[b"known_fds"]
    for fd in fds:
        with contextlib.suppress(KeyError):     # the kernel removed it at a close, or never had it
            del table[ctypes.c_uint64((pid << 32) | fd)]


def _put(obj: Any, name: str, raw: bytes) -> None:
    """Bytes into a char-array member (ctypes shows c_char arrays as bytes, not as arrays)."""
    ctypes.memmove(ctypes.addressof(obj) + getattr(type(obj), name).offset, raw, len(raw))


def _bcc_lib() -> Any:
    from bcc.libbcc import lib
    return lib
