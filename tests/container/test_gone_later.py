"""A destroyed container's metadata outlives the destroy event by KEEP_S (its processes' last
records can arrive after it), then goes."""

from __future__ import annotations

import pytest

from tiercel.container.docker import DockerEngine
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


def test_a_container_gone_before_its_inspect_keeps_the_events_name(monkeypatch: pytest.MonkeyPatch) -> None:
    # The engine answering 404 for a container it just started cannot be brought about on demand
    # (it is a race of ~20 ms): the inspect is replaced by that answer. The live path is covered by
    # tests/container/test_metadata_wait_live.py.
    full_id = "a" * 64
    r = DockerEngine("/nonexistent/docker.sock")
    monkeypatch.setattr(r, "_inspect", lambda _id: None)
    r._on_runtime_event({"Action": "start", "id": full_id,
                         "Actor": {"ID": full_id, "Attributes": {"name": "web", "image": "nginx:1.25"}}})
    c = r.cache[full_id]
    assert (c.name, c.image, c.image_repository, c.image_tag) == ("web", "nginx:1.25", "nginx", "1.25")
    r._on_runtime_event({"Action": "destroy", "id": full_id, "Actor": {"ID": full_id}})
    assert r.cache[full_id] is c            # kept: its processes' last records may still come
