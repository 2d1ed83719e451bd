"""What a schema field declares besides its type, and the table of keys read back from it.

The type says what a key accepts (`bool`, `tuple[str, ...]`, `Literal["first", "all"]`, a section's
dataclass); the field's metadata adds what a type cannot say:

    priority: str = setting("debug", check=one_of(ACCEPTED))     a check on the value
    delivery: Delivery = field(default_factory=Delivery, metadata=INLINE)
                                                                 its keys sit in this mapping
    path: str | None = not_a_key(None)                           set by the loader, not a key
    metrics: object = ignored("tiercel serves /metrics")         a Falco key tiercel does not
                                                                 implement: one warning, no check

A section with rules across its fields (one action excludes another) has a `problems()` method
(`Checked`) yielding (key, problem) pairs. Checks return the problem as text, or None when the value
is good; the binding puts the key's path and position in front.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, get_type_hints, runtime_checkable

T = TypeVar("T")

Check = Callable[[Any], "str | None"]


@runtime_checkable
class Checked(Protocol):
    """A section whose fields are checked together: (key, problem) for each problem found."""

    def problems(self) -> Iterator[tuple[str, str]]: ...


def setting(default: T, *, check: Check) -> T:
    """A key with a check on its value (beyond its type)."""
    return field(default=default, metadata={"check": check})


# A group of keys that sit in the enclosing mapping (Falco's keys are flat) but are one value here:
# `delivery: Delivery = field(default_factory=Delivery, metadata=INLINE)`.
INLINE = {"inline": True}


def not_a_key(default: T) -> T:
    """An attribute the loader sets; the file cannot."""
    return field(default=default, metadata={"key": False})


def ignored(why: str) -> Any:
    """A key Falco has and tiercel does not implement: accepted with one warning saying why."""
    return field(default=None, metadata={"ignored": why})


def _described(check: Check, schema: dict[str, Any]) -> Check:
    """The check, carrying what it asks as JSON Schema keywords (for `--config-schema`)."""
    check.json_schema = schema  # type: ignore[attr-defined]
    return check


def one_of(allowed: tuple[str, ...]) -> Check:
    """A word from `allowed`, any case, kept as written (for words defined elsewhere, e.g. priority.py;
    a `Literal` type says the same for words defined in the schema)."""
    def check(value: str) -> str | None:
        return None if value.lower() in allowed else not_one_of(value, allowed)
    return _described(check, {"x-words": list(allowed)})


def not_one_of(value: str, allowed: tuple[str, ...]) -> str:
    return f"'{value}' is not one of {', '.join(allowed)}"


def in_range(low: float, high: float, problem: Callable[[float], str]) -> Check:
    def check(value: float) -> str | None:
        return None if low <= value <= high else problem(value)
    return _described(check, {"minimum": low, "maximum": high})


def at_least(low: float, problem: str) -> Check:
    def check(value: float) -> str | None:
        return None if value >= low else problem
    return _described(check, {"minimum": low})


def above(low: float, problem: str) -> Check:
    def check(value: float) -> str | None:
        return None if value > low else problem
    return _described(check, {"exclusiveMinimum": low})


def _port_number(value: int) -> str | None:
    return None if 1 <= value <= 65535 else f"{value} is not a port number (1 to 65535)"


port_number = _described(_port_number, {"minimum": 1, "maximum": 65535})


@dataclass(frozen=True)
class Key:
    """One key of a mapping: where its value goes (`attrs` from the mapping's class), its type, its check."""

    attrs: tuple[str, ...]
    type: Any
    check: Check | None
    ignored: str | None = None   # why a Falco key is accepted and ignored


def keys_of(cls: type) -> Mapping[str, Key]:
    """The keys a mapping of `cls` accepts, inline groups' keys included, in declaration order.
    Made once per class (get_type_hints is slow, and `-o` asks once per option)."""
    return _keys_once(cls)


@functools.cache
def _keys_once(cls: type) -> Mapping[str, Key]:
    return types.MappingProxyType(_keys(cls, ()))


def _keys(cls: type, prefix: tuple[str, ...]) -> dict[str, Key]:
    hints = get_type_hints(cls)
    keys: dict[str, Key] = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("key", True):
            continue
        attrs = (*prefix, f.name)
        if f.metadata.get("inline"):
            keys |= _keys(hints[f.name], attrs)
        else:
            keys[f.name] = Key(attrs, hints[f.name], f.metadata.get("check"), f.metadata.get("ignored"))
    return keys


def assemble(cls: type[T], given: dict[tuple[str, ...], Any], prefix: tuple[str, ...] = ()) -> T:
    """`cls` from the values given by attribute path; inline groups are built on the way, the rest default."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        attrs = (*prefix, f.name)
        if f.metadata.get("inline"):
            values[f.name] = assemble(hints[f.name], given, attrs)
        elif attrs in given:
            values[f.name] = given[attrs]
    return cls(**values)
