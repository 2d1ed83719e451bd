r"""`-o key=value`: one value grafted into the file's node tree before it is bound, as Falco's -o.

The key is a path of names and list indexes (`file_output.enabled`, `append_output[0].match.tag`);
what is missing on the way is created. As Falco 0.44's key parser (yaml_helper): `[]` appends an
item to a list (`-o 'append_output[]={"extra_output": "x"}'`), and a backslash makes the next
character part of a name (`-o 'static_fields.my\.key=v'`: the key `my.key`; also `\[`, `\]`, `\\`).
The value is read as YAML (`-o 'actions=[log, alert]'`, `-o 'key={a: 1}'`, an object) and its nodes
are named after the option, so an error in it reads `-o key=value: key: expected ...`. A scalar
given for a list key is a list of that one item, as Falco reads a scalar where it wants a sequence
(`-o rules_files=/etc/x.yaml`).
"""

from __future__ import annotations

import dataclasses
import re
import types
from collections.abc import Iterable
from typing import Any, Union, get_args, get_origin

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.safeyaml import child_nodes
from tiercel.config.declare import keys_of
from tiercel.config.yamlfile import compose, empty_mapping, mark, where, yaml_problems, yaml_reason

_NAME_CHAR = re.compile(r"[A-Za-z0-9_-]")
_INDEX = re.compile(r"\[(\d*)\]")
_MAX_INDEX_DIGITS = 9   # no list has a billion items; 5,000 digits would not even convert


class KeyIndex:
    """Where each key of a mapping is, found once per mapping: 20,000 `-o static_fields.kN=...`
    each looked through every key before them took 11 s. Valid while only the overrides that share
    it change the mappings it has seen."""

    def __init__(self) -> None:
        self._by_node: dict[int, tuple[MappingNode, dict[str, int]]] = {}

    def keys(self, node: MappingNode) -> dict[str, int]:
        found = self._by_node.get(id(node))
        if found is None or found[0] is not node:
            index: dict[str, int] = {}
            for i, (k, _) in enumerate(node.value):
                index.setdefault(str(k.value), i)   # the first of a duplicated key, as before
            found = self._by_node[id(node)] = (node, index)
        return found[1]


def apply_overrides(root: MappingNode, args: Iterable[str], errors: list[str]) -> None:
    """Each `-o` in turn (see apply_override), sharing one KeyIndex."""
    index = KeyIndex()
    for arg in args:
        apply_override(root, arg, errors, index)


def apply_override(root: MappingNode, arg: str, errors: list[str], index: KeyIndex | None = None) -> None:
    """Put `-o a.b[1].c=value` into `root`; a problem is appended to `errors`."""
    index = index or KeyIndex()
    key, sep, text = arg.partition("=")
    label = f"-o {arg}" if len(arg) <= 100 else f"-o {arg[:97]}..."
    steps = _parse_path(key)
    if not sep or steps is None:
        errors.append(f"{label}: expected -o key=value with key like 'file_output.enabled'")
        return
    if any(isinstance(s, _LongIndex) for s in steps):
        errors.append(f"{label}: a list index of more than {_MAX_INDEX_DIGITS} digits")
        return
    try:
        value = compose(text or "''", label) or ScalarNode("tag:yaml.org,2002:null", "")
    except yaml.YAMLError as e:
        errors.append(f"{label}: not a valid YAML value: {yaml_reason(e)}")
        return
    except RecursionError:  # only without libyaml
        errors.append(f"{label}: not a valid YAML value: nested too deeply")
        return
    problems = yaml_problems(value, label)   # before _relabel walks it: an alias bomb stops here
    if problems:
        errors += problems
        return
    _relabel(value, label)
    if (isinstance(value, ScalarNode) and value.value and not value.tag.endswith(":null")
            and _is_list(root, steps, index)):
        value = SequenceNode("tag:yaml.org,2002:seq", [value], mark(label), mark(label))
    node: Node = root
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        new = value if last else _empty(steps[i + 1], label)
        found = _step_into(node, step, new, last, label, errors, index)
        if found is None:
            return
        node = found


class _LongIndex(str):
    """An index of more digits than any list can need, refused after parsing."""


class _Append:
    """`[]`: a new item at the end of the list."""

    def __repr__(self) -> str:
        return "[]"


