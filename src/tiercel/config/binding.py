"""YAML nodes -> the typed schema, every problem collected with its key path and position:

    tiercel.yaml:12:12: stdout_output.enabled: expected true or false, got 'maybe'
    -o file_output.keep_alive=x: file_output.keep_alive: expected true or false, got 'x'

Each key goes through its type (the node's shape and scalar type, from the field's annotation), its
words (a `Literal`, or a tuple of them: any case in the file, lower case in the value) and the check
declared on its field; then each section's `problems()` (rules across fields). A key with a problem
keeps its default, so one bad key never hides another. (`${VAR}`s were resolved as the file was
read: config.envvars.)
"""

from __future__ import annotations

import dataclasses
import math
import types
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.config.declare import Checked, Key, assemble, keys_of, not_one_of
from tiercel.config.yamlfile import where

T = TypeVar("T")

_EXPECT = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}


def bind(cls: type[T], root: Node, errors: list[str], warnings: list[str] | None = None) -> T:
    """`cls` from the root mapping; each problem is appended to `errors`, the key keeping its default;
    each Falco key tiercel ignores is one line in `warnings`."""
    return _build(cls, root, "", _Ctx(errors, [] if warnings is None else warnings))


@dataclass
class _Ctx:
    errors: list[str]
    warnings: list[str] = dataclasses.field(default_factory=list)

    def fail(self, node: Node, path: str, expected: str) -> tuple[bool, Any]:
        got = f"'{node.value}'" if isinstance(node, ScalarNode) else (
            "a list" if isinstance(node, SequenceNode) else "a mapping")
        self.errors.append(f"{where(node)}: {path}: expected {expected}, got {got}")
        return False, None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _build(cls: type[T], node: Node, path: str, ctx: _Ctx) -> T:
    """A dataclass from a mapping node: unknown keys and bad values each become one error."""
    if not isinstance(node, MappingNode):
        ctx.fail(node, path or "configuration", "a mapping of keys")
        return cls()
    keys = keys_of(cls)
    given: dict[tuple[str, ...], Any] = {}
    positions: dict[str, str] = {}
    for k, v in node.value:
        name = str(k.value)
        key = keys.get(name)
        if key is None:
            ctx.errors.append(f"{where(k)}: {_join(path, name)}: unknown key")
            continue
        if key.ignored is not None:
            ctx.warnings.append(f"{where(k)}: {_join(path, name)}: known to Falco, ignored: {key.ignored}")
            continue
        positions[name] = where(v)
        ok, value = _convert(key.type, v, _join(path, name), ctx)
        if ok:
            ok, value = _check(key, value, f"{where(v)}: {_join(path, name)}", ctx)
        if ok:
            given[key.attrs] = value
    section = assemble(cls, given)
    if isinstance(section, Checked):
        for name, problem in section.problems():  # at the key if given, else at the section
            ctx.errors.append(f"{positions.get(name, where(node))}: {_join(path, name)}: {problem}")
    return section


def _check(key: Key, value: Any, label: str, ctx: _Ctx) -> tuple[bool, Any]:
    value, problems = _words(key.type, value)
    if not problems and key.check is not None:
        problem = key.check(value)
        problems = [problem] if problem else []
    ctx.errors += [f"{label}: {p}" for p in problems]
    return not problems, value


def _words(tp: Any, value: Any) -> tuple[Any, list[str]]:
    """A Literal's word (or a tuple of them) in lower case, and a problem for each that is not one."""
    if get_origin(tp) is Literal:
        allowed = get_args(tp)
        low = value.lower()
        return low, [] if low in allowed else [not_one_of(value, allowed)]
    if get_origin(tp) is tuple and get_origin(get_args(tp)[0]) is Literal:
        pairs = [_words(get_args(tp)[0], v) for v in value]
        return tuple(v for v, _ in pairs), [p for _, ps in pairs for p in ps]
    return value, []


def _convert(tp: Any, node: Node, path: str, ctx: _Ctx) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if tp is object:  # a value kept as written (a plugin's own init_config)
        return True, SafeConstructor().construct_object(node, deep=True)
    if dataclasses.is_dataclass(tp):
        return True, _build(tp, node, path, ctx)  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        return _convert_union(get_args(tp), node, path, ctx)
    if origin is tuple:  # tuple[X, ...]: a YAML list
        if not isinstance(node, SequenceNode):
            return ctx.fail(node, path, "a list")
        items = [_convert(get_args(tp)[0], n, f"{path}[{i}]", ctx) for i, n in enumerate(node.value)]
        return all(ok for ok, _ in items), tuple(v for _, v in items)
    if origin is dict:
        if not isinstance(node, MappingNode):
            return ctx.fail(node, path, "a mapping")
        pairs = [(str(k.value), _convert_scalar(str, v, f"{path}.{k.value}", ctx, lenient=True))
                 for k, v in node.value]
        return all(ok for _, (ok, _v) in pairs), {k: v for k, (_ok, v) in pairs}
    if origin is Literal:
        return _convert_scalar(str, node, path, ctx)  # its words are checked with the key's checks
    return _convert_scalar(tp, node, path, ctx)


def _convert_union(options: tuple[Any, ...], node: Node, path: str, ctx: _Ctx) -> tuple[bool, Any]:
    if type(None) in options and isinstance(node, ScalarNode) and node.tag.endswith(":null"):
        return True, None
    for tp in options:
        if tp is type(None):
            continue
        trial = _Ctx([], [])
        ok, value = _convert(tp, node, path, trial)
        if ok and not trial.errors:
            return True, value
    names = " or ".join("a mapping" if get_origin(t) is dict else "a list" if get_origin(t) is tuple
                        else _EXPECT.get(t, "null") for t in options)
    return ctx.fail(node, path, names)


def _convert_scalar(tp: Any, node: Node, path: str, ctx: _Ctx,
                    lenient: bool = False) -> tuple[bool, Any]:
    if not isinstance(node, ScalarNode):
        return ctx.fail(node, path, _EXPECT[tp])
    try:  # a fresh constructor: one kept for good would keep every node it ever built
        value = SafeConstructor().construct_object(node)
    except Exception:  # the file's tags were checked (safeyaml); this is for nodes built elsewhere
        return ctx.fail(node, path, _EXPECT[tp])
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value) if abs(value) < 1 << 1000 else math.inf
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        return ctx.fail(node, path, _EXPECT[tp])  # NaN and infinities: no timeout, rate or size
    if tp is str and lenient and isinstance(value, int | float | bool):
        value = node.value  # static field values: `port: 80` means the text "80"
    if type(value) is not tp:
        return ctx.fail(node, path, _EXPECT[tp])
    if tp is str and "\x00" in value:  # no file name, address or program can hold one
        ctx.errors.append(f"{where(node)}: {path}: a NUL byte in the value")
        return False, None
    return True, value
