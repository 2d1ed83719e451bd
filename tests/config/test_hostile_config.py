"""Every configuration value is checked before start: each bad one is an error with its position,
never a traceback, a hang or an output that starts only to drop every alert."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tiercel.common.safeyaml import MAX_FILE_BYTES
from tiercel.config import ConfigError, load_config

# -o values -> the message (after the option's label)
BAD_OVERRIDES = [
    ("tag_int", ["outputs_queue.flush_timeout=!!int abc"],
     "-o outputs_queue.flush_timeout=!!int abc: 'abc' is not a valid !!int"),
    ("tag_python", ["outputs.rate=!!python/name:os.system"],
     "-o outputs.rate=!!python/name:os.system: unsupported YAML tag '!!python/name:os.system'"),
    ("local_tag", ["json_output=!x true"], "unsupported YAML tag '!x'"),
    ("nan", ["outputs_queue.flush_timeout=.nan"],
     "outputs_queue.flush_timeout: expected a finite number, got '.nan'"),
    ("inf", ["outputs.rate=.inf"], "outputs.rate: expected a finite number, got '.inf'"),
    ("overflow_to_inf", ["http_output.timeout=1e999"], "expected a finite number, got '1e999'"),
    ("negative_flush", ["outputs_queue.flush_timeout=-5"],
     "outputs_queue.flush_timeout: must be 0 seconds or more"),
    ("negative_rate", ["outputs.rate=-1"], "outputs.rate: must be 0 (no limit) or more"),
    ("zero_burst", ["outputs.max_burst=0"], "outputs.max_burst: must be 1 or more"),
    ("negative_capacity", ["outputs_queue.capacity=-3"], "outputs_queue.capacity: must be 0"),
    ("zero_timeout", ["http_output.timeout=0"], "http_output.timeout: must be more than 0 seconds"),
    ("negative_retries", ["http_output.max_retries=-1"], "http_output.max_retries: must be 0 or more"),
    ("drop_rate", ["syscall_event_drops.rate=-0.5"], "syscall_event_drops.rate: must be 0 or more"),
    ("syslog_port", ["syslog_output.port=70000"],
     "syslog_output.port: 70000 is not a port number (1 to 65535)"),
    ("web_port", ["webserver.listen_port=0"], "webserver.listen_port: 0 is not a port number"),
    ("huge_int", ["outputs_queue.capacity=" + "9" * 5000], "is not a valid !!int"),
    ("url_port", ["http_output.enabled=true", "http_output.url=http://h:99999/"],
     "http_output.url: 'http://h:99999/' is not a valid URL (Port out of range 0-65535)"),
    ("url_ipv6", ["http_output.enabled=true", "http_output.url=http://[::1/x"],
     "http_output.url: 'http://[::1/x' is not a valid URL (Invalid IPv6 URL)"),
    ("url_no_host", ["http_output.enabled=true", "http_output.url=http://:80/"], "has no host"),
    ("url_space", ["http_output.enabled=true", "http_output.url=http://a b/"],
     "holds spaces or control characters"),
    ("header_name", ["http_output.enabled=true", "http_output.url=http://h/",
                     "http_output.custom_headers={'a b': c}"], "'a b' is not a valid HTTP header name"),
    ("alias_cycle", ["static_fields.x=&a [*a]"], "a YAML alias refers to a node that contains it"),
    ("duplicate", ["static_fields={a: b, a: c}"], "duplicate key 'a' (first at line 1, column 2)"),
    ("file_is_dir", ["file_output.enabled=true", "file_output.filename=/"],
     "-o file_output.filename=/: file_output.filename: '/' is a directory"),
    ("file_no_parent", ["file_output.enabled=true", "file_output.filename=/nonexistent-dir/x"],
     "file_output.filename: the directory '/nonexistent-dir' does not exist"),
    ("file_dev_full", ["file_output.enabled=true", "file_output.filename=/dev/full"],
     "'/dev/full' refuses every write"),
    ("program_empty", ["program_output.enabled=true", "program_output.program=' '"],
     "program_output.program: is empty"),
]


@pytest.mark.parametrize(("args", "expected"), [c[1:] for c in BAD_OVERRIDES],
                         ids=[c[0] for c in BAD_OVERRIDES])
def test_bad_override_is_one_positioned_error(args: list[str], expected: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_config(None, args)
    assert expected in str(e.value)
    assert str(e.value).startswith("invalid configuration (nothing was started):")


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "static_fields:\n  " + "\n  ".join(lines) + "\n"


BAD_FILES = [
    ("alias_bomb", _bomb(), "f.yaml:7:7: expands to more than"),
    ("duplicate_key", "json_output: true\nstdout_output: {enabled: true}\njson_output: false\n",
     "f.yaml:3:1: duplicate key 'json_output' (first at line 1, column 1)"),
    ("tag_int", "outputs_queue:\n  capacity: !!int abc\n", "f.yaml:2:13: 'abc' is not a valid !!int"),
    ("tag_python", "outputs:\n  rate: !!python/object/apply:os.system [ls]\n",
     "f.yaml:2:9: unsupported YAML tag '!!python/object/apply:os.system'"),
    ("deep", "static_fields: " + "[" * 150 + "]" * 150 + "\n", "nested more than 100 levels deep"),
    ("deeper_than_libyaml", "a: " + "[" * 5000 + "\n", "f.yaml:1:"),
    ("not_utf8", "json_output: \xff\n", "not UTF-8 text"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_one_positioned_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                          expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("f.yaml").write_bytes(text.encode("latin-1") if "\xff" in text else text.encode())
    start = time.monotonic()
    with pytest.raises(ConfigError) as e:
        load_config("f.yaml")
    assert expected in str(e.value)
    assert time.monotonic() - start < 2


def _load_in_thread(path: str) -> str:
    result: list[str] = []

    def load() -> None:
        try:
            load_config(path)
            result.append("loaded")
        except ConfigError as e:
            result.append(str(e))

    t = threading.Thread(target=load, daemon=True)
    t.start()
    t.join(5)
    assert result, f"loading {path} did not finish"
    return result[0]


def test_config_file_that_is_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)
    assert _load_in_thread(str(fifo)) == (
        f"cannot read the configuration file {fifo}: a FIFO, not a regular file")


def test_config_file_that_is_dev_zero() -> None:
    assert _load_in_thread("/dev/zero") == (
        "cannot read the configuration file /dev/zero: a device, not a regular file")


def test_config_file_too_large(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    assert "larger than 16 MiB" in _load_in_thread(str(big))


def test_good_values_still_load(tmp_path: Path) -> None:
    out = tmp_path / "alerts.txt"
    cfg = load_config(None, ["file_output.enabled=true", f"file_output.filename={out}",
                             "http_output.enabled=true", "http_output.url=https://[::1]:8443/x?y=1",
                             "syslog_output.port=65535", "outputs.rate=0", "outputs_queue.flush_timeout=0",
                             "static_fields.when=!!str 2001-12-14"])
    assert cfg.file_output.filename == str(out) and cfg.static_fields == {"when": "2001-12-14"}
