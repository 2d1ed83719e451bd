"""`glob`, `iglob` and globbed `pmatch` prefixes run on RE2 (linear in the value whatever the glob)
with exactly fnmatch's meaning: generated globs and values give the answer fnmatch gives."""

from __future__ import annotations

import fnmatch
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiercel.rules.language import literals
from tiercel.rules.language.globs import glob_pattern
from tiercel.rules.language.operators import MAX_VALUE, pmatch_matcher, value_matcher

# The characters that mean something in a glob or a class, a few letters either side of a range,
# a newline, and characters beyond ASCII.
GLOB_CHARS = "ab*?[]!-^\\/.z\n\u00e9\u202e"
globs = st.text(st.sampled_from(GLOB_CHARS), max_size=12)
values = st.text(st.sampled_from("abzAB/.-]![^\\\n\u00e9\u202e"), max_size=16)


@settings(max_examples=3000)
@given(globs, values)
def test_glob_means_what_fnmatch_means(glob: str, value: str) -> None:
    assert value_matcher("glob", glob, literals.STR)(value) == fnmatch.fnmatchcase(value, glob)


@settings(max_examples=1500)
@given(globs, values)
def test_iglob_ignores_case_as_before(glob: str, value: str) -> None:
    before = re.compile(fnmatch.translate(glob), re.IGNORECASE).match(value) is not None
    assert value_matcher("iglob", glob, literals.STR)(value) == before


@pytest.mark.parametrize(("glob", "value", "expected"), [
    ("[z-a]", "a", False),           # a reversed range is no range: the class is empty
    ("[!z-a]", "q", True),           # ... and its negation any character
    ("[a-c-e]", "-", True),          # the `-` after a range is itself
    ("[]]", "]", True), ("[!]]", "a", True), ("[^a]", "^", True),
    ("[[:alpha:]]", "a]", True),     # no POSIX classes in fnmatch
    ("a[", "a[", True), ("\\*", "\\x", True), ("*", "a\nb", True),
])
def test_corner_cases(glob: str, value: str, expected: bool) -> None:
    assert fnmatch.fnmatchcase(value, glob) is expected
    assert value_matcher("glob", glob, literals.STR)(value) is expected


def test_pathological_globs_end() -> None:
    """Stars and near-misses against a value as long as operators see: RE2 has no backtracking
    to blow up (the test asserts no time: a backtracking engine would simply not end here)."""
    value = "a" * MAX_VALUE
    for glob in ("*a*a*a*a*a*a*a*a*a*a*a*a*b", "*?*?*?*?*?*?*?*?*?*?b", "*[ab]*[ab]*[ab]*[ab]*c"):
        assert not value_matcher("glob", glob, literals.STR)(value)
        assert glob_pattern(glob).startswith("(?s)")


def test_pmatch_globbed_components() -> None:
    match = pmatch_matcher(["/opt/*/bin", "/srv/[ab]?"])
    assert match("/opt/x/bin/tool") and match("/srv/ax/file") and match("/srv/bq")
    assert not match("/opt/x/sbin/tool") and not match("/srv/cx/file") and not match("/opt")
