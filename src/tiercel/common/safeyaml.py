"""YAML that anyone may have written (rule files, config files, `-o` values), read within bounds.

`read_text(path, what)` reads a file only if it is a regular file of at most MAX_FILE_BYTES of UTF-8:
a FIFO, a device (/dev/zero), a directory or a huge file is one clear error, never a hang or an
endless read (common.files.read_regular, the one safe reader).

`check_node_count(text, name, loader)` counts the nodes while libyaml reads them, before anything
is composed: a file of more than MAX_NODES nodes (a 16 MB flow list holds millions) is refused at
the node past the limit, within a fraction of a second, instead of after composing gigabytes.

`tree_problems(root)` checks a composed node tree before anything walks it, and returns each
problem as (position, message):

- aliases: PyYAML composes an alias as a second reference to the anchored node, so a few hundred
  bytes can stand for billions of nodes (the "billion laughs"). At most MAX_ALIASES alias uses, and
  the tree as the walkers see it, aliases expanded, at most MAX_EXPANDED nodes; an alias inside the
  node it names (a cycle) is refused. These stop the check: the first is the only one reported.
- nesting deeper than MAX_DEPTH (the walkers recurse; libyaml's own limit is 1000).
- a key given twice in one mapping (YAML forbids it; PyYAML silently keeps the last), with the
  position of both.
- tags: only YAML's own (`!!str`, `!!int`, `!!map` ...); a value must fit the tag it was given
  (`!!int abc` is refused here, not by a ValueError deep in a constructor).

Sizes, counts and the depth are computed on the shared nodes, so the check itself is linear in the
composed tree, whatever it expands to.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark, MarkedYAMLError
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.files import Unreadable, read_regular

MAX_FILE_BYTES = 16 << 20
MAX_ALIASES = 1000
MAX_EXPANDED = 200_000
MAX_DEPTH = 100
MAX_NODES = MAX_EXPANDED   # as read; aliases may make the tree bigger, which check_tree bounds

_STD = "tag:yaml.org,2002:"
_CHECKED_SCALARS = {f"{_STD}{t}" for t in ("int", "float", "bool", "null", "timestamp", "binary")}
_SCALAR_TAGS = _CHECKED_SCALARS | {f"{_STD}str", f"{_STD}merge", f"{_STD}value"}
_COLLECTION_TAGS = {f"{_STD}{t}" for t in ("seq", "map", "set", "omap", "pairs")}

Problem = tuple[Mark, str]


class FileRefused(Exception):
    """The file cannot be read as text; the message is complete (it names the file), `why` is the
    reason alone."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


