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

from tiercel.rules.fields.table import FieldTable
from tiercel.rules.language import syntax
from tiercel.rules.language.parser import parse_condition
from tiercel.rules.output import RawToken, tokenize

PLUGIN_PREFIXES = ("ka.", "jevt.", "json.", "ct.")


def rule_files(oracles: Path) -> list[Path]:
    return sorted([*oracles.glob("rules/*.yaml"), *oracles.glob("rules/old/**/*.yaml"),
                   *oracles.glob("falco-regression/rules/*.yaml")])


def _condition_fields(text: str) -> Iterator[tuple[str, str | None]]:
    for node in syntax.walk(parse_condition(text)):
        if isinstance(node, syntax.FieldRef):
            yield node.name, node.arg
        elif isinstance(node, syntax.ValExpr):
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


def collect(oracles: Path) -> dict[tuple[str, str | None], set[str]]:
    """(field, argument) -> the files that use it."""
    used: dict[tuple[str, str | None], set[str]] = {}
    for path in rule_files(oracles):
        for item in yaml.safe_load(path.read_text()) or []:
            if not isinstance(item, dict) or item.get("source", "syscall") != "syscall":
                continue
            for ref in _item_fields(item):
                if not ref[0].startswith(PLUGIN_PREFIXES):
                    used.setdefault(ref, set()).add(path.relative_to(oracles).as_posix())
    return used


TABLE = FieldTable(hostname="test")


def test_the_scan_finds_the_rule_files_fields(oracles: Path) -> None:
    names = {name for name, _ in collect(oracles)}
    assert len(rule_files(oracles)) >= 6
    assert {"proc.name", "fd.name", "evt.type", "proc.aname", "container.mount.dest",
            "evt.arg.flags", "fd.sip.name", "thread.cap_permitted"} <= names
    assert len(names) >= 90


def _field_cases(oracles: Path) -> list[Any]:
    return [pytest.param(ref, id=ref[0] if ref[1] is None else f"{ref[0]}[{ref[1]}]")
            for ref in sorted(collect(oracles), key=str)]


@pytest.mark.oracle_cases("ref", _field_cases)
def test_rule_file_field_resolves(ref: tuple[str, str | None]) -> None:
    name, arg = ref
    TABLE.resolve(name, arg)
