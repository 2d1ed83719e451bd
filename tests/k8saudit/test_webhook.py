"""The audit webhook through `tiercel run` (engine.kind: nodriver, Falco's k8saudit plugin settings):
Falco 0.31.1's audit traces posted over loopback, one by one and batched in an EventList, with a
malformed and an oversized body among them, give the same alerts as their replay with -e; the bad
requests get a 4xx and are counted, nothing else is lost. Over HTTPS too (a throwaway certificate).

No kernel is involved (nodriver): these run with the offline tests.
"""

from __future__ import annotations

import http.client
import io
import ssl
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from tiercel.commands.agent import Agent, run_agent
from tiercel.commands.options import RunOptions
from tiercel.k8saudit.source import AuditWebhookSource

SUITE = "k8s-audit/falco-0.31.1"
MAX_BODY = 1_000_000


def _traces(oracles: Path) -> list[bytes]:
    files = sorted((oracles / SUITE / "test/trace_files/k8s_audit").glob("*.json"))
    return [f.read_bytes() for f in files if f.name != "fal_01_003.json"]   # that one is not an event


def _config(tmp_path: Path, scheme: str = "http", cert: Path | None = None) -> Path:
    init = f"\n      sslCertificate: {cert}" if cert else ""
    path = tmp_path / "falco.yaml"
    path.write_text(f"""
engine: {{kind: nodriver}}
load_plugins: [k8saudit, json]
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config:
      webhookMaxBatchSize: {MAX_BODY}{init}
    open_params: "{scheme}://127.0.0.1:0/k8s-audit"
  - name: json
    library_path: libjson.so
    init_config: ""
""")
    return path


def _alerts(text: str) -> Counter[tuple[str, str]]:
    docs = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    return Counter((d["rule"], d["output"]) for d in docs)


def _replayed(oracles: Path, rules: list[Path], traces: list[bytes], tmp_path: Path) -> Counter[Any]:
    trace = tmp_path / "all.json"
    trace.write_bytes(b"\n".join(t.strip() for t in traces) + b"\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_agent(RunOptions(rules=rules, trace=trace, json=True), out, err) == 0, err.getvalue()
    return _alerts(out.getvalue())


@dataclass
class Served:
    """A run of `tiercel run` (in this thread: it installs signal handlers) while `client` ran in
    another thread against its webhook; the run stops when the client returns."""

    result: Any
    code: int
    out: str
    err: str
    source: AuditWebhookSource


def serve(opts: RunOptions, client: Callable[[int], Any]) -> Served:
    out, err = io.StringIO(), io.StringIO()
    agent = Agent(opts, out, err)
    result: list[Any] = []

    def drive() -> None:
        try:
            deadline = time.monotonic() + 20
            while not agent.started:   # the source has started: the webhook is bound
                if time.monotonic() > deadline:
                    return
                time.sleep(0.01)
            assert isinstance(agent.source, AuditWebhookSource)
            result.append(client(agent.source.webhook.port))
        finally:
            agent.request_stop(0)

    thread = threading.Thread(target=drive, daemon=True)
    thread.start()
    code = agent.run()
    thread.join(30)
    assert result, err.getvalue()
    assert isinstance(agent.source, AuditWebhookSource)
    return Served(result[0], code, out.getvalue(), err.getvalue(), agent.source)


def _post(conn: http.client.HTTPConnection, body: bytes) -> int:
    conn.request("POST", "/k8s-audit", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.getheader("connection") == "close":
        conn.close()   # reconnects on the next request
    return response.status


def _rules(oracles: Path) -> list[Path]:
    return [oracles / SUITE / "rules/falco_rules.yaml", oracles / SUITE / "rules/k8s_audit_rules.yaml"]


def test_posted_traces_alert_as_replayed(oracles: Path, tmp_path: Path) -> None:
    traces = _traces(oracles)
    expected = _replayed(oracles, _rules(oracles), traces, tmp_path)
    assert sum(expected.values()) >= 30
    half = len(traces) // 2

    def client(port: int) -> list[int]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        statuses = [_post(conn, t) for t in traces[:half]]                       # one by one
        statuses.append(_post(conn, b'{"kind": "Event", "auditID": '))            # malformed
        statuses.append(_post(conn, b'{"kind": 0}'))                               # not an event
        statuses.append(_post(conn, b"[" + b" " * MAX_BODY + b"]"))               # oversized
        items = b",".join(line for t in traces[half:] for line in t.splitlines() if line.strip())
        statuses.append(_post(conn, b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":['
                              + items + b"]}"))                                   # batched
        conn.request("GET", "/k8s-audit")
        statuses.append(conn.getresponse().status)
        return statuses

    run = serve(RunOptions(rules=_rules(oracles), config=_config(tmp_path), json=True), client)
    assert run.code == 0, run.err
    statuses = run.result
    assert statuses == [200] * half + [400, 400, 413, 200, 405]
    stats = run.source.webhook.stats
    events = sum(1 for t in traces for line in t.splitlines() if line.strip())
    assert (stats.bad_requests, stats.too_large, stats.events) == (3, 1, events)
    assert _alerts(run.out) == expected
    assert "k8s audit webhook: " in run.err


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(crt)],
                   check=True, capture_output=True)
    pem = tmp_path / "falco.pem"   # as Falco's falco.pem: the certificate and its key in one file
    pem.write_bytes(crt.read_bytes() + key.read_bytes())
    return pem


def test_https_webhook(oracles: Path, tmp_path: Path, certificate: Path) -> None:
    trace = (oracles / SUITE / "test/trace_files/k8s_audit/create_nginx_pod_privileged.json").read_bytes()

    def client(port: int) -> tuple[int, bool]:
        ctx = ssl.create_default_context(cafile=str(certificate))
        ctx.check_hostname = False
        status = _post(http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx), trace)
        try:   # no plain HTTP on it
            _post(http.client.HTTPConnection("127.0.0.1", port, timeout=10), trace)
            plain_refused = False
        except (ConnectionError, http.client.HTTPException):
            plain_refused = True
        return status, plain_refused

    run = serve(RunOptions(rules=_rules(oracles), config=_config(tmp_path, "https", certificate),
                           json=True), client)
    assert run.result == (200, True)
    assert [rule for rule, _ in _alerts(run.out)] == ["Create Privileged Pod"]


def test_a_certificate_that_cannot_be_used_is_one_line(tmp_path: Path, oracles: Path) -> None:
    err = io.StringIO()
    opts = RunOptions(rules=_rules(oracles), config=_config(tmp_path, "https", tmp_path / "none.pem"))
    with pytest.raises(Exception) as info:
        run_agent(opts, io.StringIO(), err)
    assert "cannot use the certificate" in str(info.value) and "\n" not in str(info.value)
