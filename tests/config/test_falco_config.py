"""Falco's own falco.yaml: accepted with one warning per key tiercel ignores; includes, `rules:`
selection, append_output's suggested fields and the JSON message/output_fields switches."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest

from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.config import ConfigError, load_config
from tiercel.rules import load_rules

ORACLES = Path("/work/shared/oracles")
FALCO_YAML = ORACLES / "falco-config/falco.yaml"
SUITE = ORACLES / "falco-regression/test"
IGNORED = ["capture", "plugins_hostinfo", "buffer_format_base64",
           "libs_logger", "output_timeout", "syscall_event_timeouts", "metrics", "base_syscalls",
           "falco_libs.thread_table_auto_purging_interval_s",
           "falco_libs.thread_table_auto_purging_thread_timeout_s", "falco_libs.snaplen",
           "http_output.mtls", "http_output.client_cert", "http_output.client_key",
           "http_output.echo", "http_output.compress_uploads", "http_output.keep_alive",
           "http_output.max_consecutive_timeouts", "webserver.threadiness", "webserver.ssl_certificate"]

needs_oracles = pytest.mark.skipif(not FALCO_YAML.is_file(), reason="oracle files not present")


@needs_oracles
def test_falco_yaml_loads_with_one_warning_per_ignored_key() -> None:
    cfg = load_config(FALCO_YAML)
    for key in IGNORED:
        said = [w for w in cfg.warnings if f": {key}: known to Falco, ignored: " in w]
        assert len(said) == 1, key
    assert all(w.startswith(f"{FALCO_YAML}:") for w in cfg.warnings)
    assert cfg.append_output[0].suggested_output and cfg.log_level == "info"


@needs_oracles
def test_falco_yaml_replays_with_warnings_only() -> None:
    out, err = io.StringIO(), io.StringIO()
    opts = RunOptions(rules=[SUITE / "rules/single_rule.yaml"], trace=SUITE / "trace_files/cat_write.scap",
                      config=FALCO_YAML, overrides=["webserver.enabled=false", "syslog_output.enabled=false",
                                                    "log_syslog=false", "json_output=true"])
    assert run_agent(opts, out, err) == 0
    text = err.getvalue()
    assert text.count("http_output.mtls: known to Falco, ignored") == 1
    assert "WARNING: 8" in text
    alert = orjson.loads(out.getvalue().splitlines()[0])
    # suggested_output: true -> the container fields, in the message and in output_fields
    assert "container_id=host" in alert["output"] and "k8s.ns.name" in alert["output_fields"]


def test_unknown_keys_stay_positioned_errors(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("metrics: {enabled: true}\nhttp_output:\n  nonsense: 1\n")
    with pytest.raises(ConfigError, match=r"c.yaml:3:3: http_output.nonsense: unknown key"):
        load_config(conf)


def test_config_files_in_order(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d/20-b.yaml").write_text("priority: error\n")
    (tmp_path / "d/10-a.yaml").write_text("priority: notice\nrule_matching: all\n")
    (tmp_path / "last.yaml").write_text("priority: warning\nconfig_files: [nowhere]\n")
    conf = tmp_path / "c.yaml"
    conf.write_text("config_files: [d, last.yaml, missing.yaml]\npriority: debug\n")
    cfg = load_config(conf, ["json_output=false"])
    assert (cfg.priority, cfg.rule_matching) == ("warning", "all")
    assert any("missing.yaml does not exist" in w for w in cfg.warnings)
    assert any("not followed in an included file" in w for w in cfg.warnings)


def test_rules_file_is_falcos_older_name(tmp_path: Path) -> None:
    conf = tmp_path / "c.yaml"
    conf.write_text("rules_file: /etc/x.yaml\n")
    assert load_config(conf).rules_files == ("/etc/x.yaml",)


RULES = """
- rule: Write below etc
  desc: d
  condition: evt.type=open
  output: o
  priority: ERROR
  tags: [filesystem, mitre_persistence]
- rule: Outbound connection
  desc: d
  condition: evt.type=connect
  output: o
  priority: NOTICE
  tags: [network]
- rule: Write below root
  desc: d
  condition: evt.type=openat
  output: o
  priority: ERROR
  enabled: false
  tags: [filesystem]
"""

SELECTIONS = [  # Falco's documented semantics: entries in order, the last word wins
    ([], {"Write below etc", "Outbound connection"}),
    ([("disable", "rule", "*"), ("enable", "tag", "network")], {"Outbound connection"}),
    ([("enable", "rule", "Write below root")],
     {"Write below etc", "Outbound connection", "Write below root"}),
    ([("disable", "tag", "mitre_*")], {"Outbound connection"}),
    ([("disable", "rule", "Write below *"), ("enable", "rule", "*etc")],
     {"Write below etc", "Outbound connection"}),
]


@pytest.mark.parametrize(("entries", "enabled"), SELECTIONS, ids=[str(i) for i in range(len(SELECTIONS))])
def test_rules_selection(tmp_path: Path, entries: list[tuple[str, str, str]], enabled: set[str]) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES)
    overrides = [f"rules[{i}].{verb}.{by}='{value}'" for i, (verb, by, value) in enumerate(entries)]
    cfg = load_config(None, overrides)
    ruleset, result = load_rules((str(rules),))
    assert not result.errors
    for e in cfg.rules:
        chosen = e.enable or e.disable
        assert chosen is not None
        ruleset.select(e.enable is not None, chosen.rule, chosen.tag)
    assert {r.name for r in ruleset.enabled_rules()} == enabled


def test_json_message_and_output_fields_switches() -> None:
    from tiercel.outputs.alert import Alert
    from tiercel.outputs.base import Format, json_line

    alert = Alert(time=0, rule="r", priority="Warning", source="syscall",
                  output="00:00:00.000000000: Warning An open (x=1)", output_fields={"x": 1})
    doc = orjson.loads(json_line(alert, Format(include_message=True, include_output_fields=False)))
    assert doc["message"] == "An open (x=1)" and "output_fields" not in doc
