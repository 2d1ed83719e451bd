"""Environment variables in config files, as Falco's config loader resolves them.

Every scalar of a config file (and of each file in `config_files`), whatever its key and type, before
anything reads it; `-o` values are not (Falco applies them after, as given: the shell has expanded
them already). From the first `$` on, left to right:

    ${NAME}    NAME's value, or nothing when NAME is unset (NAME is everything up to the first `}`)
    $${...}    the escape: `${...}` is kept as written (one `$` removed)
    ${ or $${ with no `}` after them, or a `$` followed by anything else: the rest of the value is
               kept as written, `${...}` in it included (so `'/tmp/x_$HOME'` stays as it is)

One pass, linear in the value and what it expands to: a variable's value is inserted as it is, not
read again for `${...}` (Falco's loop re-reads it, so a value that names itself would never end),
and a file's expansions add at most MAX_GROWTH bytes in all.

A plain (unquoted) scalar that changed is typed again from its new text, so `listen_port: ${PORT}`
is the integer PORT holds; a quoted one stays text.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from yaml.nodes import Node, ScalarNode
from yaml.resolver import Resolver

from tiercel.common.safeyaml import child_nodes

MAX_GROWTH = 16 << 20

_RESOLVER = Resolver()


class ExpansionTooLarge(Exception):
    """The expansions of one file would add more than MAX_GROWTH bytes."""


def expand(value: str, env: Mapping[str, str]) -> str:
    """`value` with Falco's `${NAME}` and `$${...}` resolved (see the module docstring)."""
    out: list[str] = []
    pos, close = 0, -1      # close: the first `}` at or after `start`, found once for many `$${`
    start = value.find("$")
    while start >= 0:
        if close < start:
            close = value.find("}", start)
        if value.startswith("${", start):
            if close < 0:
                break
            out += (value[pos:start], env.get(value[start + 2:close], ""))
            pos = close + 1
            start = value.find("$", pos)
        elif value.startswith("$${", start):
            if close < 0:
                break
            out.append(value[pos:start + 1])   # one `$` of the two
            pos = start + 2
            start = value.find("$", pos)
        else:
            break
    out.append(value[pos:])
    return "".join(out)


def expand_tree(root: Node, env: Mapping[str, str] | None = None) -> None:
    """Resolve the variables of every scalar under `root` in place, each node once (an alias is the
    same node); ExpansionTooLarge (naming the node) when they would add more than MAX_GROWTH bytes."""
    env = os.environ if env is None else env
    grown = 0
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if not isinstance(node, ScalarNode):
            stack += child_nodes(node)
            continue
        if "$" not in node.value:
            continue
        new = expand(node.value, env)
        grown += max(len(new) - len(node.value), 0)
        if grown > MAX_GROWTH:
            m = node.start_mark
            raise ExpansionTooLarge(f"{m.name}:{m.line + 1}:{m.column + 1}: environment variables "
                                    f"would make this file more than {MAX_GROWTH >> 20} MiB "
                                    "larger; refused")
        if new != node.value:
            node.value = new
            if not node.style:  # plain: None from PyYAML's composer, '' from libyaml's
                node.tag = _retype(new)


def _retype(text: str) -> str:
    """The tag YAML gives a plain scalar of this text (int, bool, null, float ... or str)."""
    return str(_RESOLVER.resolve(ScalarNode, text, (True, False)))  # type: ignore[no-untyped-call]
