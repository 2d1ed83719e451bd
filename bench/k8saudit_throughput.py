"""Kubernetes audit events per second through the webhook, the agent on one core (goal: 20,000/s).

`tiercel run` (engine.kind: nodriver, Falco's k8saudit plugin settings, today's plugin rules and
0.31.1's, JSON alerts to /dev/null) is pinned to CPU 0; this process, on CPU 1, posts EventLists of
`--batch` events (the API server's webhook batches up to 400) made of Falco 0.31.1's audit traces
over loopback, keep-alive, as fast as the agent answers, then stops it. The agent drains its queue
before it exits, so every event posted has been through the rules: the rate is the events over the
time from the first post to the exit, and the agent's CPU seconds say how much of one core it took.

    flock /tmp/tiercel-live.lock .venv/bin/python bench/k8saudit_throughput.py [--events 200000]

Prints the figures; asserts nothing (docs/benchmarks.md keeps measured ones).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
TIERCEL = CHECKOUT / ".venv" / "bin" / "tiercel"
ORACLES = Path(os.environ.get("TIERCEL_ORACLES", CHECKOUT.parent / "shared" / "oracles")) / "k8s-audit"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _events() -> list[bytes]:
    out = []
    for f in sorted((ORACLES / "falco-0.31.1/test/trace_files/k8s_audit").glob("*.json")):
        out += [line.strip() for line in f.read_bytes().splitlines() if b'"auditID"' in line]
    return out


def _background(events: list[bytes]) -> list[bytes]:
    """The same events as a controller's lease renewals (update leases, a system user): what most
    of a cluster's audit stream is, and what no rule alerts on."""
    out = []
    for e in events:
        doc = json.loads(e)
        doc["verb"] = "update"
        doc["user"] = {"username": "system:kube-controller-manager", "groups": ["system:authenticated"]}
        doc["objectRef"] = {"resource": "leases", "namespace": "kube-node-lease", "name": "node-1",
                            "apiGroup": "coordination.k8s.io", "apiVersion": "v1"}
        out.append(json.dumps(doc, separators=(",", ":")).encode())
    return out


def _bodies(events: list[bytes], background: list[bytes], batch: int, share: float) -> list[bytes]:
    """16 EventLists of `batch` events, `share` of them Falco's traces, the rest background."""
    bodies = []
    for b in range(16):
        items = [events[(b * batch + i) % len(events)] if ((b * batch + i) * share) % 1 + share >= 1 else
                 background[(b * batch + i) % len(background)] for i in range(batch)]
        bodies.append(b'{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":['
                      + b",".join(items) + b"]}")
    return bodies


def _config(port: int, directory: Path) -> Path:
    path = directory / "falco.yaml"
    path.write_text(f"""engine: {{kind: nodriver}}
load_plugins: [k8saudit, json]
plugins:
  - name: k8saudit
    library_path: libk8saudit.so
    init_config: {{webhookMaxBatchSize: 67108864}}
    open_params: "http://127.0.0.1:{port}/k8s-audit"
json_output: true
""")
    return path


def _wait_listening(port: int, agent: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited: {agent.stderr.read().decode() if agent.stderr else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the webhook did not start listening")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=200_000, help="events to post (default 200,000)")
    ap.add_argument("--batch", type=int, default=400, help="events per request (default 400)")
    ap.add_argument("-r", "--rules", type=Path, action="append",
                    help="rules file or directory (default: today's k8saudit plugin rules)")
    ap.add_argument("--share", type=float, default=0.1,
                    help="share of Falco's alerting traces among the events (default 0.1)")
    args = ap.parse_args()
    if not ORACLES.is_dir():
        print(f"k8saudit_throughput: no oracle files at {ORACLES}", file=sys.stderr)
        return 2
    events = _events()
    bodies = _bodies(events, _background(events), args.batch, args.share)
    rules = args.rules or [ORACLES / "plugin-k8saudit/k8s_audit_rules.yaml"]
    port = _free_port()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["taskset", "-c", "0", str(TIERCEL), "run", "--stats", "-c", str(_config(port, Path(tmp)))]
        for r in rules:
            cmd += ["-r", str(r)]
        os.sched_setaffinity(0, {1} if os.cpu_count() and os.cpu_count() > 1 else {0})  # type: ignore[operator]
        agent = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _wait_listening(port, agent)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        posted = refused = 0
        start = time.monotonic()
        i = 0
        while posted < args.events:
            conn.request("POST", "/k8s-audit", bodies[i % len(bodies)], {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                posted += args.batch
            else:
                refused += 1
            i += 1
        post_s = time.monotonic() - start
        agent.send_signal(signal.SIGINT)
        _, stderr = agent.communicate(timeout=300)
        total_s = time.monotonic() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = stderr.decode()
    detected = re.search(r"Events detected: (\d+)", text)
    print(f"k8saudit_throughput: {posted} events in {i} requests of {args.batch} ({args.share:.0%} "
          f"Falco 0.31.1's {len(events)} audit traces, the rest lease renewals), rules "
          f"{', '.join(r.name for r in rules)}; {refused} requests refused (queue full: retried)")
    print(f"  posted in {post_s:.2f} s: {posted / post_s:,.0f} events/s accepted by the webhook")
    print(f"  through the rules in {total_s:.2f} s: {posted / total_s:,.0f} events/s (agent on one core)")
    print(f"  agent CPU: {usage.ru_utime + usage.ru_stime:.2f} s; alerts: "
          f"{detected[1] if detected else '?'}; goal 20,000 events/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
