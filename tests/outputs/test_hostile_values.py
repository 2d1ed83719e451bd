"""Alert values JSON cannot carry as they are: every alert still becomes one valid JSON line, and one
alert that an output cannot write costs no other alert of its batch."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from typing import Any

import pytest

from tests.outputs.alerts import make_alert
from tiercel.outputs.alert import Alert, rfc3339
from tiercel.outputs.base import Format, Item, OutputError, dumps, json_line
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.stdout import StreamOutput


class _BadStr:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


# value in output_fields -> what a JSON reader gets back
HOSTILE: list[tuple[str, Any, Any]] = [
    ("int128", 1 << 100, str(1 << 100)),
    ("int_u64_max", (1 << 64) - 1, (1 << 64) - 1),
    ("int_below_i64", -(1 << 63) - 1, str(-(1 << 63) - 1)),
    ("nan", math.nan, "nan"),
    ("inf", -math.inf, "-inf"),
    ("bytes", b"\x00ab\xff", "\x00ab\\xff"),
    ("set", {"x"}, "{'x'}"),
    ("bad_str", _BadStr(), "<_BadStr>"),
    ("int_keys", {1: 2}, {"1": 2}),
    ("list_of_wide", [1, 1 << 70, math.inf], [1, str(1 << 70), "inf"]),
    ("surrogates", "a\udcffb", "a\\xffb"),
    ("deep", _nested(40), None),
]


@pytest.mark.parametrize(("value", "expected"), [(v, e) for _, v, e in HOSTILE],
                         ids=[name for name, _, _ in HOSTILE])
@pytest.mark.parametrize("fmt", [Format(), Format(falco031=True)], ids=["falco", "falco031"])
def test_every_value_becomes_valid_json(value: Any, expected: Any, fmt: Format) -> None:
    alert = dataclasses.replace(make_alert(1), output_fields={"evt.arg.fd": value, "n": 1})
    doc = json.loads(json_line(alert, fmt))
    assert doc["output_fields"]["n"] == 1
    if expected is not None:
        assert doc["output_fields"]["evt.arg.fd"] == expected


def test_time_beyond_year_9999_is_kept_as_text() -> None:
    assert rfc3339(1 << 80) == str(1 << 80)
    alert = dataclasses.replace(make_alert(1), time=1 << 80)
    assert json.loads(json_line(alert, Format()))["time"] == str(1 << 80)


def test_dumps_falls_back_the_same_way() -> None:
    assert json.loads(dumps({"a": 1 << 65, "b": b"\xff"})) == {"a": str(1 << 65), "b": "\\xff"}


def test_a_batch_with_wide_integers_loses_nothing() -> None:
    """Every other alert carries a 16-byte fd: all 200 arrive (orjson refused them one batch at a time)."""
    r, w = os.pipe()
    d = Dispatcher([StreamOutput(w, Format())], capacity=1000)
    for i in range(200):
        fields = {"n": i, "fd.num": (1 << 127) + i if i % 2 else i}
        d.emit(dataclasses.replace(make_alert(i), output_fields=fields))
    d.close(timeout=30)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        docs = [json.loads(line) for line in f.read().splitlines()]
    assert [doc["output_fields"]["n"] for doc in docs] == list(range(200))
    s = d.stats()["stdout"]
    assert (s.delivered, s.dropped, s.unwritable) == (200, 0, 0)


class _Picky:
    """An output that cannot write the alerts whose rule is 'bad' (and fails the whole batch then)."""

    name = "picky"
    max_retries = 0

    def __init__(self) -> None:
        self.written: list[int] = []

    def send(self, batch: Sequence[Item]) -> int:
        if any(item.alert.rule == "bad" for item in batch):
            raise ValueError("cannot write this one")
        self.written += [item.alert.output_fields["n"] for item in batch]
        return len(batch)

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_an_unwritable_alert_costs_only_itself_and_is_said_once() -> None:
    out, said = _Picky(), []
    d = Dispatcher([out], capacity=1000, log=said.append)
    for i in range(100):
        rule = "bad" if i in (10, 50, 90) else f"r{i}"
        d.emit(Alert(time=i, rule=rule, priority="Warning", source="syscall", output=f"alert {i}",
                     output_fields={"n": i}))
    d.close(timeout=30)
    assert sorted(out.written) == [i for i in range(100) if i not in (10, 50, 90)]
    s = d.stats()["picky"]
    assert (s.offered, s.delivered, s.dropped_failed, s.unwritable) == (100, 97, 3, 3)
    assert len(said) == 1 and "'bad'" in said[0] and "cannot write this one" in said[0]


class _Down:
    name = "down"
    max_retries = 0

    def send(self, batch: Sequence[Item]) -> int:
        raise OutputError("down: connection refused")

    def reopen(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_ordinary_failures_are_not_unwritable() -> None:
    d = Dispatcher([_Down()], capacity=100, log=lambda line: None)
    for i in range(5):
        d.emit(make_alert(i))
    d.close(timeout=10)
    s = d.stats()["down"]
    assert (s.dropped_failed, s.unwritable) == (5, 0)
