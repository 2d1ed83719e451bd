"""Rule selection (`rules:` enable/disable by `rule:`/`tag:` with `*`): the same answer as a `*`-only
fnmatch, and linear in the name whatever the stars (the 12-star pattern of issue 27 took minutes)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import bounded
from tiercel.common.wildcard import wildcard_matcher
from tiercel.rules import load_rules

patterns = st.text(st.sampled_from("ab*?[.\n"), max_size=12)
names = st.text(st.sampled_from("ab?[.\n"), max_size=16)


def _reference(pattern: str, name: str) -> bool:
    # fnmatch with every other special character escaped: only `*` means anything
    escaped = "".join(f"[{c}]" if c in "?[" else c for c in pattern)
    return fnmatch.fnmatchcase(name, escaped)


@settings(max_examples=3000)
@given(patterns, names)
def test_means_star_only_fnmatch(pattern: str, name: str) -> None:
    assert wildcard_matcher(pattern)(name) == _reference(pattern, name)


def test_many_stars_against_a_long_name() -> None:
    """Issue 27 row 3: 12 stars against a 60-character name; here 200 stars and 60,000 characters."""
    with bounded(seconds=5, megabytes=50):
        for stars in (12, 200):
            pattern = "*a" * stars + "*b"
            for name in ("a" * 60, "a" * 60_000):
                assert not wildcard_matcher(pattern)(name)
                assert wildcard_matcher(pattern)(name + "b") is (len(name) >= stars)


def test_select_with_many_stars(tmp_path: Path) -> None:
    """The ruleset's `rules:` selection goes through it (a rule file with one long-named rule)."""
    path = tmp_path / "r.yaml"
    name = "a" * 60
    path.write_text(f"- rule: {name}\n  desc: d\n  condition: evt.type = open\n  output: o\n"
                    "  priority: WARNING\n  tags: [" + "a" * 60 + "]\n")
    ruleset, result = load_rules([str(path)])
    assert not result.errors
    with bounded(seconds=5, megabytes=50):
        assert ruleset.select(False, rule="*a" * 12 + "*b") == 0
        assert ruleset.select(False, tag="*a" * 12 + "*b") == 0
        assert ruleset.select(False, rule="*a" * 12 + "*") == 1
    assert ruleset.enabled_rules() == []
