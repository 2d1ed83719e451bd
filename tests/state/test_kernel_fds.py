"""The kernel as the fd table: a record's fd as the kernel described it (Event.kfd) makes Event.fd,
whatever records before it stayed in the kernel; the table is a cache the kernel's word replaces."""

from __future__ import annotations

import dataclasses
import socket
import struct

import pytest

from tiercel.events import wire
from tiercel.events.decode import kernel_fd
from tiercel.events.model import Event, Fd, KernelFd, Process
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing import events as te

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW = 1, 2, 3
S_IFSOCK, S_IFREG = 0o140000, 0o100000
PID = 4242


def tcp(num: int, laddr: str = "", lport: int = 0, raddr: str = "", rport: int = 0,
        family: int = AF_INET, sock_type: int = SOCK_STREAM, proto: int = 6) -> KernelFd:
    return KernelFd(num, S_IFSOCK | 0o777, family, sock_type, proto, laddr, lport, raddr, rport)


@pytest.fixture
def enricher() -> Enricher:
    table = ProcessTable()
    table.add(Process(pid=PID, ppid=1, comm="nc", exe="nc"), [PID])
    return Enricher(table=table)


def apply(enricher: Enricher, ev: Event, kfd: KernelFd) -> Event:
    ev.pid = ev.tid = PID
    ev.kfd = kfd
    return enricher.apply(ev)


def test_decoded_from_the_record() -> None:
    lo, peer = socket.inet_aton("127.0.0.1"), socket.inet_aton("10.1.2.3")
    k = kernel_fd((5, S_IFSOCK, AF_INET, SOCK_STREAM, 6, 40000, 443, lo + bytes(12), peer + bytes(12), 0))
    assert k == KernelFd(5, S_IFSOCK, AF_INET, SOCK_STREAM, 6, "127.0.0.1", 40000, "10.1.2.3", 443)
    # all zeros is no address (unbound, not connected); a port makes 0.0.0.0 an address (bound to any)
    assert kernel_fd((5, S_IFSOCK, AF_INET, 1, 6, 0, 0, bytes(16), bytes(16), 0)).laddr == ""
    assert kernel_fd((5, S_IFSOCK, AF_INET, 1, 6, 80, 0, bytes(16), bytes(16), 0)).laddr == "0.0.0.0"
    v6 = socket.inet_pton(socket.AF_INET6, "::1")
    assert kernel_fd((5, S_IFSOCK, AF_INET6, 1, 6, 80, 0, v6, bytes(16), 0)).laddr == "::1"
    assert kernel_fd((5, S_IFSOCK, AF_UNIX, 1, 0, 0, 0, bytes(16), bytes(16), 0)).laddr == ""


def test_the_record_layout_holds_the_description() -> None:
    """wire.SYSCALL's fields 22..30 are fd_info's, as events.h lays them out."""
    raw = bytearray(wire.SYSCALL.size)
    off = wire.RecSyscall.fdi.offset
    struct.pack_into("<i6H", raw, off, 7, S_IFSOCK, AF_INET, SOCK_DGRAM, 17, 5353, 53)
    assert wire.SYSCALL.unpack_from(raw)[22:29] == (7, S_IFSOCK, AF_INET, SOCK_DGRAM, 17, 5353, 53)


def test_connect_on_a_socket_never_seen(enricher: Enricher) -> None:
    """The socket() record stayed in the kernel: connect's fd is the kernel's, both ends and proto."""
    ev = apply(enricher, te.connect(3, ("inet", "192.0.2.7", 4444)),
               tcp(3, "10.0.0.5", 51000, "192.0.2.7", 4444))
    fd = ev.fd
    assert fd is not None
    assert (fd.typechar, fd.l4proto, fd.is_server) == ("4", "tcp", False)
    assert (fd.cip, fd.cport, fd.sip, fd.sport) == ("10.0.0.5", 51000, "192.0.2.7", 4444)
    assert fd.name == "10.0.0.5:51000->192.0.2.7:4444" == ev.args["tuple"]


