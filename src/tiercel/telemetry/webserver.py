"""The optional web server: `/healthz` (Kubernetes probes), `/metrics` (Prometheus: Falco's
`falcosecurity_*` names, then tiercel's own `tiercel_*`) and `/versions` (JSON).

Bound to loopback unless `webserver.listen_address` says otherwise. No client can hold it: it is
served by asyncio on one thread of its own (no thread per connection), speaking HTTP/1.0 and 1.1
through h11 (a protocol library: parsing and framing, no I/O), as the k8s audit webhook is:

    connections       at most MAX_CONNECTIONS at once; one more is closed at once
    a request         its head within REQUEST_TIMEOUT s of the connection's last answer (or of
                      its start), whatever pace the bytes come at (a slowloris is closed); at most
                      MAX_HEAD bytes of head, MAX_REQUESTS requests per connection
    HTTP/0.9, junk    `400 Bad Request`, and the connection closed
    TLS on plain      its ClientHello (first byte 0x16) closes the connection at once
    a body            not read: the answer says `Connection: close`

The answers are built on the event loop's thread (a snapshot of counters, rendered): a bounded
amount of work per request, one request at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from http import HTTPStatus

import h11

from tiercel.config import Webserver
from tiercel.telemetry import falco_metrics
from tiercel.telemetry.stats import AgentStats, render_prometheus
from tiercel.telemetry.versions import versions

MAX_CONNECTIONS = 64
REQUEST_TIMEOUT = 10.0
MAX_HEAD = 16_384
MAX_REQUESTS = 1000
_TLS_HANDSHAKE = 0x16

Reply = tuple[int, str, bytes]


class WebServer:
    def __init__(self, conf: Webserver, snapshot: Callable[[], AgentStats]) -> None:
        """Bind now (OSError as the system gives it: a taken port, an address not here)."""
        self.conf = conf
        self.snapshot = snapshot
        family = socket.AF_INET6 if ":" in conf.listen_address else socket.AF_INET
        self.sock = socket.create_server((conf.listen_address, conf.listen_port), family=family,
                                         backlog=128, reuse_port=False)
        self.connections = 0
        self.refused = 0            # connections closed at once: over the limit
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._server = loop.run_until_complete(asyncio.start_server(self._serve, sock=self.sock))
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="webserver", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            self.sock.close()
            return
        server = self._server

        async def shut() -> None:
            if server is not None:
                server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:  # the connections still open: each closes in its `finally`
                task.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 2.0)
            loop.stop()
        asyncio.run_coroutine_threadsafe(shut(), loop)
        if self._thread is not None:
            self._thread.join(5.0)
        if not loop.is_running():
            loop.close()
        self.sock.close()

    # -- one connection --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= MAX_CONNECTIONS:
            self.refused += 1
            writer.close()
            return
        self.connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            for _ in range(MAX_REQUESTS):
                if not await self._one_request(conn, reader, writer):
                    break
                conn.start_next_cycle()
        except (TimeoutError, ConnectionError, OSError, h11.LocalProtocolError):
            pass
        finally:
            self.connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _one_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether the connection may carry another."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        try:
            request = await self._next_event(conn, reader, deadline)
        except h11.RemoteProtocolError:  # HTTP/0.9, junk, a head over MAX_HEAD
            await self._send(conn, writer, (400, "text/plain", b"bad request\n"), close=True)
            return False
        if not isinstance(request, h11.Request):
            return False   # the client closed (or said nothing) between requests
        if request.method not in (b"GET", b"HEAD"):
            reply: Reply = (405, "text/plain", b"only GET\n")
        else:
            reply = self._answer(request.target.decode("latin-1").split("?", 1)[0])
        has_body = any(k in (b"content-length", b"transfer-encoding") for k, _ in request.headers)
        if not has_body:  # its EndOfMessage is already there: no more bytes to wait for
            await self._next_event(conn, reader, deadline)
        close = has_body or conn.their_state is not h11.DONE
        await self._send(conn, writer, reply, close=close, head_only=request.method == b"HEAD")
        return not close and conn.our_state is h11.DONE

    async def _next_event(self, conn: h11.Connection, reader: asyncio.StreamReader,
                          deadline: float) -> object:
        first = conn.their_state is h11.IDLE and not conn.trailing_data[0]
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            data = await asyncio.wait_for(reader.read(65_536), left)
            if first and data[:1] == bytes([_TLS_HANDSHAKE]):
                raise ConnectionError("a TLS handshake on the plain HTTP port")
            first = False
            conn.receive_data(data)

    async def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, reply: Reply, *,
                    close: bool, head_only: bool = False) -> None:
        status, ctype, body = reply
        headers = [("content-type", ctype), ("content-length", str(len(body)))]
        if close:
            headers.append(("connection", "close"))
        response = h11.Response(status_code=status, headers=headers,
                                reason=HTTPStatus(status).phrase.encode())
        writer.write(conn.send(response) or b"")
        if not head_only:
            writer.write(conn.send(h11.Data(data=body)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT)

    def _answer(self, path: str) -> Reply:
        try:
            return self._route(path)
        except Exception as e:  # a counter that cannot be read is this request's failure only
            return 500, "text/plain", f"internal error: {type(e).__name__}\n".encode()

    def _route(self, path: str) -> Reply:
        if path == self.conf.k8s_healthz_endpoint:
            return 200, "application/json", b'{"status":"ok"}'
        if path == "/metrics" and self.conf.prometheus_metrics_enabled:
            stats = self.snapshot()
            body = falco_metrics.render(stats) + render_prometheus(stats).encode()
            return 200, "text/plain; version=0.0.4; charset=utf-8", body
        if path == "/versions":
            return 200, "application/json", json.dumps(versions()).encode()
        return 404, "text/plain", b"not found\n"
