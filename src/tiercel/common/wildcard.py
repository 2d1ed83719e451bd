"""Falco's selection wildcards (`rules:` enable/disable by `rule:` or `tag:`): `*` is any text, every
other character is itself, and the whole name must match.

Matched by splitting on `*` and finding each piece in turn, leftmost first: with only `*` (no `?`, no
classes) the leftmost place of each piece is always a right one, so the match never backtracks and
its time is linear in the name for each piece, whatever the number of stars (a backtracking `re`
took over a minute on 12 stars and a 60-character name).
"""

from __future__ import annotations

from collections.abc import Callable


def wildcard_matcher(pattern: str) -> Callable[[str], bool]:
    """A predicate: does the whole of a name match `pattern`?"""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern.__eq__
    head, middle, tail = parts[0], [p for p in parts[1:-1] if p], parts[-1]
    least = len(head) + len(tail) + sum(map(len, middle))

    def match(name: str) -> bool:
        if len(name) < least or not name.startswith(head) or not name.endswith(tail):
            return False
        pos, end = len(head), len(name) - len(tail)
        for piece in middle:
            found = name.find(piece, pos, end)
            if found < 0:
                return False
            pos = found + len(piece)
        return True
    return match
