"""The optional web server: `/healthz` (Kubernetes probes), `/metrics` (Prometheus: Falco's
`falcosecurity_*` names, then tiercel's own `tiercel_*`) and `/versions` (JSON).

Bound to loopback unless `webserver.listen_address` says otherwise; it serves from its own thread.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tiercel.config import Webserver
from tiercel.telemetry import falco_metrics
from tiercel.telemetry.stats import AgentStats, render_prometheus
from tiercel.telemetry.versions import versions


class WebServer:
    def __init__(self, conf: Webserver, snapshot: Callable[[], AgentStats]) -> None:
        healthz, metrics = conf.k8s_healthz_endpoint, conf.prometheus_metrics_enabled

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == healthz:
                    self._reply(200, "application/json", b'{"status":"ok"}')
                elif path == "/metrics" and metrics:
                    stats = snapshot()
                    body = falco_metrics.render(stats) + render_prometheus(stats).encode()
                    self._reply(200, "text/plain; version=0.0.4; charset=utf-8", body)
                elif path == "/versions":
                    self._reply(200, "application/json", json.dumps(versions()).encode())
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
