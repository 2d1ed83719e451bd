"""Python mirror of probe/events.h.

The ctypes structures are the mirror checked against the compiled C layout
(tests/events/test_wire_layout.py); the struct.Struct formats derived from them are what the
decoder uses, because unpacking a struct is several times faster than ctypes attribute access.
"""

from __future__ import annotations

import ctypes
import struct

REC_SYSCALL, REC_CLONE, REC_EXIT = 1, 2, 3
REC_F_ARGV_TRUNCATED = 1
REC_F_CGROUP_READ = 2
REC_F_RESOLVED = 4
REC_F_FD = 8

SLOT0_OFF, SLOT0_SIZE = 0, 4096
SLOT1_OFF, SLOT1_SIZE = 4096, 4096
SLOT2_OFF, SLOT2_SIZE = 12288, 256
DATA_SIZE = 12544
ARGV_MAX_ARGS = 64


class RecHdr(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint16), ("flags", ctypes.c_uint16), ("cpu", ctypes.c_uint32),
        ("ts", ctypes.c_uint64), ("tid", ctypes.c_uint32), ("pid", ctypes.c_uint32),
        ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32), ("comm", ctypes.c_char * 16),
    ]


class FdInfo(ctypes.Structure):
    _fields_ = [
        ("fd", ctypes.c_int32), ("mode", ctypes.c_uint16), ("family", ctypes.c_uint16),
        ("type", ctypes.c_uint16), ("proto", ctypes.c_uint16), ("lport", ctypes.c_uint16),
        ("rport", ctypes.c_uint16), ("laddr", ctypes.c_uint8 * 16), ("raddr", ctypes.c_uint8 * 16),
        ("role", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 7),
    ]


class RecSyscall(ctypes.Structure):
    _fields_ = [
        ("h", RecHdr), ("ret", ctypes.c_int64), ("args", ctypes.c_uint64 * 6),
        ("nr", ctypes.c_uint32), ("len0", ctypes.c_uint16), ("len1", ctypes.c_uint16),
        ("len2", ctypes.c_uint16), ("pad", ctypes.c_uint16), ("vpid", ctypes.c_uint32),
        ("repeats", ctypes.c_uint32), ("pad2", ctypes.c_uint32), ("fdi", FdInfo),
        ("data", ctypes.c_char * DATA_SIZE),
    ]


class RecClone(ctypes.Structure):
    _fields_ = [
        ("h", RecHdr), ("child_tid", ctypes.c_uint32), ("child_pid", ctypes.c_uint32),
        ("flags", ctypes.c_uint64), ("nr", ctypes.c_uint32), ("pad", ctypes.c_uint32),
    ]


class RecExit(ctypes.Structure):
    _fields_ = [("h", RecHdr), ("status", ctypes.c_int64), ("repeats", ctypes.c_uint32),
                ("pad", ctypes.c_uint32)]


class Shape(ctypes.Structure):
    _fields_ = [*((n, ctypes.c_uint8) for n in
                  ("kind", "str0", "str1", "str2", "sock", "socklen", "socklen_ptr", "fd", "role")),
                ("pad", ctypes.c_uint8 * 7)]


# struct formats, in the same order as the ctypes fields above (little-endian, no implicit padding).
HDR = struct.Struct("<HHIQIIII16s")
# header .. repeats, then the fd described (fd_info), then data
SYSCALL = struct.Struct("<" + HDR.format[1:] + "q6QIHHH2xII4x" + "i6H16s16sB7x")
CLONE = struct.Struct("<" + HDR.format[1:] + "IIQI4x")
EXIT = struct.Struct("<" + HDR.format[1:] + "qI4x")

STRUCTS = {"rec_hdr": (RecHdr, HDR), "rec_clone": (RecClone, CLONE), "rec_exit": (RecExit, EXIT)}
SYSCALL_DATA_OFF = RecSyscall.data.offset
