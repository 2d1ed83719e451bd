"""`--config-schema`: the configuration file's JSON Schema, generated from the schema dataclasses.

One definition: each key's type annotation (schema.py) becomes its JSON type, the checks declared on
it (declare.py: at_least, in_range, port_number, one_of) their keywords, inline groups' keys sit in
their enclosing mapping, Falco's keys tiercel ignores accept anything (with the reason as their
description), unknown keys are refused (`additionalProperties: false`). Words are matched in any
case, as the loader matches them, through a pattern.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Literal, Union, get_args, get_origin

from tiercel.config.declare import Key, keys_of

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_SCALARS = {bool: "boolean", int: "integer", float: "number", str: "string"}


def config_schema() -> dict[str, Any]:
    from tiercel.config.schema import Config

    doc = {"$schema": DIALECT, "$id": "https://tiercel.dev/schema/config.json",
           "title": "tiercel configuration (Falco's falco.yaml keys)"}
    return doc | _mapping(Config)


def _mapping(cls: type) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False,
            "properties": {name: _key(key) for name, key in keys_of(cls).items()}}


def _key(key: Key) -> dict[str, Any]:
    if key.ignored is not None:
        return {"description": f"known to Falco, ignored by tiercel: {key.ignored}"}
    schema = _type(key.type)
    hints = dict(getattr(key.check, "json_schema", {}))
    words = hints.pop("x-words", None)
    if words is not None:
        schema = {"type": "string", "pattern": any_case(words)}
    return schema | hints


def _type(tp: Any) -> dict[str, Any]:
    origin = get_origin(tp)
    if tp is object:
        return {}
    if dataclasses.is_dataclass(tp):
        return _mapping(tp)  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        return {"anyOf": [{"type": "null"} if t is type(None) else _type(t) for t in get_args(tp)]}
    if origin is tuple:
        return {"type": "array", "items": _type(get_args(tp)[0])}
    if origin is dict:  # values read leniently: `port: 80` is the text "80"
        return {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}}
    if origin is Literal:
        return {"type": "string", "pattern": any_case(get_args(tp))}
    if tp is float:
        return {"type": "number"}
    return {"type": _SCALARS[tp]}


def any_case(words: tuple[str, ...] | list[str]) -> str:
    """A pattern matching any of `words` in any case (JSON Schema patterns have no (?i) flag)."""
    def letters(w: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else _escape(c) for c in w)
    return "^(" + "|".join(letters(w) for w in words) + ")$"


def _escape(c: str) -> str:
    return "\\" + c if c in r".^$*+?()[]{}|\-/" else c
