"""syslog output: RFC 5424 messages to a local socket (`/dev/log`) or to UDP/TCP host:port.

    <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG

PRI is facility * 8 + severity, and Falco's priorities are syslog's severities in the same order
(Emergency = 0 ... Debug = 7). MSG is the alert line (JSON or escaped text): it holds no newline or
control character, so no alert can forge a second message. Over TCP each message is framed by its
length (RFC 6587 octet counting), which needs no delimiter at all.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime

from tiercel.common.priority import NAMES
from tiercel.config import FACILITIES
from tiercel.outputs.base import Format, Item, OutputError

MAX_DATAGRAM = 60_000  # below UDP's 65,507: a longer message is cut rather than refused


def facility_code(name: str) -> int:
    i = FACILITIES.index(name.lower())
    return i if i < 12 else i + 4  # codes 12-15 are reserved; local0 is 16


def _header_word(text: str, limit: int) -> str:
    """A header field: printable ASCII without spaces, or '-' (RFC 5424 NILVALUE)."""
    word = "".join(c for c in text if "!" <= c <= "~")[:limit]
    return word or "-"


class SyslogOutput:
    name = "syslog"
    max_retries = 3

    def __init__(self, fmt: Format, protocol: str = "unix", path: str = "/dev/log",
                 host: str = "127.0.0.1", port: int = 514, facility: str = "user",
                 app_name: str = "tiercel") -> None:
        self.fmt = fmt
        self.protocol = protocol
        self.address: str | tuple[str, int] = path if protocol == "unix" else (host, port)
        self.facility = facility_code(facility)
        self.app = _header_word(app_name, 48)
        self.pid = str(os.getpid())
        self.sock: socket.socket | None = None
        self.stream = protocol == "tcp"

    def message(self, item: Item) -> bytes:
        a = item.alert
        pri = self.facility * 8 + NAMES.index(a.priority)
        stamp = _timestamp(a.time)
        head = f"<{pri}>1 {stamp} {_header_word(a.hostname, 255)} {self.app} {self.pid} alert - "
        msg = head.encode() + item.line(self.fmt)
        return msg if self.stream else msg[:MAX_DATAGRAM]

    def _connect(self) -> socket.socket:
        if self.sock is not None:
            return self.sock
        try:
            self.sock = self._open_socket()
        except OSError as e:
            raise OutputError(f"syslog: cannot reach {self.address}: {e.strerror or e}") from e
        return self.sock

    def _open_socket(self) -> socket.socket:
        if self.protocol == "unix":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                s.connect(self.address)
                return s
            except OSError as e:
                s.close()
                if e.errno != 91:  # EPROTOTYPE: the socket is a stream one (older syslog daemons)
                    raise
            self.stream = True
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            family = socket.AF_INET6 if ":" in self.address[0] else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM if self.stream else socket.SOCK_DGRAM)
        try:
            s.connect(self.address)
        except OSError:
            s.close()
            raise
        return s

    def send(self, batch: Sequence[Item]) -> int:
        sock = self._connect()
        for i, item in enumerate(batch):
            msg = self.message(item)
            try:
                if self.stream:
                    sock.sendall(f"{len(msg)} ".encode() + msg)
                else:
                    sock.send(msg)
            except OSError as e:
                self.close()  # reconnect on the next attempt
                if i == 0:
                    raise OutputError(f"syslog: {e.strerror or e}") from e
                return i
        return len(batch)

    def reopen(self) -> None:
        pass  # the worker reconnects after any failure

    def close(self) -> None:
        if self.sock is not None:
            sock, self.sock = self.sock, None
            sock.close()


def _timestamp(ns: int) -> str:
    """RFC 5424's TIMESTAMP (microseconds), or '-' (NILVALUE) for a time beyond year 9999."""
    secs, frac = divmod(ns, 1_000_000_000)
    try:
        return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac // 1000:06d}Z"
    except (OverflowError, ValueError, OSError):
        return "-"
