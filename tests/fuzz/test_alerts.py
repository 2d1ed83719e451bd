"""Alert formatting with hostile field values: every alert becomes one valid JSON line and one text
line, the syslog message builds, and a batch of them is delivered whole: never an exception, never
a second line."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CORPUS, bounded
from tiercel.common.priority import NAMES
from tiercel.outputs.alert import Alert
from tiercel.outputs.base import Format, Item
from tiercel.outputs.dispatcher import Dispatcher
from tiercel.outputs.stdout import StreamOutput
from tiercel.outputs.syslog import SyslogOutput


class _Odd:
    def __str__(self) -> str:
        raise RuntimeError("no text")


any_text = st.text(st.characters(codec=None, categories=None), max_size=40)  # surrogates, C0, C1, bidi
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-(1 << 200), 1 << 200), st.floats(),
                   any_text, st.binary(max_size=20), st.just(_Odd()), st.sets(st.integers(), max_size=3))
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(any_text, st.integers()), inner, max_size=3)), max_leaves=12)

alerts = st.builds(
    Alert, time=st.integers(0, (1 << 64) - 1), rule=any_text, priority=st.sampled_from(NAMES),
    source=any_text, output=any_text,
    output_fields=st.dictionaries(any_text, values, max_size=6),
    tags=st.lists(any_text, max_size=3).map(tuple), hostname=any_text)

FORMATS = [Format(), Format(falco031=True), Format(include_output=False, include_tags=False)]


def _check(alert: Alert) -> None:
    with bounded(seconds=2):
        item = Item(alert)
        for fmt in FORMATS:
            line = item.json(fmt)
            assert b"\n" not in line
            doc = json.loads(line)
            assert isinstance(doc["rule"], str) and isinstance(doc["output_fields"], dict)
        text = item.text()
        assert b"\n" not in text and b"\r" not in text
        for proto in ("unix", "tcp"):
            msg = SyslogOutput(Format(), protocol=proto).message(item)
            assert b"\n" not in msg


@settings(max_examples=1500)
@given(alerts)
def test_hostile_alerts(alert: Alert) -> None:
    _check(alert)


@settings(max_examples=60)
@given(st.lists(alerts, min_size=1, max_size=60))
def test_a_batch_is_delivered_whole(batch: list[Alert]) -> None:
    r, w = os.pipe()
    d = Dispatcher([StreamOutput(w, Format())], capacity=1000, log=lambda line: None)
    for a in batch:
        d.emit(a)
    d.close(timeout=10)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = f.read().splitlines()
    assert len(lines) == len(batch) and all(json.loads(line) for line in lines)
    assert d.stats()["stdout"].delivered == len(batch)


def _corpus() -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in sorted((CORPUS / "alerts").glob("*.json"))]


@pytest.mark.parametrize("path", _corpus())
def test_corpus(path: Path) -> None:
    spec = json.loads(path.read_text())
    fields = {k: v.encode("utf-8", "surrogateescape") if isinstance(v, str) and k.startswith("bytes:")
              else v for k, v in spec["output_fields"].items()}
    if "nan" in spec:
        fields[spec["nan"]] = float("nan")
    _check(Alert(time=spec.get("time", 0), rule=spec.get("rule", "r"), priority="Warning", source="syscall",
                 output=spec.get("output", "o"), output_fields=fields))
