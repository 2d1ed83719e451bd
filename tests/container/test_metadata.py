"""Docker inspect answers -> Container fields, and the rules that read them, without a daemon.

`--privileged` cannot start a container on these VMs (their capability bounding set lacks
CAP_SYS_RESOURCE), so the privileged case uses a fixture: this machine's real `docker inspect` answer
for a busybox container, with what `--privileged` changes in it applied (HostConfig.Privileged,
AppArmorProfile) and kubelet-style labels added.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tiercel.container.docker import DockerEngine, fill, healthcheck_argv, parse_time, split_image
from tiercel.events.model import Container, Event
from tiercel.rules import FieldTable, load_rules
from tiercel.testing.events import execve, process

FIXTURE = Path(__file__).parent / "fixtures" / "inspect_privileged.json"
UPSTREAM = ["rules/falco_rules.yaml", "rules/falco-incubating_rules.yaml"]  # under the oracle directory


@pytest.mark.parametrize(("image", "expected"), [
    ("busybox", ("busybox", "latest")),
    ("tiercel-test/busybox:1", ("tiercel-test/busybox", "1")),
    ("registry:5000/team/app:1.2", ("registry:5000/team/app", "1.2")),
    ("registry:5000/team/app", ("registry:5000/team/app", "latest")),
    ("app@sha256:abcd", ("app", "")),
])
def test_split_image(image: str, expected: tuple[str, str]) -> None:
    assert split_image(image) == expected


@pytest.mark.parametrize(("test", "argv"), [
    (["CMD", "curl", "-f", "http://localhost/"], ["curl", "-f", "http://localhost/"]),
    (["CMD-SHELL", "pg_isready -U app"], ["/bin/sh", "-c", "pg_isready -U app"]),
    (["NONE"], None),
    (None, None),
])
def test_healthcheck_argv(test: list[str] | None, argv: list[str] | None) -> None:
    assert healthcheck_argv(test) == argv


def test_healthcheck_process_is_recognised() -> None:
    c = privileged()
    c.healthcheck = ["/bin/sh", "-c", "pg_isready -U app"]
    ev = spawned(c, 9)
    assert ev.proc is not None
    ev.proc.exe, ev.proc.args = "/bin/sh", ["-c", "pg_isready -U app"]
    extract = FieldTable().resolve("proc.is_container_healthcheck", None).extract
    assert extract(ev) is True
    ev.proc.args = ["-c", "id"]
    assert extract(ev) is False


def test_parse_time() -> None:
    assert parse_time("2026-11-27T21:38:25.586737909Z") == 1795815505586737909
    assert parse_time("0001-01-01T00:00:00Z") == 0


def privileged() -> Container:
    info = json.loads(FIXTURE.read_text())
    c = Container(id=info["Id"][:12], full_id=info["Id"], type="docker")
    fill(c, info)
    return c


def test_fill_from_inspect() -> None:
    c = privileged()
    assert (c.name, c.image, c.image_repository, c.image_tag) == (
        "tiercel-privileged", "tiercel-test/busybox:1", "tiercel-test/busybox", "1")
    assert c.privileged is True and c.image_id.startswith("sha256:")
    assert c.labels["io.kubernetes.pod.name"] == "web-0" and c.start_ts > 0


def spawned(c: Container, vpid: int) -> Event:
    proc = process("sh", pid=4242, ppid=4200, vpid=vpid, exepath="/bin/sh", container=c)
    return execve("/bin/sh", proc=proc, ts=1)


def test_container_and_k8s_fields() -> None:
    c = privileged()
    ev = spawned(c, 1)
    table = FieldTable()
    want = {"container.id": c.id, "container.name": "tiercel-privileged", "container.privileged": True,
            "container.image.repository": "tiercel-test/busybox", "container.image.tag": "1",
            "k8s.pod.name": "web-0", "k8s.ns.name": "shop", "proc.vpid": 1}
    for name, value in want.items():
        assert table.resolve(name, None).extract(ev) == value, name


def test_launch_privileged_container_fires_once(oracles: Path) -> None:
    ruleset, result = load_rules([oracles / f for f in UPSTREAM], match_all=True)
    assert result.ok
    c = privileged()
    hits = [m.rule.name for m in ruleset.match(spawned(c, 1))]
    assert hits.count("Launch Privileged Container") == 1
    assert "Launch Privileged Container" not in [m.rule.name for m in ruleset.match(spawned(c, 7))]
    c.privileged = False
    assert "Launch Privileged Container" not in [m.rule.name for m in ruleset.match(spawned(c, 1))]


def test_registry_without_daemon_answers_at_once(tmp_path: Path) -> None:
    # the socket does not exist: get() must not wait, and nothing is logged for a host without Docker
    log = tmp_path / "log"
    with log.open("w") as out:
        reg = DockerEngine(str(tmp_path / "no.sock"), log=out)
        reg.start()
        c = reg.get("docker", "a" * 64)
        assert (c.id, c.name, c.type) == ("a" * 12, "", "docker")
        assert reg.get("docker", "a" * 64) is c
        reg.stop()
    assert log.read_text() == ""
