"""The other ends of the syslog and http outputs, real servers on loopback (or a unix socket).

    DatagramReceiver(socket.AF_INET, ("127.0.0.1", 0))   syslog over UDP (or AF_UNIX and a path)
    TcpReceiver()                                         syslog over TCP, RFC 6587 octet counting
    HttpReceiver(fail_first=3)                            the http output: 500 three times, then 200

Each keeps what it received (`messages`, `bodies`), or with keep=False only counts it (`count`): a
long soak receives more alerts than are worth keeping. HttpReceiver answers 400 to a body that
Falcosidekick would not accept (`check_sidekick_body`), so an alert it takes is one sidekick takes.
Used by tiercel's output tests and its soak bench.
"""

from __future__ import annotations

import json
import socket
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tiercel.common.priority import NAMES as PRIORITIES

# What Falcosidekick's handler reads from an alert, and the type it wants.
SIDEKICK_FIELDS = {"output": str, "priority": str, "rule": str, "time": str, "output_fields": dict,
                   "source": str, "tags": list, "hostname": str}


def check_sidekick_body(body: bytes) -> dict[str, Any]:
    """The alert in `body`, if Falcosidekick's handler takes it: a JSON object with SIDEKICK_FIELDS'
    types, a known priority, an RFC 3339 time. AssertionError or ValueError if not."""
    doc: dict[str, Any] = json.loads(body)
    assert isinstance(doc, dict), doc
    for key, tp in SIDEKICK_FIELDS.items():
        assert isinstance(doc.get(key), tp), (key, doc.get(key))
    assert doc["priority"] in PRIORITIES
    datetime.fromisoformat(doc["time"][:26] + "+00:00")
    return doc


class DatagramReceiver:
    """A syslog receiver on a unix datagram socket or UDP loopback: one message a datagram."""

    def __init__(self, family: int, address: Any, keep: bool = True) -> None:
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        # room for a burst while the thread is not scheduled (the kernel caps it at rmem_max)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
        self.sock.bind(address)
        self.address = self.sock.getsockname()
        self.messages: list[bytes] = []
        self.count = 0
        self.keep = keep
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                message = self.sock.recv(1 << 17)
            except OSError:
                return
            if self.keep:
                self.messages.append(message)
            self.count += 1     # one thread writes it

    def close(self) -> None:
        self.sock.close()


class TcpReceiver:
    """A syslog receiver on TCP loopback (one connection) that splits RFC 6587 octet-counted frames."""

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


class HttpReceiver:
    """POST receiver on 127.0.0.1 (`url`): answers 500 to the first `fail_first` requests, 400 to a
    body sidekick would refuse (its error in `bad`), else 200 (`bodies` and `headers` kept, `count`)."""

    def __init__(self, fail_first: int = 0, keep: bool = True) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.bad: list[str] = []
        self.failed = 0
        self.count = 0
        self._fail_first, self._keep = fail_first, keep
        self._lock = threading.Lock()    # the server runs a thread per connection
        recv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"   # one connection for many alerts, as the output keeps it

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(recv._take(body, dict(self.headers)))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _take(self, body: bytes, headers: dict[str, str]) -> int:
        """The status to answer `body` with; what it received noted."""
        with self._lock:
            if self.failed < self._fail_first:
                self.failed += 1
                return 500
            try:
                doc = check_sidekick_body(body)
            except (AssertionError, ValueError) as e:
                self.bad.append(repr(e))
                return 400
            if self._keep:
                self.bodies.append(doc)
                self.headers.append(headers)
            self.count += 1
            return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
