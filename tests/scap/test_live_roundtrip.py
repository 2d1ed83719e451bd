"""A live capture written by `tiercel capture -w` replays to the alerts the live run produced.

One workload run (roundtrip_workload.c: reads /etc/shadow, execs cat and a copy of true in
/dev/shm, symlinks to /etc/shadow, connects to itself over loopback, writes and removes a file
below /etc) is watched at once by `tiercel capture -w FILE.scap` and by a live `tiercel run` with
the upstream stable rules plus roundtrip_rules.yaml. Then:

- `sysdig -r FILE` reads the capture, and shows the workload's events by type and process;
- `tiercel run -e FILE` gives the workload's processes the same alerts as the live run did: same
  rules, same counts, same output and output fields.

Both agents see the whole host; alerts are compared for the workload's processes only (pid and
ppid are added to every alert's output_fields with append_output). No sleeps: the live run's
alert for the workload's exit is the condition that everything has been seen.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.livecapture import build_c, read_line, wait_for
from tiercel.scap.encode import SYSDIG_029_MAX
from tiercel.scap.reader import CaptureReader

pytestmark = pytest.mark.live
HERE = Path(__file__).resolve().parent
UPSTREAM = "rules/falco_rules.yaml"  # under the oracle directory
CONFIG = """\
rule_matching: all
append_output:
  - extra_fields: [proc.pid, proc.ppid]
"""
TIERCEL = [sys.executable, "-m", "tiercel.cli"]


def ours(alerts: list[dict[str, Any]], pid: int) -> list[dict[str, Any]]:
    """The alerts of the workload and its children."""
    return [a for a in alerts if pid in (a["output_fields"].get("proc.pid"),
                                         a["output_fields"].get("proc.ppid"))]


def key(alert: dict[str, Any]) -> tuple[str, str, str, str]:
    """An alert without its time. The capture and the live run are two agents, each converting
    the kernel's boot-time clock to wall time at its own start: their times differ by a few
    microseconds (checked separately). The live run's message may end with a space."""
    fields = {k: v for k, v in alert["output_fields"].items() if k != "evt.time"}
    text = alert["output"].split(" ", 1)[1].rstrip()
    return alert["rule"], alert["priority"], text, json.dumps(fields, sort_keys=True)


def stop(proc: subprocess.Popen[bytes]) -> bytes:
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0
    return out


@pytest.fixture
def workload(tmp_path: Path) -> Any:
    exe = build_c(HERE / "roundtrip_workload.c", tmp_path / "tiercel-rtwork")
    shm = Path(f"/dev/shm/tiercel-rt-true-{os.getpid()}")
    shutil.copy("/bin/true", shm)
    try:
        yield [str(exe), str(tmp_path), str(shm)]
    finally:
        shm.unlink(missing_ok=True)


@pytest.mark.skipif(shutil.which("sysdig") is None, reason="sysdig is installed by ci/setup.sh")
def test_capture_replays_to_the_live_alerts(oracles: Path, tmp_path: Path, workload: list[str]) -> None:
    scap = tmp_path / "live.scap"
    conf = tmp_path / "tiercel.yaml"
    conf.write_text(CONFIG)
    rules = [a for r in (oracles / UPSTREAM, HERE / "roundtrip_rules.yaml") for a in ("-r", str(r))]
    run = [*TIERCEL, "run", *rules, "-c", str(conf), "--json"]
    capture = subprocess.Popen([*TIERCEL, "capture", "-w", str(scap)], stderr=subprocess.PIPE)
    live = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    live_alerts: list[dict[str, Any]] = []
    try:
        assert capture.stderr is not None and live.stdout is not None and live.stderr is not None
        wait_for(capture.stderr.fileno(), "tiercel: capturing")
        wait_for(live.stderr.fileno(), "tiercel: running")
        work = subprocess.Popen(workload, stderr=subprocess.PIPE)
        _, err = work.communicate(timeout=60)
        assert work.returncode == 0, err
        deadline = time.monotonic() + 60
        while not any(a["rule"] == "rt workload exit" for a in ours(live_alerts, work.pid)):
            live_alerts.append(json.loads(read_line(live.stdout.fileno(), deadline)))
    finally:
        capture.send_signal(signal.SIGINT)
        live.send_signal(signal.SIGINT)
        capture.communicate(timeout=120)
        live.communicate(timeout=120)
    assert capture.returncode == 0
    pid = work.pid
    live_ours = ours(live_alerts, pid)
    rules_seen = Counter(a["rule"] for a in live_ours)
    assert rules_seen == {
        "Read sensitive file untrusted": 2, "Create Symlink Over Sensitive Files": 1,
        "Execution from /dev/shm": 1, "rt program started": 2, "rt loopback connect": 1,
        "rt loopback accept": 1, "rt write below etc": 1, "rt unlink": 2, "rt workload exit": 1,
    }

    replay = subprocess.run([*TIERCEL, "run", *rules, "-c", str(conf), "--json", "-e", str(scap)],
                            capture_output=True, timeout=600)
    assert replay.returncode == 0, replay.stderr
    replayed = ours([json.loads(line) for line in replay.stdout.splitlines()], pid)
    assert Counter(map(key, replayed)) == Counter(map(key, live_ours))
    skew = [abs(a["output_fields"]["evt.time"] - b["output_fields"]["evt.time"])
            for a, b in zip(sorted(live_ours, key=key), sorted(replayed, key=key), strict=True)]
    assert max(skew) < 1_000_000, skew

    check_sysdig_reads(scap, pid)



def check_sysdig_reads(scap: Path, pid: int) -> None:
    """sysdig reads the whole capture (the events it knows: as many as tiercel reads back) and
    shows the workload's syscalls, each once, by type and process."""
    with CaptureReader(scap) as r:
        known = sum(1 for e in r.events() if e.code < SYSDIG_029_MAX)
    fmt = "*%evt.dir %evt.type %proc.pid %proc.ppid %proc.name %fd.name"  # *: print all
    res = subprocess.run(["sysdig", "-r", str(scap), "-p", fmt], capture_output=True, text=True,
                         check=True, timeout=600)
    lines = res.stdout.splitlines()
    assert len(lines) == known
    work: Counter[tuple[str, str, str]] = Counter()
    for line in lines:
        d, etype, tpid, tppid, name, fdname = [*line.split(" ", 5), ""][:6]
        if d == "<" and str(pid) in (tpid, tppid):
            work[(etype, name, "" if fdname == "<NA>" else fdname)] += 1
    expected = {
        ("openat", "tiercel-rtwork", "/etc/shadow"): 1,
        ("execve", "cat", ""): 1,
        ("openat", "cat", "/etc/shadow"): 1,
        ("symlink", "tiercel-rtwork", ""): 1,
        ("execve", "tiercel-rt-true", ""): 1,
        ("openat", "tiercel-rtwork", f"/etc/tiercel-rt-{pid}.conf"): 1,
        ("unlink", "tiercel-rtwork", ""): 2,
    }
    for k, n in expected.items():
        assert work[k] == n, (k, work)
    # both ends of the loopback connection, as the kernel had them (probe: fd_describe), ports and all
    for etype in ("connect", "accept"):
        named = [k for k in work if k[:2] == (etype, "tiercel-rtwork")]
        assert len(named) == 1 and work[named[0]] == 1, (etype, work)
        assert re.fullmatch(r"127\.0\.0\.1:[1-9]\d*->127\.0\.0\.1:[1-9]\d*", named[0][2]), named