def test_a_failed_connect_keeps_the_address_it_was_given(enricher: Enricher) -> None:
    ev = apply(enricher, te.connect(3, ("inet", "192.0.2.7", 4444), res=-111), tcp(3))
    assert ev.fd is not None and (ev.fd.sip, ev.fd.sport) == ("192.0.2.7", 4444)
    assert ev.fd.l4proto == ""          # no end yet: libsinsp's <NA>


def test_accept_is_the_server_end(enricher: Enricher) -> None:
    ev = apply(enricher, te.accept(3, ("inet", "198.51.100.9", 33000), res=4),
               tcp(4, "10.0.0.5", 8080, "198.51.100.9", 33000))
    assert ev.fd is not None and ev.fd.is_server
    assert (ev.fd.sip, ev.fd.sport, ev.fd.cip, ev.fd.cport) == ("10.0.0.5", 8080, "198.51.100.9", 33000)


def test_udp_raw_unix_and_netlink(enricher: Enricher) -> None:
    udp = apply(enricher, te.connect(3, ("inet", "127.0.0.53", 53)),
                tcp(3, "127.0.0.1", 5000, "127.0.0.53", 53, sock_type=SOCK_DGRAM, proto=17))
    assert udp.fd is not None and udp.fd.l4proto == "udp"
    raw = apply(enricher, te.connect(5, ("inet", "192.0.2.1", 0)),
                tcp(5, "10.0.0.5", 1, "192.0.2.1", 0, sock_type=SOCK_RAW, proto=1))
    assert raw.fd is not None and raw.fd.l4proto == "raw"
    unix = apply(enricher, te.connect(6, ("unix", "/run/x.sock")),
                 KernelFd(6, S_IFSOCK, AF_UNIX, SOCK_STREAM, 0))
    assert unix.fd is not None and (unix.fd.typechar, unix.fd.l4proto) == ("u", "")
    assert unix.fd.name == "/run/x.sock"
    nl = apply(enricher, te.syscall("bind", {"fd": 7}), KernelFd(7, S_IFSOCK, AF_NETLINK, SOCK_RAW, 0))
    assert nl.fd is not None and (nl.fd.typechar, nl.fd.l4proto) == ("n", "")


def test_a_socket_duplicated_onto_stdin(enricher: Enricher) -> None:
    """A reverse shell's dup2(sock, 0), the socket never seen: fd 0 is the kernel's socket."""
    ev = apply(enricher, te.dup2(3, 0, res=0), tcp(0, "10.0.0.5", 51000, "192.0.2.7", 4444))
    proc = enricher.table.procs[PID]
    assert ev.fd is proc.fds[0]
    assert (ev.fd.typechar, ev.fd.num, ev.fd.sip, ev.fd.sport) == ("4", 0, "192.0.2.7", 4444)


def test_a_stale_entry_is_replaced(enricher: Enricher) -> None:
    proc = enricher.table.procs[PID]
    proc.fds[3] = Fd(3, "f", "/etc/hosts")
    ev = apply(enricher, te.connect(3, ("inet", "192.0.2.7", 80)), tcp(3, "10.0.0.5", 40000, "192.0.2.7", 80))
    assert proc.fds[3].typechar == "4" and ev.fd is proc.fds[3]
    # and a socket the table still holds for a number the kernel says is a file now is forgotten
    proc.fds[4] = Fd(4, "4", "1.2.3.4:5->6.7.8.9:10")
    ev = apply(enricher, te.dup(1, res=4), KernelFd(4, S_IFREG, 0))
    assert 4 not in proc.fds


def test_fcntl_describes_only_the_copies(enricher: Enricher) -> None:
    """fcntl's result is an fd only for F_DUPFD(_CLOEXEC): F_GETFL's flags are no fd number."""
    proc = enricher.table.procs[PID]
    proc.fds[5] = Fd(5, "f", "/var/log/x")
    peer = tcp(2, "10.0.0.5", 1, "10.0.0.6", 2)
    ev = apply(enricher, te.syscall("fcntl", {"fd": 5, "cmd": 3}, res=2), peer)
    assert 2 not in proc.fds and ev.fd is proc.fds[5]
    ev = apply(enricher, te.syscall("fcntl", {"fd": 5, "cmd": 0}, res=9), dataclasses.replace(peer, num=9))
    assert ev.fd is proc.fds[9] and proc.fds[9].typechar == "4"
