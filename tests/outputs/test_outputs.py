"""Each output against a real receiver, with alert text that tries to forge lines: every alert
arrives once, as one valid line (JSON or escaped text), and the accounting matches."""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path

import pytest

from tests.outputs.alerts import NASTY, lines_of, make_alert, wait_until
from tiercel.config import HttpOutput as HttpConf
from tiercel.outputs.base import Format, Output
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.file import FileOutput
from tiercel.outputs.http import HttpOutput
from tiercel.outputs.program import ProgramOutput
from tiercel.outputs.stdout import StreamOutput
from tiercel.outputs.syslog import SyslogOutput
from tiercel.testing.receivers import DatagramReceiver, HttpReceiver, TcpReceiver

N = 50
JSON = Format()
TEXT = Format(json=False)


def run_through(output: Output, n: int = N, text: str = NASTY) -> Dispatcher:
    d = Dispatcher([output], capacity=1000)
    for i in range(n):
        d.emit(make_alert(i, text))
    d.close(timeout=30)
    s = d.stats()[output.name]
    assert (s.offered, s.delivered, s.dropped) == (n, n, 0)
    return d


def check_json_lines(lines: list[bytes], n: int = N) -> None:
    assert len(lines) == n
    docs = [json.loads(line) for line in lines]
    assert [d["output_fields"]["n"] for d in docs] == list(range(n))
    for d in docs:
        assert d["output_fields"]["fd.name"].startswith('a\nb\r\n"quoted" \\ \x00\x1b[31m')
        assert d["output_fields"]["fd.name"].endswith("\\xff\\xfe")  # undecodable bytes, escaped


def check_text_lines(lines: list[bytes], n: int = N) -> None:
    assert len(lines) == n
    for i, line in enumerate(lines):
        text = line.decode()
        assert re.fullmatch(r"12:00:00\.000000000: Warning alert \d+ .*", text)
        assert f"alert {i} a\\x0ab\\x0d\\x0a\"quoted\"" in text and "\\u2028" in text


@pytest.mark.parametrize("fmt", [JSON, TEXT], ids=["json", "text"])
def test_stdout_pipe(fmt: Format) -> None:
    r, w = os.pipe()
    run_through(StreamOutput(w, fmt))
    os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = f.read().splitlines()
    (check_json_lines if fmt.json else check_text_lines)(lines)


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep_alive", "reopen_each_batch"])
def test_file(tmp_path: Path, keep_alive: bool) -> None:
    path = tmp_path / "events.txt"
    run_through(FileOutput(str(path), JSON, keep_alive))
    check_json_lines(lines_of(path))


def test_file_rotated_mid_run(tmp_path: Path) -> None:
    """logrotate moves the file away: the rest goes to a new file of the same name, nothing lost."""
    path = tmp_path / "events.txt"
    out = FileOutput(str(path), JSON, keep_alive=True)
    d = Dispatcher([out], capacity=1000)
    for i in range(20):
        d.emit(make_alert(i))
    wait_until(lambda: d.stats()["file"].delivered == 20, what="first 20 alerts")
    path.rename(tmp_path / "events.txt.1")
    for i in range(20, 50):
        d.emit(make_alert(i))
    d.close(timeout=30)
    old, new = lines_of(tmp_path / "events.txt.1"), lines_of(path)
    assert [json.loads(x)["output_fields"]["n"] for x in old] == list(range(20))
    assert [json.loads(x)["output_fields"]["n"] for x in new] == list(range(20, 50))
    assert d.stats()["file"].delivered == 50


def test_file_reopened_on_sighup(tmp_path: Path) -> None:
    """copytruncate-style rotation leaves the name in place: SIGHUP (reopen) is what moves on."""
    path = tmp_path / "events.txt"
    out = FileOutput(str(path), JSON, keep_alive=True)
    d = Dispatcher([out], capacity=1000)
    d.emit(make_alert(0))
    wait_until(lambda: d.stats()["file"].delivered == 1)
    first_fd = out.fd
    d.reopen()
    d.emit(make_alert(1))
    d.close(timeout=30)
    assert first_fd is not None and out.fd is None  # closed at the end, after a reopen
    assert len(lines_of(path)) == 2


@pytest.mark.parametrize("fmt", [JSON, TEXT], ids=["json", "text"])
def test_syslog_unix_socket(tmp_path: Path, fmt: Format) -> None:
    recv = DatagramReceiver(socket.AF_UNIX, str(tmp_path / "log"))
    run_through(SyslogOutput(fmt, "unix", path=str(tmp_path / "log")))
    wait_until(lambda: len(recv.messages) == N, what="datagrams")
    check_syslog(recv.messages, fmt)
    recv.close()