def read_text(path: Path | str, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The text of `path`, a regular UTF-8 file of at most `limit` bytes; else FileRefused saying
    `cannot read the {what} {path}: <why>`."""
    def refuse(why: str) -> FileRefused:
        return FileRefused(f"cannot read the {what} {path}: {why}", why)

    try:
        data = read_regular(path, limit)
    except Unreadable as e:
        raise refuse(e.why) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise refuse(f"not UTF-8 text (byte {e.start})") from None


class TooManyNodes(MarkedYAMLError):
    """More than MAX_NODES nodes, found while reading; its `problem` says which limit."""


def check_node_count(text: str, name: str, loader: Any, limit: int = MAX_NODES) -> None:
    """Raise TooManyNodes (a yaml.MarkedYAMLError, at the first node past `limit`) when `text`
    holds more than `limit` YAML nodes; a syntax error is left for the composer to report. Only
    libyaml's events are built, one at a time, and reading stops at the limit."""
    stream = io.StringIO(text)
    stream.name = name
    count = 0
    try:
        for event in yaml.parse(stream, Loader=loader):
            if isinstance(event, ScalarEvent | CollectionStartEvent | AliasEvent):
                count += 1
                if count > limit:
                    raise TooManyNodes(problem=f"more than {limit} YAML nodes (the limit on a "
                                       "file's size in nodes); refused while reading",
                                       problem_mark=event.start_mark)  # type: ignore[arg-type]
    except TooManyNodes:
        raise
    except yaml.YAMLError:
        return


def short_tag(tag: str) -> str:
    return "!!" + tag[len(_STD):] if tag.startswith(_STD) else tag


def child_nodes(node: Node) -> list[Node]:
    """A mapping's keys and values in order, a sequence's items; a scalar has none."""
    if isinstance(node, MappingNode):
        return [n for kv in node.value for n in kv]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def tree_problems(root: Node) -> list[Problem]:
    """Every problem of the tree under `root` (see the module docstring), in file order."""
    unsafe, found = check_tree(root)
    return [unsafe] if unsafe is not None else found


def check_tree(root: Node, tags: bool = True) -> tuple[Problem | None, list[Problem]]:
    """(the problem that makes the tree unsafe to walk: aliases, cycle, depth, size; or None),
    and the other problems (duplicate keys, and tags unless `tags` is false), in file order.

    Rule files pass tags=False: Falco reads every scalar as text whatever its tag, and upstream
    files hold `desc: != after evt.type`, which YAML reads as the local tag `!=`."""
    found: list[Problem] = []
    sizes: dict[int, int] = {}      # id(node) -> nodes it expands to, itself included
    heights: dict[int, int] = {}
    visiting = {id(root)}
    aliases = 0
    stack: list[tuple[Node, list[Node], int]] = [(root, child_nodes(root), 0)]
    while stack:
        node, kids, i = stack[-1]
        if i < len(kids):
            stack[-1] = (node, kids, i + 1)
            child, cid = kids[i], id(kids[i])
            if cid in visiting:
                return (child.start_mark, "a YAML alias refers to a node that contains it"), []
            if cid in sizes:
                aliases += 1
                if aliases > MAX_ALIASES:
                    return (child.start_mark, f"more than {MAX_ALIASES} YAML aliases"), []
                if len(stack) + heights[cid] > MAX_DEPTH:
                    return (child.start_mark, f"nested more than {MAX_DEPTH} levels deep"), []
                continue
            if len(stack) >= MAX_DEPTH:
                return (child.start_mark, f"nested more than {MAX_DEPTH} levels deep"), []
            visiting.add(cid)
            stack.append((child, child_nodes(child), 0))
            continue
        stack.pop()
        visiting.discard(id(node))
        size = 1 + sum(sizes[id(k)] for k in kids)
        if size > MAX_EXPANDED:
            return (node.start_mark, f"expands to more than {MAX_EXPANDED} YAML nodes "
                                     "(through aliases)"), []
        sizes[id(node)] = size
        heights[id(node)] = 1 + max((heights[id(k)] for k in kids), default=0)
        found += _node_problems(node, tags)
    return None, sorted(found, key=lambda p: (p[0].line, p[0].column))


def _node_problems(node: Node, tags: bool) -> list[Problem]:
    if isinstance(node, ScalarNode):
        return _scalar_problems(node) if tags else []
    if tags and node.tag not in _COLLECTION_TAGS:
        return [(node.start_mark, f"unsupported YAML tag '{short_tag(node.tag)}'")]
    if isinstance(node, MappingNode):
        return _duplicate_keys(node)
    return []


def _scalar_problems(node: ScalarNode) -> list[Problem]:
    if node.tag not in _SCALAR_TAGS:
        return [(node.start_mark, f"unsupported YAML tag '{short_tag(node.tag)}'")]
    if node.tag in _CHECKED_SCALARS:
        try:
            SafeConstructor.yaml_constructors[node.tag](SafeConstructor(), node)
        except Exception:  # ValueError, ConstructorError, a failed regex match: all the same to us
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            return [(node.start_mark, f"'{shown}' is not a valid {short_tag(node.tag)}")]
    return []


def _duplicate_keys(node: MappingNode) -> list[Problem]:
    first: dict[str, Mark] = {}
    found: list[Problem] = []
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == f"{_STD}merge":
            continue
        seen = first.setdefault(key.value, key.start_mark)
        if seen is not key.start_mark:
            found.append((key.start_mark, f"duplicate key '{key.value}' "
                                          f"(first at line {seen.line + 1}, column {seen.column + 1})"))
    return found
