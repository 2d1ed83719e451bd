"""The places the probe knows by inode (filtermaps.inode_places) and the decoder's path for a file it
found there: offline halves of the link resolution tested live in test_live_filter.py."""

from __future__ import annotations

from tiercel.events.decode import Decoder
from tiercel.events.syscalls import SyscallTable
from tiercel.probe import filtermaps
from tiercel.probe.filtertables import FilterTables, PathSet, Slot, SyscallFilter

TABLE = SyscallTable()


def _tables(*slots: Slot, name: str = "openat") -> FilterTables:
    nr = TABLE.nr(name)
    return FilterTables({name: SyscallFilter(name, nr, False, "", slots, path_slot=0)})


def test_exact_names_are_files_and_directory_prefixes_are_directories() -> None:
    t = _tables(Slot(paths=PathSet(exact=frozenset({b"/etc/shadow"}))),
                Slot(paths=PathSet(prefix=frozenset({b"/etc/", b"/usr/bin", b"/etc/sudo"}),
                                   suffix=frozenset({b"/.bashrc"}))))
    nr = TABLE.nr("openat")
    assert filtermaps.inode_places(t) == {
        (nr, "/etc/shadow"): (0b01, 0),
        (nr, "/etc"): (0, 0b10),            # a prefix ending in / names a directory
        (nr, "/usr/bin"): (0, 0b10),        # ... and so does one that is a directory here
    }                                       # "/etc/sudo" is neither; a suffix names no place


def test_only_the_open_family_is_resolved() -> None:
    slot = Slot(paths=PathSet(exact=frozenset({b"/etc/shadow"})))
    assert filtermaps.inode_places(_tables(slot, name="unlinkat")) == {}
    assert filtermaps.inode_places(_tables(slot, name="creat")) != {}


def test_the_decoder_names_the_file_from_the_place_and_the_names_below_it() -> None:
    d = Decoder(TABLE, 0)
    d.inode_paths = ("/", "/etc", "/etc/shadow")
    assert d._resolved(2 << 8 | 0, b"") == "/etc/shadow"
    assert d._resolved(1 << 8 | 1, b"passwd\0") == "/etc/passwd"
    assert d._resolved(1 << 8 | 2, b"x\0cron.d\0") == "/etc/cron.d/x"
    assert d._resolved(0 << 8 | 1, b"tmp\0") == "/tmp"
    assert d._resolved(1 << 8 | 2, b"x\0") is None       # fewer names than levels: not trusted
    assert d._resolved(3 << 8 | 0, b"") is None           # an index the tables never gave
