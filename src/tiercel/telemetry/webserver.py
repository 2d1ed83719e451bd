"""The optional web server: `/healthz` (Kubernetes liveness) and `/metrics` (Prometheus).

Bound to loopback unless `webserver.listen_address` says otherwise; it serves from its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tiercel.config import Webserver
from tiercel.telemetry.stats import AgentStats, render_prometheus


class WebServer:
    def __init__(self, conf: Webserver, snapshot: Callable[[], AgentStats]) -> None:
        healthz, metrics = conf.k8s_healthz_endpoint, conf.prometheus_metrics_enabled

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == healthz:
                    self._reply(200, "application/json", b'{"status":"ok"}')
                elif path == "/metrics" and metrics:
                    body = render_prometheus(snapshot()).encode()
                    self._reply(200, "text/plain; version=0.0.4", body)
                else:
                    self._reply(404, "text/plain", b"not found\n")

            def _reply(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # stderr belongs to the agent's own messages

        self.server = ThreadingHTTPServer((conf.listen_address, conf.listen_port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="webserver", daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
