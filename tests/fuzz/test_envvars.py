"""`${VAR}` in config files as Falco resolves them (its loop, re-written below as the reference),
in one pass: generated values give Falco's answer; issue 27's rows 5 and 9 end quickly and right."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import bounded, one_line
from tiercel.config import ConfigError, load_config
from tiercel.config.envvars import MAX_GROWTH, expand

ENV = {"A": "/root", "B": "", "LONG": "x" * 50}


def _falco(value: str, env: dict[str, str]) -> str:
    """Falco's yaml_helper loop, step by step (quadratic, and it re-reads what it inserted: the
    generated values hold no `$` in the variables, where the two agree)."""
    start = value.find("$")
    while start >= 0:
        rest = value[start:]
        if rest.startswith("${"):
            end = rest.find("}")
            if end < 0:
                break
            value = value[:start] + env.get(rest[2:end], "") + value[start + end + 1:]
        elif rest.startswith("$${"):
            if rest.find("}") < 0:
                break
            value = value[:start] + value[start + 1:]
            start += 1
        else:
            start += len(rest)
        start = value.find("$", start)
    return value


values = st.lists(st.sampled_from(["$", "{", "}", "A", "B", "LONG", "x", " ", "'"]), max_size=30).map("".join)


@settings(max_examples=1500)
@given(values)
def test_means_what_falco_means(value: str) -> None:
    assert expand(value, ENV) == _falco(value, ENV)


@pytest.mark.parametrize(("value", "expected"), [
    ("${A}", "/root"), ("$${A}", "${A}"), ("x_${NOPE}_y", "x__y"), ("${A", "${A"),
    ("cat > '/tmp/x_$HOME.txt'", "cat > '/tmp/x_$HOME.txt'"),     # issue 27 row 9: a bare $ is kept
    ("$HOME ${A}", "$HOME ${A}"),                                  # ... and so is all after it
    ("$${A}${A}", "${A}/root"), ("${}", ""),
])
def test_cases(value: str, expected: str) -> None:
    assert expand(value, ENV) == expected


def test_typed_keys_and_quotes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIERCEL_PORT", "8766")
    monkeypatch.setenv("TIERCEL_ON", "false")
    cfg = load_config(_write(tmp_path, "webserver:\n  listen_port: ${TIERCEL_PORT}\n"
                                       "stdout_output:\n  enabled: ${TIERCEL_ON}\n"
                                       "program_output:\n  program: \"cat > '/tmp/x_$HOME.txt'\"\n"))
    assert cfg.webserver.listen_port == 8766 and cfg.stdout_output.enabled is False
    assert cfg.program_output.program == "cat > '/tmp/x_$HOME.txt'"
    # -o values as given (Falco applies them after resolving the file)
    cfg = load_config(None, ["program_output.program=cat > '/tmp/x_${HOME}.txt'"])
    assert cfg.program_output.program == "cat > '/tmp/x_${HOME}.txt'"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_many_references_are_linear(tmp_path: Path) -> None:
    """Issue 27 row 5: `${HOME}` 200,000 times in one value (29 s, quadratic)."""
    path = _write(tmp_path, "program_output:\n  program: \"" + "${HOME}" * 200_000 + "\"\n")
    with bounded(seconds=5, megabytes=100):
        cfg = load_config(path)
    assert len(cfg.program_output.program) > 200_000


def test_growth_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 27 row 5: a 120 KB variable named 2,000 times (240 MB; over 60 s before)."""
    monkeypatch.setenv("TIERCEL_BIG", "y" * 120_000)
    path = _write(tmp_path, "static_fields:\n" + "".join(
        f"  k{i}: \"{'${TIERCEL_BIG}' * 20}\"\n" for i in range(100)))
    with bounded(seconds=5, megabytes=150), pytest.raises(ConfigError) as e:
        load_config(path)
    one_line(str(e.value))
    assert f"more than {MAX_GROWTH >> 20} MiB larger" in str(e.value)
