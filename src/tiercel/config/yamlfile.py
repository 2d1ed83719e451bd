"""The config file read as YAML nodes that keep their position (`file:line:col`), and ConfigError.

Nodes, not Python values: the binding needs each value's position for its errors, and `-o` overrides
are grafted into the same tree (their nodes are named after the option, `-o key=value`).

The file is read within bounds and its tree checked before anything walks it (tiercel.common.safeyaml): a
FIFO or /dev/zero, an alias bomb, a duplicate key or a tag like `!!python/name:...` is an error with
its position, never a hang, a traceback or a silently kept last value.
"""

from __future__ import annotations

import io
from pathlib import Path

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node

from tiercel.common.errors import TiercelError, printable
from tiercel.common.safeyaml import FileRefused, check_node_count, read_text, tree_problems
from tiercel.config.envvars import ExpansionTooLarge, expand_tree

try:  # libyaml: fast, and it bounds nesting itself (PyYAML's own composer recurses in Python)
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - libyaml missing
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class ConfigError(TiercelError):
    exit_code = 1  # as Falco, and as rule-file errors; 2 is for a host that cannot run the probe


def read_file(path: Path) -> Node | None:
    """The file's root node (None for an empty file), its `${VAR}`s resolved (config.envvars); a file
    that cannot be read or parsed, or whose YAML has problems (tree_problems), is one error listing
    them."""
    try:
        text = read_text(path, "configuration file")
    except FileRefused as e:
        raise ConfigError(str(e)) from None
    try:
        root = compose(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(printable(f"{where}: not valid YAML: {yaml_reason(e)}")) from e
    except RecursionError:  # only without libyaml
        raise ConfigError(f"{path}: not valid YAML: nested too deeply") from None
    problems = [] if root is None else yaml_problems(root)
    if problems:
        raise ConfigError("invalid configuration (nothing was started):\n  "
                          + "\n  ".join(printable(p) for p in problems))
    if root is not None:
        try:
            expand_tree(root)  # as Falco: every scalar of a file, before any key is read
        except ExpansionTooLarge as e:
            raise ConfigError(printable(str(e))) from None
    return root


def yaml_reason(e: yaml.YAMLError) -> str:
    """What PyYAML or libyaml found, in one line (without the position they append)."""
    problem = getattr(e, "problem", None) or getattr(e, "reason", None)
    return str(problem) if problem else str(e).splitlines()[0]


def yaml_problems(root: Node, label: str | None = None) -> list[str]:
    """tree_problems as `position: message` lines (`label: message` for an `-o` value)."""
    return [f"{label or _at(m)}: {message}" for m, message in tree_problems(root)]


def _at(m: Mark) -> str:
    return f"{m.name}:{m.line + 1}:{m.column + 1}"


def compose(text: str, name: str) -> Node | None:
    """YAML text as nodes whose marks carry `name`; raises yaml.YAMLError (TooManyNodes, before
    composing, for a text of too many nodes)."""
    check_node_count(text, name, _Loader)
    stream = io.StringIO(text)
    stream.name = name  # both composers name their marks after the stream
    return yaml.compose(stream, Loader=_Loader)


def mark(name: str) -> Mark:
    """A position that is only a name: the defaults, or an `-o` option."""
    return Mark(name, 0, -1, -1, None, 0)


def empty_mapping(name: str) -> MappingNode:
    return MappingNode("tag:yaml.org,2002:map", [], mark(name), mark(name))


def where(node: Node) -> str:
    m = node.start_mark
    return m.name if m.line < 0 else f"{m.name}:{m.line + 1}:{m.column + 1}"
