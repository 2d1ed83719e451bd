"""open_params file://: the API server's audit log followed as it grows, through a half-written line,
a bad line, a rotation (rename and a new file) and a truncation."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson

from tiercel.k8saudit.follow import AuditLogFollower


def _line(n: int) -> bytes:
    return orjson.dumps({"kind": "Event", "auditID": str(n), "verb": "get"}) + b"\n"


def _wait(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_follows_growth_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_bytes(_line(1) + _line(2))
    ids: list[str] = []
    said: list[str] = []
    follower = AuditLogFollower(log, lambda ev: ids.append(ev.doc["auditID"]),  # type: ignore[attr-defined]
                                said.append, poll=0.01)
    follower.start()
    thread = threading.Thread(target=follower.run, args=(None,), daemon=True)
    thread.start()
    try:
        _wait(lambda: ids == ["1", "2"], "the lines already there")
        with log.open("ab") as f:
            f.write(_line(3)[:10])              # half a line: waits for the rest
            f.flush()
            f.write(_line(3)[10:] + b'{"kind": 0}\n' + _line(4))
        _wait(lambda: ids == ["1", "2", "3", "4"], "appended lines, the bad one skipped")
        log.rename(tmp_path / "audit.log.1")    # rotated: a new file under the name
        (tmp_path / "audit.log.1").open("ab").write(_line(5))   # the old one's last words
        log.write_bytes(_line(6) + _line(7))
        _wait(lambda: ids[4:] == ["5", "6", "7"], "the rotated file's end, then the new file")
        log.write_bytes(_line(8))               # truncated in place, rewritten shorter
        _wait(lambda: ids[7:] == ["8"], "the truncated file from its start")
    finally:
        follower.interrupt()
        thread.join(5)
        follower.stop()
    assert follower.counters.decode_errors == 1 and follower.rotations == 2
    assert len(said) == 1 and "line #4" in said[0] and "skipped" in said[0]
