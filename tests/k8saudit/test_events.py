"""Audit events as the API server writes them: one Event, an EventList, a JSON array, JSON lines;
anything else refused with Falco's words; sizes and counts bounded."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.k8saudit.events import (
    Limits,
    LineError,
    NotAuditEvent,
    event_time,
    parse_body,
    parse_document,
    parse_lines,
    parse_rfc3339,
    parse_text,
)

EV = {"kind": "Event", "auditID": "1", "verb": "get"}


def _ids(docs: list[dict[str, object]]) -> list[object]:
    return [d["auditID"] for d in docs]


@pytest.mark.parametrize("body,ids", [
    (orjson.dumps(EV), ["1"]),
    (orjson.dumps({"kind": "EventList", "items": [EV, {**EV, "auditID": "2"}]}), ["1", "2"]),
    (orjson.dumps([EV, {"kind": "EventList", "items": [{**EV, "auditID": "2"}]}]), ["1", "2"]),
    (orjson.dumps({"kind": "EventList", "items": []}), []),
    (orjson.dumps(EV) + b"\n\n" + orjson.dumps({**EV, "auditID": "2"}) + b"\n", ["1", "2"]),
], ids=["event", "eventlist", "array", "empty-list", "json-lines"])
def test_accepted_forms(body: bytes, ids: list[str]) -> None:
    assert _ids(parse_body(body)) == ids


@pytest.mark.parametrize("body", [
    b'{"kind": 0}', b"[1, 2]", b'{"kind": "Pod"}', b"not json", b"",
    b'{"kind": "EventList", "items": [{"kind": "Pod"}]}', b'{"kind": "EventList", "items": 3}',
], ids=["kind-0", "numbers", "pod", "not-json", "empty", "list-of-pods", "items-not-a-list"])
def test_refused_forms(body: bytes) -> None:
    with pytest.raises(NotAuditEvent):
        parse_body(body)


def test_bounds() -> None:
    with pytest.raises(NotAuditEvent, match="over the limit"):
        parse_body(b" " * 101 + orjson.dumps(EV), Limits(max_batch_size=100))
    with pytest.raises(NotAuditEvent, match="more than 2 events"):
        parse_document(orjson.dumps([EV, EV, EV]), Limits(max_batch_events=2))


def test_lines_stop_at_the_first_bad_one_with_falcos_message() -> None:
    text = orjson.dumps(EV).decode() + '\n{"kind": 0}\n' + orjson.dumps(EV).decode() + "\n"
    items = list(parse_lines(text.splitlines()))
    assert _ids(items[0]) == ["1"]  # type: ignore[arg-type]
    assert isinstance(items[1], LineError) and len(items) == 2
    assert items[1].message == ('Could not read k8s audit event line #2, "{"kind": 0}": '
                                "Data not recognized as a k8s audit event, stopping")


def test_an_indented_eventlist_file_is_read_whole() -> None:
    text = orjson.dumps({"kind": "EventList", "items": [EV, EV]}, option=orjson.OPT_INDENT_2).decode()
    assert [len(i) for i in parse_text(text)] == [2]  # type: ignore[arg-type]


@pytest.mark.parametrize("text,ns", [
    ("2018-10-25T14:09:12.581541Z", 1540476552581541000),
    ("2018-10-25T14:09:12Z", 1540476552000000000),
    ("2018-10-25T16:09:12.5+02:00", 1540476552500000000),
    ("2018-10-25T14:09:12.123456789123Z", 1540476552123456789),
    ("yesterday", None), ("2018-10-25T14:09:12", None),
])
def test_rfc3339(text: str, ns: int | None) -> None:
    assert parse_rfc3339(text) == ns


def test_event_time_prefers_the_stage_timestamp() -> None:
    assert event_time({"requestReceivedTimestamp": "2018-10-25T14:09:12Z",
                       "stageTimestamp": "2018-10-25T14:09:13Z"}) == 1540476553_000000000
    assert event_time({}) == 0


def test_replay_of_a_file_that_is_no_audit_events_is_one_line(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    trace.write_text('{"kind": 0}\n')
    out, err = io.StringIO(), io.StringIO()
    assert run_agent(RunOptions(rules=[tmp_path], trace=trace), out, err) == 0
    assert 'Could not read k8s audit event line #1, "{"kind": 0}"' in err.getvalue()
    assert "Events detected: 0" in err.getvalue() and "Traceback" not in err.getvalue()


def _replay(path: Path, limits: Limits | None = None) -> tuple[int, list[str]]:
    from tiercel.k8saudit.replay import AuditFileSource

    got: list[object] = []
    said: list[str] = []
    source = AuditFileSource(path, got.append, said.append, limits)
    source.start()
    try:
        source.run(None)
    finally:
        source.stop()
    return len(got), said


@pytest.mark.parametrize("text,events,said", [
    ("\n".join(orjson.dumps({**EV, "auditID": str(i)}).decode() for i in range(20_000)) + "\n", 20_000, []),
    (orjson.dumps({"kind": "EventList", "items": [EV] * 3}, option=orjson.OPT_INDENT_2).decode(), 3, []),
    (orjson.dumps([EV, EV], option=orjson.OPT_INDENT_2).decode(), 2, []),
    (orjson.dumps(EV).decode() + "\n" + "{" + " " * 300 + "}\n", 1, ["line #2", "over 200 bytes"]),
    ("{\n  nope\n", 0, ["line #1"]),
], ids=["20000-lines", "indented-eventlist", "indented-array", "long-line", "broken-indented"])
def test_file_replay_forms(tmp_path: Path, text: str, events: int, said: list[str]) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(text)
    n, messages = _replay(trace, Limits(max_batch_size=200) if said and events else None)
    assert n == events
    assert all(any(s in m for m in messages) for s in said) and bool(messages) == bool(said)
