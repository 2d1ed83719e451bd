"""A straightforward reference evaluation of rule conditions, to check the optimised engine against.

It walks each rule's expanded condition tree on each event, in the order written, with its own
plain implementation of every operator the upstream rule files use, and plain (uncached, not
inlined) versions of the fields the engine computes in optimised ways (fd.directory, fd.filename,
fd.nameraw, evt.arg.<name>). Nothing of the engine's plans, keys, memos, reordering or operator
closures is used; the other extractors come from the field table, and constants are converted by
rules.language.literals as the compiler converts them.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from tiercel.events import flags as fl
from tiercel.events.model import Event
from tiercel.rules.fields.table import FieldTable
from tiercel.rules.language import literals, syntax
from tiercel.rules.matching.ruleset import CompiledRule

_OPEN_EVENTS = frozenset({"open", "openat", "openat2", "open_by_handle_at", "creat"})


class Reference:
    def __init__(self, table: FieldTable | None = None) -> None:
        self.table = table or FieldTable()

    def matches(self, rules: Sequence[CompiledRule], ev: Event) -> list[str]:
        """Names of every rule (in definition order) whose condition holds for `ev`."""
        out = []
        for r in rules:
            if r.evttypes is not None and ev.type not in r.evttypes:
                continue
            assert r.node is not None
            if self.eval(r.node, ev):
                out.append(r.name)
        return out

    def eval(self, node: syntax.Node, ev: Event) -> bool:
        if isinstance(node, syntax.And):
            return all(self.eval(c, ev) for c in node.children)
        if isinstance(node, syntax.Or):
            return any(self.eval(c, ev) for c in node.children)
        if isinstance(node, syntax.Not):
            return not self.eval(node.child, ev)
        if isinstance(node, syntax.Compare):
            return self.compare(node, ev)
        raise NotImplementedError(type(node).__name__)

    # -- fields ----------------------------------------------------------------------------------

    def value(self, ref: syntax.FieldRef, ev: Event) -> Any:
        name = ref.name
        if name in ("fd.directory", "fd.filename"):
            path = self.value(syntax.FieldRef("fd.name"), ev)
            kind = ev.fd.typechar if ev.fd is not None else "f"
            if path is None or kind not in ("f", "d") or (kind == "d" and name == "fd.filename"):
                return None
            if kind == "d":
                return path
            i = path.rfind("/")
            if name == "fd.filename":
                return path if i < 0 or i == len(path) - 1 else path[i + 1:]
            return "/" if i <= 0 else path if i == len(path) - 1 else path[:i]
        if name == "fd.nameraw":
            raw = ev.args.get("name") if ev.type in _OPEN_EVENTS else None
            if isinstance(raw, str):
                return raw
            return ev.fd.name if ev.fd is not None and ev.fd.typechar in ("f", "d") else None
        if name.startswith("evt.arg.") and ref.arg is None:
            key = name[len("evt.arg."):]
            raw = ev.args.get(key)
            env = self.table.env
            return None if raw is None else fl.render_arg(ev.type, key, raw, env.user_name, env.group_name)
        return self.table.resolve(name, ref.arg).extract(ev)

    # -- checks ----------------------------------------------------------------------------------

    def compare(self, node: syntax.Compare, ev: Event) -> bool:
        left = node.left
        if not isinstance(left, syntax.FieldRef) or node.modifier is not None:
            raise NotImplementedError("transformers, val() and modifiers are not used upstream")
        fdef = self.table.resolve(left.name, left.arg)
        many = fdef.is_list or fdef.either or fdef.type.endswith("ARRAY")
        fam = literals.family(fdef.type)
        v = self.value(left, ev)
        if node.op == "exists":
            return v is not None and (not many or len(v) > 0)
        if v is None:
            return False
        right = node.right
        items = right.items if isinstance(right, syntax.ListValue) else (right,) if right is not None else ()
        texts = [i.text for i in items if isinstance(i, syntax.Value)]
        consts = [t if node.op in _TEXT_OPS else literals.convert(t, fam, fdef.type) for t in texts]
        if not many:
            return _safe(node.op, v, consts, fam)
        vs = list(v)
        if node.op in ("in", "!="):
            return bool(vs) and all(x is not None and _safe(node.op, x, consts, fam) for x in vs)
        return any(x is not None and _safe(node.op, x, consts, fam) for x in vs)


_TEXT_OPS = frozenset({"contains", "icontains", "startswith", "endswith", "glob", "regex"})


def _safe(op: str, x: Any, consts: list[Any], fam: str) -> bool:
    try:
        return _one(op, x, consts, fam)
    except (TypeError, AttributeError, ValueError):
        return False


def _one(op: str, x: Any, consts: list[Any], fam: str) -> bool:
    if op in ("=", "=="):
        return _equal(x, consts[0], fam)
    if op == "!=":
        return not _equal(x, consts[0], fam)
    if op in ("in", "intersects"):
        return any(_equal(x, c, fam) for c in consts)
    c = consts[0]
    if op == "<":
        return bool(x < c)
    if op == "<=":
        return bool(x <= c)
    if op == ">":
        return bool(x > c)
    if op == ">=":
        return bool(x >= c)
    if op == "contains":
        return c in x
    if op == "icontains":
        return c.lower() in x.lower()
    if op == "startswith":
        return bool(x.startswith(c))
    if op == "endswith":
        return bool(x.endswith(c))
    if op == "glob":
        return fnmatch.fnmatchcase(x, c)
    if op == "regex":
        return re.fullmatch(c, x) is not None
    raise NotImplementedError(op)


def _equal(x: Any, c: Any, fam: str) -> bool:
    if isinstance(c, ipaddress.IPv4Network | ipaddress.IPv6Network):
        try:
            a = x if isinstance(x, ipaddress.IPv4Address | ipaddress.IPv6Address) else ipaddress.ip_address(x)
        except ValueError:
            return False
        return a.version == c.version and a in c
    if fam == literals.IP:
        return bool(x == c or x == str(c) or x == c.exploded)
    if fam == literals.STR and isinstance(c, str) and c.lstrip("+-").isdigit():
        return bool(x == c or x == int(c))
    return bool(x == c)
