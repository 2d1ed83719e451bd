"""Globs (`glob`, `iglob`, globbed `pmatch` prefixes) as RE2 patterns, so that matching is linear in
the value whatever the glob: Python's fnmatch compiles to a backtracking `re`, linear today only
because of how one release of the standard library writes `*`.

The meaning is fnmatch's, case by case:

    *          any text, `/` and newlines included (a run of stars is one star)
    ?          any one character
    [abc]      one of them; `a-z` is a range, a reversed range is no range, `-` first or last is
               itself; `]` first (after an optional `!`) is itself
    [!abc]     any one character but them (`^` first is itself, as in fnmatch)
    [          with no `]` after it: itself
    any other  itself (a backslash too: fnmatch has no escapes)
"""

from __future__ import annotations


def glob_pattern(glob: str, ignore_case: bool = False) -> str:
    """The RE2 pattern that matches (as a full match) what `glob` matches."""
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        c = glob[i]
        i += 1
        if c == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and (end := _class_end(glob, i)) >= 0:
            out.append(_class(glob[i:end]))
            i = end + 1
        else:
            out.append(_char(c))
    return ("(?is)" if ignore_case else "(?s)") + "".join(out)


def _class_end(glob: str, i: int) -> int:
    """The index of the `]` closing the class that starts at `i` (after its `[`), or -1."""
    j = i + 1 if glob.startswith("!", i) else i
    if glob.startswith("]", j):
        j += 1
    end = glob.find("]", j)
    return end


def _class(body: str) -> str:
    """`[body]`: split into fnmatch's chunks, the `-` between two chunks making a range of the
    characters either side of it; the `-`s inside a chunk are themselves."""
    if "-" in body:
        chunks: list[str] = []
        i, k = 0, (2 if body.startswith("!") else 1)
        while (k := body.find("-", k)) >= 0:
            chunks.append(body[i:k])
            i, k = k + 1, k + 3
        if body[i:]:
            chunks.append(body[i:])
        else:
            chunks[-1] += "-"
        for k in range(len(chunks) - 1, 0, -1):
            if chunks[k - 1][-1] > chunks[k][0]:     # a reversed range: neither end stays
                chunks[k - 1] = chunks[k - 1][:-1] + chunks[k][1:]
                del chunks[k]
    else:
        chunks = [body]
    negate = chunks[0].startswith("!")
    if negate:
        chunks[0] = chunks[0][1:]
    items: list[str] = []
    for index, chunk in enumerate(chunks):
        if index:                                   # the range across the `-` before this chunk
            items[-1] = f"{items[-1]}-{_char(chunk[0])}"
            chunk = chunk[1:]
        items += [_char(ch) for ch in chunk]
    if not items:
        return "." if negate else "[^\\x00-\\x{10ffff}]"   # fnmatch: any character, or none
    return ("[^" if negate else "[") + "".join(items) + "]"


def _char(c: str) -> str:
    """One character as itself in RE2, in or out of a class."""
    return c if c.isalnum() or not c.isascii() else f"\\x{{{ord(c):x}}}"