def test_syslog_udp() -> None:
    recv = DatagramReceiver(socket.AF_INET, ("127.0.0.1", 0))
    run_through(SyslogOutput(JSON, "udp", host="127.0.0.1", port=recv.address[1], facility="local3"))
    wait_until(lambda: len(recv.messages) == N, what="datagrams")
    check_syslog(recv.messages, JSON, pri=19 * 8 + 4)
    recv.close()


def test_syslog_tcp_octet_counting() -> None:
    recv = TcpReceiver()
    run_through(SyslogOutput(JSON, "tcp", host="127.0.0.1", port=recv.address[1]))
    wait_until(lambda: len(recv.messages) == N, what="frames")
    check_syslog(recv.messages, JSON)
    recv.close()


def check_syslog(messages: list[bytes], fmt: Format, pri: int = 1 * 8 + 4) -> None:
    """RFC 5424 header; Warning is severity 4; one message per alert, no newline inside."""
    head = re.compile(rb"<(\d+)>1 2023-11-14T22:13:20\.000000Z host tiercel (\d+) alert - ")
    bodies = []
    for m in messages:
        match = head.match(m)
        assert match, m[:80]
        assert int(match.group(1)) == pri and int(match.group(2)) == os.getpid()
        assert b"\n" not in m and b"\r" not in m
        bodies.append(m[match.end():])
    (check_json_lines if fmt.json else check_text_lines)(bodies)


def test_priority_maps_to_severity(tmp_path: Path) -> None:
    recv = DatagramReceiver(socket.AF_UNIX, str(tmp_path / "log"))
    d = Dispatcher([SyslogOutput(JSON, "unix", path=str(tmp_path / "log"))], capacity=100)
    for p in ("Emergency", "Error", "Notice", "Debug"):
        d.emit(make_alert(0, priority=p))
    d.close(timeout=30)
    wait_until(lambda: len(recv.messages) == 4)
    assert [m.split(b">")[0] for m in recv.messages] == [b"<8", b"<11", b"<13", b"<15"]
    recv.close()


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep_alive", "one_per_alert"])
def test_program(tmp_path: Path, keep_alive: bool) -> None:
    out = tmp_path / "got.txt"
    n = N if keep_alive else 5
    run_through(ProgramOutput(f"cat >> {out}", JSON, keep_alive), n=n)
    check_json_lines(lines_of(out), n)


def test_program_gets_text_on_stdin_only(tmp_path: Path) -> None:
    """Shell metacharacters in an alert reach the program as data, never as a command."""
    out, canary = tmp_path / "got.txt", tmp_path / "pwned"
    evil = f"$(touch {canary}) `touch {canary}`; touch {canary}"
    d = Dispatcher([ProgramOutput(f"cat >> {out}", TEXT, keep_alive=False)], capacity=10)
    d.emit(make_alert(0, evil))
    d.close(timeout=30)
    assert evil in lines_of(out)[0].decode() and not canary.exists()


def test_http_falcosidekick_body() -> None:
    recv = HttpReceiver()
    run_through(HttpOutput(HttpConf(enabled=True, url=recv.url, custom_headers={"X-Team": "sec"}), JSON))
    assert recv.bad == [] and len(recv.bodies) == N
    assert [b["output_fields"]["n"] for b in recv.bodies] == list(range(N))
    assert recv.headers[0]["Content-Type"] == "application/json"
    assert recv.headers[0]["User-Agent"] == "tiercel" and recv.headers[0]["X-Team"] == "sec"
    recv.close()


def test_http_500_then_recovery() -> None:
    recv = HttpReceiver(fail_first=3)
    out = HttpOutput(HttpConf(enabled=True, url=recv.url, max_retries=5), JSON)
    d = Dispatcher([out], capacity=100)
    for i in range(10):
        d.emit(make_alert(i))
    d.close(timeout=30)
    s = d.stats()["http"]
    assert (s.delivered, s.retried, s.dropped) == (10, 3, 0)
    assert [b["output_fields"]["n"] for b in recv.bodies] == list(range(10))
    recv.close()


def test_http_gives_up_after_max_retries() -> None:
    recv = HttpReceiver(fail_first=10**9)
    out = HttpOutput(HttpConf(enabled=True, url=recv.url, max_retries=2), JSON)
    d = Dispatcher([out], capacity=100)
    d.emit(make_alert(0))
    d.close(timeout=30)
    s = d.stats()["http"]
    assert (s.delivered, s.retried, s.dropped_failed) == (0, 2, 1)
    assert recv.failed == 3
    recv.close()


def test_plain_alert_is_falcos_json_unchanged() -> None:
    """Without odd bytes the line is exactly tiercel.outputs.alert.to_json's."""
    from tiercel.outputs.alert import Alert, to_json
    from tiercel.outputs.base import Item
    a = Alert(time=1, rule="r", priority="Notice", source="syscall", output="o",
              output_fields={"proc.name": "cat"}, tags=("t",), hostname="h")
    assert Item(a).json(JSON) == to_json(a).encode()
