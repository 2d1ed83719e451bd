"""`-o key=value`: one value grafted into the file's node tree before it is bound, as Falco's -o.

The key is a path of names and list indexes (`file_output.enabled`, `append_output[0].match.tag`);
what is missing on the way is created. The value is read as YAML (`-o 'actions=[log, alert]'`) and
its nodes are named after the option, so an error in it reads `-o key=value: key: expected ...`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.safeyaml import child_nodes
from tiercel.config.yamlfile import compose, empty_mapping, mark, where, yaml_problems, yaml_reason

_STEP = re.compile(r"([A-Za-z0-9_]+)|\[(\d+)\]")
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


def _parse_path(key: str) -> list[str | int] | None:
    steps: list[str | int] = []
    for part in key.split("."):
        pos = 0
        while pos < len(part):
            m = _STEP.match(part, pos)
            if m is None:
                return None
            index = m.group(2)
            if index is None:
                steps.append(m.group(1))
            else:  # a too-long index stays text, refused by the caller
                steps.append(int(index) if len(index) <= _MAX_INDEX_DIGITS else _LongIndex(index))
            pos = m.end()
    return steps or None


def _relabel(node: Node, label: str) -> None:
    node.start_mark = mark(label)
    for child in child_nodes(node):
        _relabel(child, label)


def _empty(step: str | int, label: str) -> Node:
    if isinstance(step, int):
        return SequenceNode("tag:yaml.org,2002:seq", [], mark(label), mark(label))
    return empty_mapping(label)


def _step_into(node: Node, step: str | int, new: Node, last: bool, label: str,
               errors: list[str], index: KeyIndex) -> Node | None:
    """Go one step down the path, creating what is missing (`new`); the last step puts `new` there."""
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
