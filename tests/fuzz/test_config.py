"""The config loader: any file and any `-o` values end in a Config or one ConfigError whose every
line is a positioned problem: never another exception, a hang or an unbounded expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import CORPUS, bounded, one_line
from tiercel.config import Config, ConfigError, load_config

KEYS = [*Config.yaml_keys(), "outputs.rate", "outputs.max_burst", "outputs_queue.capacity",
        "outputs_queue.flush_timeout", "file_output.enabled", "file_output.filename",
        "syslog_output.port", "syslog_output.protocol", "http_output.url", "http_output.enabled",
        "http_output.timeout", "http_output.custom_headers.X", "webserver.listen_port",
        "syscall_event_drops.threshold", "syscall_event_drops.actions", "append_output[0].match.tag",
        "append_output[1].extra_fields[0]", "static_fields.a", "rules_files[0]", "nope.deeper[3]"]
VALUES = ["true", "no", "0", "-1", "65536", "99999999999999999999999999", ".nan", "-.inf", "1e999",
          "!!int abc", "!!python/name:os.system", "!!binary zz", "!foo x", "&a [*a]", "[a, [b]]",
          "{a: 1, a: 2}", "http://h:99999/", "http://[::1/", "https://[::1]:8443/x", "/", "/dev/full",
          "/nonexistent/x", "''", "${HOME}", "[log, panic]", "\u202e", "a\tb", "[" * 200]


def _check_overrides(args: list[str]) -> None:
    with bounded(seconds=3):
        try:
            load_config(None, args)
        except ConfigError as e:
            for line in str(e).splitlines():
                one_line(line)


@settings(max_examples=1500)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.one_of(st.sampled_from(VALUES), st.text(max_size=20))),
                max_size=6))
def test_overrides(pairs: list[tuple[str, str]]) -> None:
    _check_overrides([f"{k}={v}" for k, v in pairs])


@settings(max_examples=300)
@given(st.lists(st.text(max_size=30), max_size=4))
def test_any_override_text(args: list[str]) -> None:
    _check_overrides(args)


def _check_file(tmp: Path, text: str) -> None:
    path = tmp / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    with bounded(seconds=3):
        try:
            load_config(path)
        except ConfigError as e:
            for line in str(e).splitlines():
                one_line(line)


@settings(max_examples=500)
@given(st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=8))
def test_generated_files(tmp_path_factory: pytest.TempPathFactory, pairs: list[tuple[str, str]]) -> None:
    text = "".join(f"{k.split('.')[0].split('[')[0]}: {v}\n" for k, v in pairs)
    _check_file(tmp_path_factory.mktemp("cfg"), text)


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_any_file_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _check_file(tmp_path_factory.mktemp("cfg"), text)


@pytest.mark.parametrize("path", sorted((CORPUS / "config").glob("*.yaml")), ids=lambda p: p.stem)
def test_corpus_files(path: Path, tmp_path: Path) -> None:
    _check_file(tmp_path, path.read_text())


def _override_corpus() -> list[str]:
    lines = (CORPUS / "config" / "overrides.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("arg", _override_corpus())
def test_corpus_overrides(arg: str) -> None:
    _check_overrides([arg])


def test_many_overrides() -> None:
    """Issue 27 row 10: 20,000 `-o` took 8.8 s (each looked through every key set before it)."""
    args = [f"static_fields.k{i}=v{i}" for i in range(20_000)] + ["static_fields.k7=again"]
    with bounded(seconds=5):
        cfg = load_config(None, args)
    assert len(cfg.static_fields) == 20_000 and cfg.static_fields["k7"] == "again"
