"""`--rule-schema`: a rules file's JSON Schema, from the item definitions (definitions.py).

A rules file is a list of items, each one of: required_engine_version, required_plugin_versions,
list, macro, rule. Each item's keys are the keys the collector reads (LIST_KEYS, MACRO_KEYS,
RULE_KEYS); properties are YAML scalars, as Falco's reader takes them; priorities are Falco's words
in any case. The schema is stricter than the loader in one way: a key the loader warns about and
ignores is refused here.
"""

from __future__ import annotations

from typing import Any

from tiercel.common.priority import ACCEPTED
from tiercel.config.json_schema import DIALECT, any_case
from tiercel.rules.files.definitions import _FALSE, _TRUE, LIST_KEYS, MACRO_KEYS, RULE_KEYS

_SCALAR = {"type": ["string", "number", "boolean"]}
_SCALARS = {"anyOf": [{"type": "null"}, {"type": "array", "items": _SCALAR}]}
_BOOL = {"anyOf": [{"type": "boolean"}, {"enum": sorted(_TRUE | _FALSE)}]}
_STRINGS = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
_OVERRIDE = {"type": "object", "additionalProperties": {"enum": ["append", "replace"]}}

_RULE_PROPERTIES: dict[str, Any] = {
    "rule": {"type": "string", "minLength": 1}, "desc": _SCALAR, "condition": _SCALAR,
    "output": _SCALAR, "priority": {"type": "string", "pattern": any_case(ACCEPTED)},
    "source": {"type": "string"}, "tags": _SCALARS, "enabled": _BOOL, "append": _BOOL,
    "warn_evttypes": _BOOL, "skip-if-unknown-filter": _BOOL, "capture": _BOOL,
    "capture_duration": {"type": "integer", "minimum": 0}, "override": _OVERRIDE,
    "exceptions": {"anyOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/$defs/exception"}}]},
}


def _item(keys: frozenset[str], properties: dict[str, Any], name: str) -> dict[str, Any]:
    assert set(properties) == keys, f"{name}: schema and collector disagree"
    return {"type": "object", "required": [name], "additionalProperties": False,
            "properties": properties}


def rule_schema() -> dict[str, Any]:
    value: dict[str, Any] = {"anyOf": [_SCALAR, {"type": "array", "items": {"$ref": "#/$defs/value"}}]}
    return {
        "$schema": DIALECT, "$id": "https://tiercel.dev/schema/rules.json",
        "title": "tiercel rules file (Falco rule language)",
        "type": "array",
        "items": {"oneOf": [{"$ref": f"#/$defs/{k}"} for k in (
            "required_engine_version", "required_plugin_versions", "list", "macro", "rule")]},
        "$defs": {
            "required_engine_version": {
                "type": "object", "required": ["required_engine_version"], "additionalProperties": False,
                "properties": {"required_engine_version": {
                    "anyOf": [{"type": "integer", "minimum": 0},
                              {"type": "string", "pattern": r"^(\d+|\d+\.\d+\.\d+)$"}]}}},
            "required_plugin_versions": {
                "type": "object", "required": ["required_plugin_versions"],
                "additionalProperties": False,
                "properties": {"required_plugin_versions": {"type": "array"}}},
            "list": _item(LIST_KEYS, {"list": {"type": "string", "minLength": 1}, "items": _SCALARS,
                                      "append": _BOOL, "override": _OVERRIDE}, "list"),
            "macro": _item(MACRO_KEYS, {"macro": {"type": "string", "minLength": 1},
                                        "condition": _SCALAR, "append": _BOOL,
                                        "override": _OVERRIDE}, "macro"),
            "rule": _item(RULE_KEYS, _RULE_PROPERTIES, "rule"),
            "exception": {"type": "object", "required": ["name"], "additionalProperties": False,
                          "properties": {"name": {"type": "string", "minLength": 1},
                                         "fields": _STRINGS, "comps": _STRINGS,
                                         "values": {"anyOf": [{"type": "null"}, {
                                             "type": "array", "items": {"$ref": "#/$defs/value"}}]}}},
            "value": value,
        },
    }
