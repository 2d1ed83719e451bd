"""Every field that the upstream rule files use resolves in the field table.

Fields are found the way the engine finds them: conditions (of macros and rules) through the condition
parser, outputs through the output tokenizer, and the `fields` of exceptions as written. Plugin sources
are out of scope for the syscall field table: fields of the k8s_audit source (`ka.*`, `jevt.*`), of
`json.*` and of cloudtrail (`ct.*`) are skipped, and none occur in the files below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tiercel.rules import ast
from tiercel.rules.fields import FieldTable
from tiercel.rules.format import RawToken, tokenize
from tiercel.rules.parser import parse_condition

ORACLES = Path(__file__).resolve().parents[3] / "shared" / "oracles"
RULE_FILES = sorted([*ORACLES.glob("rules/*.yaml"), *ORACLES.glob("rules/old/**/*.yaml"),
                     *ORACLES.glob("falco-regression/rules/*.yaml")])
PLUGIN_PREFIXES = ("ka.", "jevt.", "json.", "ct.")

pytestmark = pytest.mark.skipif(not RULE_FILES, reason=f"upstream rule files not found under {ORACLES}")


def _condition_fields(text: str) -> Iterator[tuple[str, str | None]]:
    for node in ast.walk(parse_condition(text)):
        if isinstance(node, ast.FieldRef):
            yield node.name, node.arg
        elif isinstance(node, ast.ValExpr):
            yield node.field.name, node.field.arg


def _item_fields(item: dict[str, Any]) -> Iterator[tuple[str, str | None]]:
    if isinstance(item.get("condition"), str):
        yield from _condition_fields(item["condition"])
    if isinstance(item.get("output"), str):
        for part in tokenize(item["output"]):
            if isinstance(part, RawToken):
                yield part.name, part.arg
    for exc in item.get("exceptions") or []:
        names = exc.get("fields") if isinstance(exc, dict) else None
        for name in [names] if isinstance(names, str) else names or []:
            yield name, None


def collect() -> dict[tuple[str, str | None], set[str]]:
    """(field, argument) -> the files that use it."""
    used: dict[tuple[str, str | None], set[str]] = {}
    for path in RULE_FILES:
        for item in yaml.safe_load(path.read_text()) or []:
            if not isinstance(item, dict) or item.get("source", "syscall") != "syscall":
                continue
            for ref in _item_fields(item):
                if not ref[0].startswith(PLUGIN_PREFIXES):
                    used.setdefault(ref, set()).add(path.relative_to(ORACLES).as_posix())
    return used


USED = collect() if RULE_FILES else {}
TABLE = FieldTable(hostname="test")


def test_the_scan_finds_the_rule_files_fields() -> None:
    names = {name for name, _ in USED}
    assert len(RULE_FILES) >= 6
    assert {"proc.name", "fd.name", "evt.type", "proc.aname", "container.mount.dest",
            "evt.arg.flags", "fd.sip.name", "thread.cap_permitted"} <= names
    assert len(names) >= 90


@pytest.mark.parametrize("ref", sorted(USED, key=str),
                         ids=[n if a is None else f"{n}[{a}]" for n, a in sorted(USED, key=str)])
def test_rule_file_field_resolves(ref: tuple[str, str | None]) -> None:
    name, arg = ref
    TABLE.resolve(name, arg)
