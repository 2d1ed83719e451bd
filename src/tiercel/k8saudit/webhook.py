"""The audit webhook: the HTTP(S) endpoint the Kubernetes API server's audit webhook backend posts to.

Served by asyncio (one thread, one event loop, any number of connections up to a limit; TLS by the
`ssl` module) speaking HTTP/1.1 through h11 (a protocol library: parsing and framing, no I/O), so a
slow or idle client costs a socket, never a thread. What it answers, as the API server expects:

    POST <path> with an Event, an EventList or JSON lines     200, the events queued for the rules
    a body that is not audit events (or not JSON)             400   counted: bad_requests
    a body over max_body bytes (Content-Length or as read)    413   counted: too_large
    more requests per second than max_rate                    429   counted: rate_limited
    the event queue full (the rules are behind)               503   counted: queue_full
    another path 404, another method 405; an idle or slow client is closed after `timeout` s.

The API server's batch backend retries a failed post, so a 429 or 503 loses nothing; what was
refused is counted. `Webhook.take()` hands queued events to one consumer (the source's thread).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11

from tiercel.common.errors import TiercelError
from tiercel.k8saudit.events import Limits, NotAuditEvent, parse_body

Doc = dict[str, Any]


@dataclass(frozen=True)
class WebhookConfig:
    """Falco's k8saudit defaults: `http://:9765/k8s-audit`, 12 MiB bodies."""

    host: str = ""                      # "": every address
    port: int = 9765
    path: str = "/k8s-audit"
    certificate: str | None = None      # a PEM file with the certificate and its key: HTTPS
    max_body: int = 12_582_912          # bytes of one request body (webhookMaxBatchSize)
    max_connections: int = 256
    max_queue: int = 100_000            # events waiting for the rules
    max_rate: float = 0.0               # requests per second (0: unlimited), a burst of one second's
    timeout: float = 30.0               # seconds a client may take for a request (idle keep-alive too)

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate else "http"
        return f"{scheme}://{self.host or '0.0.0.0'}:{self.port}{self.path}"


@dataclass
class WebhookStats:
    requests: int = 0
    events: int = 0            # events accepted into the queue
    bad_requests: int = 0      # 400, 404, 405
    too_large: int = 0         # 413
    rate_limited: int = 0      # 429
    queue_full: int = 0        # 503
    connections_refused: int = 0

    @property
    def errors(self) -> int:
        return self.bad_requests + self.too_large + self.rate_limited + self.queue_full


@dataclass
class _Queue:
    """Batches of events, bounded by their total count; one consumer."""

    limit: int
    batches: collections.deque[list[Doc]] = field(default_factory=collections.deque)
    size: int = 0
    ready: threading.Condition = field(default_factory=threading.Condition)
    closed: bool = False

    def offer(self, docs: list[Doc]) -> bool:
        with self.ready:
            if self.size + len(docs) > self.limit:
                return False
            self.batches.append(docs)
            self.size += len(docs)
            self.ready.notify()
            return True

    def take(self, timeout: float) -> list[Doc] | None:
        with self.ready:
            if not self.batches and not self.closed:
                self.ready.wait(timeout)
            if not self.batches:
                return None
            docs = self.batches.popleft()
            self.size -= len(docs)
            return docs

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify_all()


class _Refused(Exception):
    def __init__(self, status: int, reason: str, count: Callable[[WebhookStats], None]) -> None:
        super().__init__(reason)
        self.status, self.reason, self.count = status, reason, count


