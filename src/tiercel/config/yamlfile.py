"""The config file read as YAML nodes that keep their position (`file:line:col`), and ConfigError.

Nodes, not Python values: the binding needs each value's position for its errors, and `-o` overrides
are grafted into the same tree (their nodes are named after the option, `-o key=value`).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from yaml.error import Mark
from yaml.nodes import MappingNode, Node

from tiercel.errors import TiercelError


class ConfigError(TiercelError):
    exit_code = 1  # as Falco, and as rule-file errors; 2 is for a host that cannot run the probe


def read_file(path: Path) -> Node | None:
    """The file's root node (None for an empty file); a file that cannot be read or parsed is one error."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the configuration file {path}: {e}") from e
    try:
        return compose(text, str(path))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from e


def compose(text: str, name: str) -> Node | None:
    """YAML text as nodes whose marks carry `name`; raises yaml.YAMLError."""
    return yaml.compose(text, Loader=_NamedLoader.for_file(name))


class _NamedLoader(yaml.SafeLoader):
    """A loader whose marks carry the file name (yaml.compose alone names every file '<unicode string>')."""

    name = ""

    @classmethod
    def for_file(cls, name: str) -> type[_NamedLoader]:
        return type("_Loader", (cls,), {"name": name})

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.name = type(self).name


def mark(name: str) -> Mark:
    """A position that is only a name: the defaults, or an `-o` option."""
    return Mark(name, 0, -1, -1, None, 0)


def empty_mapping(name: str) -> MappingNode:
    return MappingNode("tag:yaml.org,2002:map", [], mark(name), mark(name))


def where(node: Node) -> str:
    m = node.start_mark
    return m.name if m.line < 0 else f"{m.name}:{m.line + 1}:{m.column + 1}"
