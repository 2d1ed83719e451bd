"""A destroyed container's metadata outlives the destroy event by KEEP_S (its processes' last
records can arrive after it), then goes."""

from __future__ import annotations

from tiercel.container.gone import GoneLater


def test_forgotten_only_after_the_grace() -> None:
    now = [0.0]
    cache = {"a": "alpha", "b": "beta"}
    forgotten: list[str] = []
    gone = GoneLater(cache, forgotten.append, keep_s=10.0, clock=lambda: now[0])
    gone.gone("a")
    now[0] = 9.9
    gone.forget_due()
    assert cache == {"a": "alpha", "b": "beta"} and forgotten == []
    now[0] = 10.0
    gone.gone("b")
    assert cache == {"b": "beta"} and forgotten == ["a"]
    now[0] = 20.0
    gone.forget_due()
    assert cache == {} and forgotten == ["a", "b"]
