"""Config: the shipped file equals the defaults; every error names its key path and position."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tiercel.common.priority import ACCEPTED
from tiercel.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_file_is_the_defaults() -> None:
    cfg = load_config(ROOT / "tiercel.yaml")
    assert dataclasses.replace(cfg, path=None) == Config()
    assert cfg.json_output and cfg.stdout_output.enabled and not cfg.file_output.enabled


BAD = [
    ("unknown key", "stdout_output:\n  enabled: true\n  colour: red\n",
     "f.yaml:3:3: stdout_output.colour: unknown key"),
    ("bool", "json_output: maybe\n", "f.yaml:1:14: json_output: expected true or false, got 'maybe'"),
    ("int", "webserver:\n  listen_port: high\n",
     "f.yaml:2:16: webserver.listen_port: expected an integer, got 'high'"),
    ("section not a mapping", "file_output: [1]\n",
     "f.yaml:1:14: file_output: expected a mapping of keys, got a list"),
    ("list of strings", "rules_files: [a, [b]]\n",
     "f.yaml:1:18: rules_files[1]: expected a string, got a list"),
    ("choice", "rule_matching: every\n",
     "f.yaml:1:16: rule_matching: 'every' is not one of first, all"),
    ("drop action", "syscall_event_drops:\n  actions: [log, panic]\n",
     "f.yaml:2:12: syscall_event_drops.actions: 'panic' is not one of ignore, log, alert, exit"),
    ("nested list item", "append_output:\n  - match: {tagz: x}\n",
     "f.yaml:2:13: append_output[0].match.tagz: unknown key"),
    ("top level", "- a\n", "f.yaml:1:1: the configuration must be a mapping of keys"),
    ("yaml syntax", "a: [\n", "f.yaml:2:1: not valid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_errors_have_path_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                   expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("f.yaml").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config("f.yaml")
    assert expected in str(e.value)


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("json_output: 1\nnope: 2\nstdout_output: {enabled: x}\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert len(str(e.value).splitlines()) == 4  # the heading and three problems


OVERRIDES = [
    (["file_output.enabled=true", "file_output.filename=/tmp/x"],
     lambda c: c.file_output.enabled and c.file_output.filename == "/tmp/x"),
    (["outputs.rate=2.5"], lambda c: c.outputs.rate == 2.5),
    (["outputs.rate=3"], lambda c: c.outputs.rate == 3.0),  # an int where a number goes
    (["static_fields.cluster=prod", "static_fields.port=80"],
     lambda c: c.static_fields == {"cluster": "prod", "port": "80"}),
    (["append_output[0].match.tag=shell", "append_output[0].extra_fields[0]=proc.name"],
     lambda c: c.append_output[0].match.tag == "shell" and c.append_output[0].extra_fields == ("proc.name",)),
    (["syscall_event_drops.actions=[alert, exit]"],
     lambda c: c.syscall_event_drops.actions == ("alert", "exit")),
]


@pytest.mark.parametrize(("args", "check"), OVERRIDES, ids=[o[0][0] for o in OVERRIDES])
def test_overrides(args: list[str], check: object) -> None:
    assert check(load_config(None, args))  # type: ignore[operator]


def test_override_beats_file_and_errors_name_the_option(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text("json_output: true\n")
    assert load_config(f, ["json_output=false"]).json_output is False
    with pytest.raises(ConfigError) as e:
        load_config(f, ["stdout_output.enabled=sometimes", "nokey"])
    text = str(e.value)
    assert ("-o stdout_output.enabled=sometimes: stdout_output.enabled: expected true or false, "
            "got 'sometimes'") in text
    assert "-o nokey: expected -o key=value" in text


def test_rules_files_relative_to_the_config(tmp_path: Path) -> None:
    f = tmp_path / "etc" / "c.yaml"
    f.parent.mkdir()
    f.write_text("rules_files: [rules.d, /abs/r.yaml]\n")
    assert load_config(f).rules_files == (str(tmp_path / "etc" / "rules.d"), "/abs/r.yaml")


def test_env_vars_in_strings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIERCEL_TEST_TOKEN", "s3cret")
    f = tmp_path / "c.yaml"
    f.write_text("http_output:\n  custom_headers:\n    Authorization: Bearer ${TIERCEL_TEST_TOKEN}\n")
    cfg = load_config(f)
    assert cfg.http_output.custom_headers == {"Authorization": "Bearer s3cret"}
    # -o values are taken as given, as Falco does (the shell expands what it should)
    cfg = load_config(f, ["http_output.custom_headers.Authorization=Bearer ${TIERCEL_TEST_TOKEN}"])
    assert cfg.http_output.custom_headers == {"Authorization": "Bearer ${TIERCEL_TEST_TOKEN}"}


def test_cli_refuses_to_start_on_an_invalid_config(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("stdout_output:\n  enabled: yes-please\n")
    r = subprocess.run([sys.executable, "-m", "tiercel.cli", "run", "-c", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and r.stdout == ""
    assert f"{f}:2:12: stdout_output.enabled: expected true or false, got 'yes-please'" in r.stderr
    assert "Traceback" not in r.stderr


# A reload builds new outputs exactly when `delivery` differs (agent.py); these keys are in it.
DELIVERY = ["json_output=false", "json_include_output_property=false", "json_include_tags_property=false",
            "json_format=falco-0.31", "buffered_outputs=true", "outputs.rate=1", "outputs_queue.capacity=5",
            "stdout_output.stream=stderr", "file_output.enabled=true", "syslog_output.port=1",
            "program_output.keep_alive=true", "http_output.timeout=1"]
NOT_DELIVERY = ["priority=error", "rule_matching=all", "time_format_iso_8601=true", "static_fields.a=b",
                "append_output[0].extra_output=x", "webserver.enabled=true", "watch_config_files=false",
                "syscall_event_drops.rate=1"]


@pytest.mark.parametrize("arg", DELIVERY + NOT_DELIVERY)
def test_delivery_holds_the_output_keys(arg: str) -> None:
    assert (load_config(None, [arg]).delivery != Config().delivery) == (arg in DELIVERY)


def test_yaml_keys_are_the_shipped_files_keys() -> None:
    shipped = yaml.safe_load((ROOT / "tiercel.yaml").read_text())
    assert set(Config.yaml_keys()) - {"rules_file"} == set(shipped)  # rules_file: Falco's older name


def test_words_any_case_stored_lower_case() -> None:
    cfg = load_config(None, ["stdout_output.stream=STDERR", "syslog_output.facility=Local3",
                             "rule_matching=All", "priority=WARNING"])
    words = (cfg.stdout_output.stream, cfg.syslog_output.facility, cfg.rule_matching)
    assert words == ("stderr", "local3", "all")
    assert cfg.priority == "WARNING"  # as written: priority.parse_priority reads it


def test_priority_words_are_falcos() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(None, ["priority=loud"])
    assert f"priority: 'loud' is not one of {', '.join(ACCEPTED)}" in str(e.value)


def test_section_problem_without_its_key_points_at_the_section() -> None:
    with pytest.raises(ConfigError) as e:
        load_config(None, ["http_output.enabled=true"])
    expected = "-o http_output.enabled=true: http_output.url: '' is not an http:// or https:// URL"
    assert expected in str(e.value)