APPEND = _Append()
Step = str | int | _Append


def _parse_path(key: str) -> list[Step] | None:
    """`a.b[1][]` into ['a', 'b', 1, APPEND]; None if it is not a key path. A backslash takes the
    next character into the name, whatever it is."""
    steps: list[Step] = []
    name: list[str] = []
    pos, after_index = 0, False
    while pos < len(key):
        c = key[pos]
        if c == "\\" and pos + 1 < len(key):
            name.append(key[pos + 1])
            pos += 2
        elif _NAME_CHAR.match(c) and not after_index:
            name.append(c)
            pos += 1
        elif c == "." and (name or after_index) and pos + 1 < len(key):
            if name:
                steps.append("".join(name))
                name = []
            after_index = False
            pos += 1
        elif c == "[" and (name or after_index):
            m = _INDEX.match(key, pos)
            if m is None:
                return None
            if name:
                steps.append("".join(name))
                name = []
            index = m.group(1)
            if not index:
                steps.append(APPEND)
            else:  # a too-long index stays text, refused by the caller
                steps.append(int(index) if len(index) <= _MAX_INDEX_DIGITS else _LongIndex(index))
            pos, after_index = m.end(), True
        else:
            return None
    if name:
        steps.append("".join(name))
    return steps or None


def _is_list(root: MappingNode, steps: list[Step], index: KeyIndex) -> bool:
    """Whether the key's value is a list: in the file already, or by the configuration's schema."""
    node: Node | None = root
    for step in steps:
        if isinstance(node, MappingNode) and isinstance(step, str):
            i = index.keys(node).get(step)
            node = node.value[i][1] if i is not None else None
        elif isinstance(node, SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
        else:
            node = None
        if node is None:
            break
    if node is not None:
        return isinstance(node, SequenceNode)
    from tiercel.config.schema import Config
    tp: Any = Config
    for step in steps:
        tp = _unwrap(tp)
        if isinstance(step, str) and isinstance(tp, type) and dataclasses.is_dataclass(tp):
            key = keys_of(tp).get(step)
            if key is None:
                return False
            tp = key.type
        elif not isinstance(step, str) and get_origin(tp) is tuple:
            tp = get_args(tp)[0]
        else:
            return False
    return get_origin(_unwrap(tp)) is tuple


def _unwrap(tp: Any) -> Any:
    """`X | None` as X."""
    if get_origin(tp) in (Union, types.UnionType):
        options = [t for t in get_args(tp) if t is not type(None)]
        return options[0] if len(options) == 1 else tp
    return tp


def _relabel(node: Node, label: str) -> None:
    node.start_mark = mark(label)
    for child in child_nodes(node):
        _relabel(child, label)


def _empty(step: Step, label: str) -> Node:
    if not isinstance(step, str):
        return SequenceNode("tag:yaml.org,2002:seq", [], mark(label), mark(label))
    return empty_mapping(label)


def _step_into(node: Node, step: Step, new: Node, last: bool, label: str,
               errors: list[str], index: KeyIndex) -> Node | None:
    """Go one step down the path, creating what is missing (`new`); the last step puts `new` there."""
    if isinstance(step, _Append):
        if isinstance(node, SequenceNode):
            node.value.append(new)
            return new
        errors.append(f"{label}: cannot append with '[]' to the value at {where(node)}: not a list")
        return None
    if isinstance(step, str) and isinstance(node, MappingNode):
        keys = index.keys(node)
        i = keys.get(step)
        if i is not None:
            k, v = node.value[i]
            if last:
                node.value[i] = (k, new)
            return new if last else v
        keys[step] = len(node.value)
        node.value.append((ScalarNode("tag:yaml.org,2002:str", step, mark(label)), new))
        return new
    if isinstance(step, int) and isinstance(node, SequenceNode) and step <= len(node.value):
        if step == len(node.value):
            node.value.append(new)
        elif last:
            node.value[step] = new
        item: Node = node.value[step]
        return item
    if isinstance(step, int) and isinstance(node, SequenceNode):
        errors.append(f"{label}: index {step} is past the end of a list of {len(node.value)}")
    else:
        errors.append(f"{label}: cannot follow '{step}' into the value at {where(node)}")
    return None
