"""The command line covers the k8s_audit source: its fields listed, its rules listed, validated and
explained on an audit trace, --disable-source checked."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from tiercel.cli import app
from tiercel.commands.explaining import run_explain
from tiercel.rules.fields.listing import list_fields_command

PLUGIN_RULES = "k8s-audit/plugin-k8saudit/k8s_audit_rules.yaml"
TRACE = "k8s-audit/falco-0.31.1/test/trace_files/k8s_audit/create_nginx_pod_privileged.json"


def test_list_fields_of_the_audit_source() -> None:
    out = io.StringIO()
    assert list_fields_command(True, out, source="k8s_audit") == 0
    names = {r["name"] for r in json.loads(out.getvalue())}
    assert {"ka.verb", "ka.req.pod.containers.privileged", "jevt.value", "evt.time"} <= names
    assert "proc.name" not in names
    assert list_fields_command(False, io.StringIO(), source="cloudtrail") == 1


def test_falco_list_flag_names_both_sources() -> None:
    runner = CliRunner()
    both = runner.invoke(app, ["run", "--list", "-N"]).output.split()
    audit = runner.invoke(app, ["run", "--list", "k8s_audit", "-N"]).output.split()
    assert "proc.name" in both and "ka.verb" in both
    assert "ka.verb" in audit and "proc.name" not in audit


def test_validate_and_L_take_plugin_rules(oracles: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["validate", str(oracles / PLUGIN_RULES)])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["run", "-L", "-r", str(oracles / PLUGIN_RULES)])
    assert listed.exit_code == 0 and "Create Privileged Pod" in listed.output


def test_explain_an_audit_rule_on_an_audit_trace(oracles: Path) -> None:
    out = io.StringIO()
    code = run_explain("Create Privileged Pod", [oracles / PLUGIN_RULES], capture=oracles / TRACE,
                       events_file=None, nums=(), all_events=False, as_json=False, out=out)
    text = out.getvalue()
    assert code == 0 and "matched" in text and "ka.req.pod.containers.privileged=['true']" in text


def test_disable_source_names_a_source(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tiercel.cli", "run", "--disable-source", "cloudtrail",
                             "-r", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "not an event source" in result.stderr
    assert "Traceback" not in result.stderr


def test_rule_unit_tests_take_audit_rules(tmp_path: Path) -> None:
    (tmp_path / "audit.yaml").write_text(
        "- rule: Exec into kube-system\n  desc: d\n  output: exec (user=%ka.user.name)\n"
        "  condition: ka.verb = create and ka.target.subresource = exec\n"
        "    and ka.target.namespace = kube-system\n"
        "  priority: WARNING\n  source: k8s_audit\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "audit.yaml").write_text(
        "tests:\n"
        "  - name: exec in kube-system\n"
        "    events: [{ka.verb: create, ka.target.subresource: exec, ka.target.namespace: kube-system}]\n"
        "    fire: [Exec into kube-system]\n"
        "  - name: exec elsewhere\n"
        "    events: [{ka.verb: create, ka.target.subresource: exec, ka.target.namespace: default}]\n"
        "    not_fire: [Exec into kube-system]\n")
    result = CliRunner().invoke(app, ["test", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (tmp_path / "tests" / "audit.yaml").write_text(
        "tests:\n  - name: wrong\n    events: [{ka.verb: get}]\n    fire: [Exec into kube-system]\n")
    assert CliRunner().invoke(app, ["test", str(tmp_path)]).exit_code == 1
