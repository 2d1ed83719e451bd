"""What a condition implies, how often checks hold, what they cost: the analysis behind keyed plans.

All functions here look at condition trees only, at load time. `necessary(node)` finds *atoms*,
sub-conditions that read one plain field against constants, such that `node` cannot hold unless one
of them does; `estimate` and `cost` are rough guesses (a check of one path or program name is
rarely true; `!=` nearly always) used to pick selective keys and to order checks. A wrong guess
costs speed, never correctness: keys are only ever used as necessary conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tiercel.rules.language import syntax

FieldKey = tuple[str, str | None]
Atom = tuple[FieldKey, syntax.Node]

# Fields whose value differs on (almost) every event: memoising them would only fill memory.
_PER_EVENT = frozenset({
    "evt.num", "evt.rawtime", "evt.rawtime.s", "evt.rawtime.ns", "evt.time", "evt.time.s",
    "evt.time.iso8601", "evt.datetime", "evt.datetime.s", "proc.duration", "proc.ppid.duration",
    "thread.tid", "proc.pid", "fd.cport", "fd.lport", "fd.uid", "fd.num", "evt.buffer", "evt.args",
    "evt.info", "proc.exe_ino.ctime_duration_proc_start",
})



def single_field(node: syntax.Node) -> FieldKey | None:
    """The one plain field every check of `node` reads against constants, if there is one."""
    keys: set[FieldKey] = set()
    for n in syntax.walk(node):
        if isinstance(n, syntax.Compare):
            if not isinstance(n.left, syntax.FieldRef) or n.modifier is not None:
                return None
            right = n.right
            if right is not None and not isinstance(right, syntax.Value | syntax.ListValue):
                return None
            if isinstance(right, syntax.ListValue) and not all(
                    isinstance(i, syntax.Value) for i in right.items):
                return None
            keys.add((n.left.name, n.left.arg))
        elif not isinstance(n, syntax.And | syntax.Or | syntax.Not | syntax.FieldRef | syntax.Value
                            | syntax.ListValue):
            return None
    if len(keys) != 1:
        return None
    key = keys.pop()
    return None if key[0] in _PER_EVENT else key


# Fields with few distinct values on a host: a check of one value is true of many events.
_COARSE = frozenset({
    "fd.typechar", "fd.type", "fd.l4proto", "fd.sockfamily", "fd.is_server", "fd.connected", "evt.dir",
    "evt.res", "evt.rawres", "evt.failed", "evt.category", "syscall.type", "evt.type", "evt.source",
    "container.id", "container.type", "container.privileged", "proc.tty", "user.uid", "user.name",
    "group.gid", "group.name", "user.loginuid", "user.loginname", "thread.ismain", "evt.is_async",
    "evt.is_io", "evt.is_io_read", "evt.is_io_write", "evt.is_wait", "evt.is_syslog",
    # k8s_audit: every rule's `kevt` (jevt.value[/stage] in (ResponseComplete)) holds on most events
    "jevt.value", "ka.stage", "ka.auth.decision", "ka.response.code",
})


def estimate(node: syntax.Node) -> float:
    """A rough probability that `node` holds on a routine event (for choosing keys only)."""
    if isinstance(node, syntax.Not):
        return 1.0 - estimate(node.child)
    if isinstance(node, syntax.And):
        return min(estimate(c) for c in node.children)
    if isinstance(node, syntax.Or) and _set_like(node):
        # `f in (a, b, c)` spelt out (fd.filename in (...) as fd.name endswith '/a' or ...): still
        # a short list of specific values, about as selective as one of them.
        return min(1.0, max(estimate(c) for c in node.children) + 0.005 * (len(node.children) - 1))
    if isinstance(node, syntax.Or):
        miss = 1.0
        for c in node.children:
            miss *= 1.0 - estimate(c)
        return 1.0 - miss
    if isinstance(node, syntax.Compare):
        right = node.right
        if node.op in ("in", "intersects") and isinstance(right, syntax.ListValue) and not right.items:
            return 0.0
        if node.op in ("=", "==", "in", "intersects"):
            text = right.text if isinstance(right, syntax.Value) else ""
            coarse = text.lower() in ("true", "false", "0", "1") or node.left.name in _COARSE
            return 0.5 if coarse else 0.02
        if node.op in ("startswith", "endswith", "contains", "icontains", "glob", "iglob", "regex",
                       "pmatch", "bcontains", "bstartswith"):
            text = right.text if isinstance(right, syntax.Value) else ""
            return min(0.2, max(0.005, 0.3 / max(len(text), 1)))    # longer text, rarer match
        if node.op in ("!=", "exists"):
            return 0.95
        return 0.5
    return 1.0


def _set_like(node: syntax.Or) -> bool:
    return single_field(node) is not None and all(
        isinstance(c, syntax.Compare) and c.op in ("=", "==", "in", "startswith", "endswith")
        for c in node.children)


def necessary(node: syntax.Node, usable: Callable[[FieldKey], bool]) -> list[Atom] | None:
    """Atoms on single fields such that `node` implies at least one of them; None if none found."""
    via_name = _via_fd_name(node)
    if via_name is not None:
        node = via_name
    key = single_field(node)
    if key is not None and usable(key):
        return [(key, node)]
    if isinstance(node, syntax.Not):
        child = node.child
        if isinstance(child, syntax.Not):
            return necessary(child.child, usable)
        if isinstance(child, syntax.And | syntax.Or):       # De Morgan: push the negation down
            flipped = tuple(syntax.Not(c) for c in child.children)
            pushed = syntax.Or(flipped) if isinstance(child, syntax.And) else syntax.And(flipped)
            return necessary(pushed, usable)
        return None
    if isinstance(node, syntax.And):
        return best([necessary(c, usable) for c in node.children])
    if isinstance(node, syntax.Or):
        out: list[Atom] = []
        for c in node.children:
            part = necessary(c, usable)
            if part is None:
                return None
            out.extend(part)
        return out
    return None


def _via_fd_name(node: syntax.Node) -> syntax.Node | None:
    """`fd.directory in (D...)` / `fd.filename in (F...)` as a check on fd.name that they imply.

    Both fields derive from fd.name (rules.fields.fd): fd.directory is dirname(fd.name), or fd.name itself
    for a directory; fd.filename is basename(fd.name). So `fd.directory = D` implies `fd.name = D or
    fd.name startswith 'D/'` (not for D = '/', the directory of names without a slash), and
    `fd.filename = F` implies `fd.name = F or fd.name endswith '/F'`. Keys on fd.name alone save
    the plan two extractions per open.
    """
    if not isinstance(node, syntax.Compare) or node.modifier is not None or node.op not in ("=", "==", "in"):
        return None
    left, right = node.left, node.right
    if not isinstance(left, syntax.FieldRef) or left.arg is not None or left.name not in (
            "fd.directory", "fd.filename"):
        return None
    values = [right] if isinstance(right, syntax.Value) else right.items if isinstance(
        right, syntax.ListValue) else None
    if values is None or not all(isinstance(v, syntax.Value) for v in values):
        return None
    texts = [v.text for v in values if isinstance(v, syntax.Value)]
    name = syntax.FieldRef("fd.name")
    if not texts:
        return node            # `in ()`: never true, whatever the field
    if left.name == "fd.directory":
        if "/" in texts:
            return None
        parts = [syntax.Compare(name, "startswith", syntax.Value(t + "/")) for t in texts]
    else:
        parts = [syntax.Compare(name, "endswith", syntax.Value("/" + t)) for t in texts]
    same = syntax.Compare(name, "in", syntax.ListValue(tuple(syntax.Value(t) for t in texts)))
    return syntax.Or((same, *parts), pos=node.pos)


def best(options: Sequence[list[Atom] | None]) -> list[Atom] | None:
    """The most selective of several candidate keys."""
    found = [o for o in options if o is not None]
    if not found:
        return None
    return min(found, key=lambda atoms: sum(estimate(n) for _, n in atoms))


# -- evaluation order ---------------------------------------------------------------------------

# Fields that walk the process tree, join strings or build lists: dearer to extract than an attribute.
_DEAR = frozenset({
    "proc.cmdline", "proc.args", "proc.exeline", "proc.pcmdline", "proc.env", "proc.aname", "proc.aexe",
    "proc.aexepath", "proc.acmdline", "proc.apid", "proc.loginshellid", "fd.types", "evt.args", "evt.info",
    "fd.ip", "fd.net", "fd.port", "fd.proto", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet", "fd.rip",
    "fd.lip", "thread.cap_permitted", "thread.cap_effective", "thread.cap_inheritable", "proc.sname",
    "proc.vpgid.name",
})
_SLOW_OPS = frozenset({"regex", "glob", "iglob", "pmatch", "icontains"})


def cost(node: syntax.Node) -> float:
    """A rough relative cost of evaluating `node` once (for ordering only)."""
    if isinstance(node, syntax.Not):
        return cost(node.child)
    if isinstance(node, syntax.And | syntax.Or):
        return sum(cost(c) for c in node.children)
    if isinstance(node, syntax.Compare):
        left = node.left
        dear = not isinstance(left, syntax.FieldRef) or left.name in _DEAR or not isinstance(
            node.right, syntax.Value | syntax.ListValue | None)
        return (3.0 if dear else 1.0) * (2.0 if node.op in _SLOW_OPS else 1.0)
    return 1.0


def reorder(node: syntax.Node) -> syntax.Node:
    """The same condition with cheap, decisive checks first inside every `and` and `or`.

    Safe because checks are pure and never raise: `a and b` equals `b and a`. (An extractor that did
    raise would fail the whole plan, and the ruleset then evaluates each rule's own predicate.)
    """
    if isinstance(node, syntax.Not):
        return syntax.Not(reorder(node.child), pos=node.pos)
    if isinstance(node, syntax.And | syntax.Or):
        kids = [reorder(c) for c in node.children]
        if isinstance(node, syntax.And):       # most likely false per unit of cost first
            kids.sort(key=lambda c: cost(c) / max(1.0 - estimate(c), 0.01))
        else:                               # most likely true per unit of cost first
            kids.sort(key=lambda c: cost(c) / max(estimate(c), 0.01))
        return type(node)(tuple(kids), pos=node.pos)
    return node
