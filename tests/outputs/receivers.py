"""Real receivers on loopback for the output tests: syslog (unix, UDP, TCP) and an HTTP server that
checks each body is what Falcosidekick accepts. Plus synthetic alerts, nasty ones included."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tiercel.outputs.alert import Alert
from tiercel.priority import NAMES as PRIORITIES

# Newlines, quotes, control characters, a C1 control, U+2028, and bytes that are not UTF-8
# (as `surrogateescape` leaves them in a str).
NASTY = 'a\nb\r\n"quoted" \\ \x00\x1b[31m\x85\u2028 end' + b"\xff\xfe".decode("utf-8", "surrogateescape")


def make_alert(i: int = 0, text: str = "", priority: str = "Warning") -> Alert:
    msg = f"alert {i} {text}"
    return Alert(time=1_700_000_000_000_000_000 + i, rule=f"Rule {text}", priority=priority,
                 source="syscall", output=f"12:00:00.000000000: {priority} {msg}",
                 output_fields={"proc.cmdline": f"cat {text}", "fd.name": text, "n": i,
                                "raw": text.encode("utf-8", "surrogateescape")},
                 tags=("test", text), hostname="host")


def wait_until(cond: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.01)


class DatagramReceiver:
    """A syslog receiver on a unix datagram socket or UDP loopback; keeps every datagram."""

    def __init__(self, family: int, address: Any) -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.bind(address)
        self.address = self.sock.getsockname()
        self.messages: list[bytes] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.messages.append(self.sock.recv(1 << 17))
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()


class TcpReceiver:
    """A syslog receiver on TCP loopback that splits RFC 6587 octet-counted frames."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = self.server.getsockname()
        self.messages: list[bytes] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        conn, _ = self.server.accept()
        buf = b""
        while chunk := conn.recv(65536):
            buf += chunk
            while b" " in buf:
                size, _, rest = buf.partition(b" ")
                if len(rest) < int(size):
                    break
                self.messages.append(rest[:int(size)])
                buf = rest[int(size):]

    def close(self) -> None:
        self.server.close()


SIDEKICK_FIELDS = {"output": str, "priority": str, "rule": str, "time": str, "output_fields": dict,
                   "source": str, "tags": list, "hostname": str}


def check_sidekick_body(body: bytes) -> dict[str, Any]:
    """What Falcosidekick's handler needs: a JSON object with these types, a known priority, an
    RFC 3339 time."""
    doc = json.loads(body)
    for key, tp in SIDEKICK_FIELDS.items():
        assert isinstance(doc.get(key), tp), (key, doc.get(key))
    assert doc["priority"] in PRIORITIES
    datetime.fromisoformat(doc["time"][:26] + "+00:00")
    return doc


class HttpReceiver:
    """POST receiver on 127.0.0.1: answers 500 to the first `fail_first` requests, then 200."""

    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.failed = 0
        self.headers: list[dict[str, str]] = []
        self.bad: list[str] = []
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if recv.failed < fail_first:
                    recv.failed += 1
                    return self._reply(500)
                try:
                    recv.bodies.append(check_sidekick_body(body))
                    recv.headers.append(dict(self.headers))
                except (AssertionError, ValueError) as e:
                    recv.bad.append(repr(e))
                    return self._reply(400)
                return self._reply(200)

            def _reply(self, code: int) -> None:
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lines_of(path: str | os.PathLike[str]) -> list[bytes]:
    with open(path, "rb") as f:
        return f.read().splitlines()