class Webhook:
    """The server: `start()` binds and serves in its own thread; `stop()` closes everything."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self.stats = WebhookStats()
        self.port = config.port               # the bound port (another when 0 was asked)
        self._queue = _Queue(config.max_queue)
        self._limits = Limits(max_batch_size=config.max_body)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._connections = 0
        self._tokens = config.max_rate
        self._refilled = time.monotonic()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind (TiercelError, one line, when the address or the certificate is refused) and serve."""
        tls = self._tls_context()
        loop = asyncio.new_event_loop()
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._serve, self.config.host or None, self.config.port, ssl=tls,
                limit=262_144, backlog=128))
        except OSError as e:
            loop.close()
            raise TiercelError(f"k8s audit webhook: cannot listen on {self.config.host or '0.0.0.0'}:"
                               f"{self.config.port}: {e.strerror}") from None
        self.port = self._server.sockets[0].getsockname()[1]
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="k8s-audit-webhook", daemon=True)
        self._thread.start()

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.config.certificate:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            ctx.load_cert_chain(self.config.certificate)   # Falco's falco.pem: certificate and key
        except (OSError, ssl.SSLError) as e:
            raise TiercelError(f"k8s audit webhook: cannot use the certificate "
                               f"{self.config.certificate}: {getattr(e, 'strerror', None) or e}") from None
        return ctx

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        self._queue.close()
        if loop is None:
            return
        server = self._server

        async def shut() -> None:
            if server is not None:
                server.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2.0)
            loop.stop()
        asyncio.run_coroutine_threadsafe(shut(), loop)
        if self._thread is not None:
            self._thread.join(5.0)
        if not loop.is_running():
            loop.close()

    def take(self, timeout: float = 0.5) -> list[Doc] | None:
        """The next batch of queued events (None: none came within `timeout`, or stopped)."""
        return self._queue.take(timeout)

    @property
    def queued(self) -> int:
        return self._queue.size

    # -- one connection --------------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._connections >= self.config.max_connections:
            self.stats.connections_refused += 1
            writer.close()
            return
        self._connections += 1
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16_384)
        try:
            while await self._one_request(conn, reader, writer):
                conn.start_next_cycle()
        except (TimeoutError, h11.ProtocolError, ConnectionError, ssl.SSLError, OSError):
            pass
        finally:
            self._connections -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> Any:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(262_144), self.config.timeout)
            conn.receive_data(data)

    async def _one_request(self, conn: h11.Connection, reader: asyncio.StreamReader,
                           writer: asyncio.StreamWriter) -> bool:
        """Serve one request; whether the connection may carry another."""
        request = await self._next(conn, reader)
        if not isinstance(request, h11.Request):
            return False
        self.stats.requests += 1
        try:
            self._check(request)
            if conn.they_are_waiting_for_100_continue:   # curl's way with bodies over 1 MiB
                writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            body = await self._body(conn, reader)
            status, text = self._accept(body)
        except _Refused as e:
            e.count(self.stats)
            status, text = e.status, e.reason
        keep = conn.their_state is h11.DONE
        headers = [("content-type", "text/plain"), ("content-length", str(len(text) + 1))]
        if not keep:
            headers.append(("connection", "close"))
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
        writer.write(conn.send(h11.Data(data=text.encode() + b"\n")) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        if not keep:
            await self._linger(reader)
        return keep and conn.our_state is h11.DONE

    async def _linger(self, reader: asyncio.StreamReader) -> None:
        """Refused before its body was read: take (and drop) what the client is still sending, up
        to twice max_body and a second, so that it gets to read the answer instead of a reset."""
        budget = 2 * self.config.max_body
        end = time.monotonic() + 1.0
        while budget > 0 and (left := end - time.monotonic()) > 0:
            data = await asyncio.wait_for(reader.read(min(budget, 1 << 20)), left)
            if not data:
                return
            budget -= len(data)

    def _check(self, request: h11.Request) -> None:
        path = request.target.decode("latin-1").split("?", 1)[0]
        if path != self.config.path:
            raise _Refused(404, f"not found: the audit webhook is at {self.config.path}", _bad)
        if request.method != b"POST":
            raise _Refused(405, "only POST", _bad)
        length = dict(request.headers).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.config.max_body:
            raise _Refused(413, f"body over {self.config.max_body} bytes", _too_large)
        if not self._rate_ok():
            raise _Refused(429, "too many requests", _rate_limited)

    async def _body(self, conn: h11.Connection, reader: asyncio.StreamReader) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next(conn, reader)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > self.config.max_body:
                    raise _Refused(413, f"body over {self.config.max_body} bytes", _too_large)
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            else:
                raise h11.ProtocolError("connection closed in a request body")

    def _accept(self, body: bytes) -> tuple[int, str]:
        try:
            docs = parse_body(body, self._limits)
        except NotAuditEvent as e:
            raise _Refused(400, str(e), _bad) from None
        if docs and not self._queue.offer(docs):
            raise _Refused(503, "the event queue is full: retry later", _queue_full)
        self.stats.events += len(docs)
        return 200, "ok"

    def _rate_ok(self) -> bool:
        """A token bucket of max_rate requests per second (burst: one second's worth)."""
        rate = self.config.max_rate
        if rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(rate, self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _bad(s: WebhookStats) -> None:
    s.bad_requests += 1


def _too_large(s: WebhookStats) -> None:
    s.too_large += 1


def _rate_limited(s: WebhookStats) -> None:
    s.rate_limited += 1


def _queue_full(s: WebhookStats) -> None:
    s.queue_full += 1
