"""The condition tree: what the parser builds, the passes rewrite and the compiler turns into closures.

Nodes are frozen, so passes return new trees and can share unchanged subtrees. Every node carries
`pos`, the offset in the condition text where it starts; it is left out of equality so that two trees
with the same meaning compare equal whatever their spacing.

    a and (b or not c.d = 1)
    And((Identifier("a"), Or((Identifier("b"), Not(Compare(FieldRef("c.d"), "=", Value("1")))))))
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The leaf operators of Falco's grammar, grouped by the kind of right-hand side they take.
UNARY_OPS = ("exists",)
NUM_OPS = ("<=", "<", ">=", ">")
STR_OPS = ("==", "=", "!=", "glob", "iglob", "contains", "icontains", "bcontains", "startswith",
           "bstartswith", "endswith", "regex")
LIST_OPS = ("intersects", "in", "pmatch")
MODIFIERS = ("oneof", "anyof", "allof")
TRANSFORMERS = ("tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt")


@dataclass(frozen=True, slots=True)
class Node:
    pos: int = field(default=0, compare=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class And(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Not(Node):
    child: Node


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    """A bare name where a check is expected: a macro reference."""

    name: str


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    """A field, with its argument: `proc.aname[2]` is FieldRef("proc.aname", "2")."""

    name: str
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class Value(Node):
    """A constant as written (quotes removed, escapes decoded); `quoted` says it was a quoted string."""

    text: str
    quoted: bool = False


@dataclass(frozen=True, slots=True)
class ListValue(Node):
    """`(a, 'b', c)`; in a transformer's arguments the items may also be fields or transformers."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Transformer(Node):
    """`tolower(proc.name)`, `join("-", (a.b, c.d))`, `getopt(proc.args, "t:")[t]`."""

    name: str
    args: tuple[Node, ...]
    arg: str | None = None


@dataclass(frozen=True, slots=True)
class ValExpr(Node):
    """`val(field)`: compare against another field of the same event, not a constant.

    `arg` is only there to reject `val(x.y)[z]` with Falco's message at compile time.
    """

    field: FieldRef
    arg: str | None = None


Operand = FieldRef | Transformer


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """A check: `left op right`. `right` is None for `exists`; a list name after `in` is a Value.

    `modifier` is `oneof`/`anyof`/`allof` for `proc.name == anyof (a, b)`.
    """

    left: Operand
    op: str
    right: Node | None = None
    modifier: str | None = None


def walk(node: Node) -> list[Node]:
    """Every node of the tree, parents before children (for passes that only look)."""
    out: list[Node] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(reversed(children(n)))
    return out


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, And | Or):
        return node.children
    if isinstance(node, Not):
        return (node.child,)
    if isinstance(node, Compare):
        return (node.left,) if node.right is None else (node.left, node.right)
    if isinstance(node, ListValue):
        return node.items
    if isinstance(node, Transformer):
        return node.args
    if isinstance(node, ValExpr):
        return (node.field,)
    return ()
