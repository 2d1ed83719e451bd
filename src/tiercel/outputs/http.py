"""http output: each alert POSTed as Falco's JSON alert, the body Falcosidekick accepts
(`output, priority, rule, time, output_fields, source, tags, hostname`).

One persistent connection; a refused connection or a non-2xx answer fails the attempt and the
dispatcher retries it with back-off (`http_output.max_retries`); the batch in hand is the bounded
retry buffer, the output's queue bounds the rest.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

from tiercel.config import HttpOutput as HttpConf
from tiercel.outputs.base import Format, Item, OutputError


class HttpOutput:
    name = "http"

    def __init__(self, conf: HttpConf, fmt: Format) -> None:
        self.fmt = Format(json=True, include_output=fmt.include_output, include_tags=fmt.include_tags)
        self.max_retries = conf.max_retries
        self.timeout = conf.timeout
        url = urlsplit(conf.url)
        self.https = url.scheme == "https"
        self.host = url.hostname or "localhost"
        self.port = url.port or (443 if self.https else 80)
        self.target = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self.headers = {"Content-Type": "application/json", "User-Agent": conf.user_agent,
                        **conf.custom_headers}
        self.context = _tls_context(conf) if self.https else None
        self.conn: http.client.HTTPConnection | None = None
        self.last_status = 0

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            if self.https:
                self.conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                                        context=self.context)
            else:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        return self.conn

    def _post(self, body: bytes) -> None:
        conn = self._connection()
        try:
            conn.request("POST", self.target, body=body, headers=self.headers)
            resp = conn.getresponse()
            resp.read()  # read it all, so the connection can carry the next request
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise OutputError(f"http: {e}") from e
        self.last_status = resp.status
        if resp.will_close:
            self.close()
        if not 200 <= resp.status < 300:
            raise OutputError(f"http: {resp.status} {resp.reason}")

    def send(self, batch: Sequence[Item]) -> int:
        for i, item in enumerate(batch):
            try:
                self._post(item.json(self.fmt))
            except OutputError:
                if i == 0:
                    raise
                return i
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            conn.close()


def _tls_context(conf: HttpConf) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=conf.ca_cert or conf.ca_bundle or None,
                                     capath=conf.ca_path or None)
    if conf.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
