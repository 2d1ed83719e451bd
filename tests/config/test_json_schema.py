"""--config-schema and --rule-schema: the printed JSON Schemas accept the shipped files, refuse bad ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from typer.testing import CliRunner

from tiercel.cli import app

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
FALCO_YAML = Path("/work/shared/oracles/falco-config/falco.yaml")
CONFIGS = [ROOT / "tiercel.yaml", *([FALCO_YAML] if FALCO_YAML.is_file() else [])]
RULE_FILES = sorted(p for p in (ROOT / "rules").rglob("*.yaml") if "tests" not in p.parts[-2:-1])


def schema(flag: str) -> Any:
    result = CliRunner().invoke(app, ["run", flag])
    assert result.exit_code == 0, result.output
    doc = orjson.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(doc)
    return jsonschema.Draft202012Validator(doc)


@pytest.fixture(scope="module")
def config_validator() -> Any:
    return schema("--config-schema")


@pytest.fixture(scope="module")
def rule_validator() -> Any:
    return schema("--rule-schema")


def errors(validator: Any, doc: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_valid(config_validator: Any, path: Path) -> None:
    assert errors(config_validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_rules_valid(rule_validator: Any, path: Path) -> None:
    assert errors(rule_validator, yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize("doc", [
    {"json_outptu": True},                              # unknown key
    {"json_output": "maybe"},                           # not a boolean
    {"rule_matching": "some"},                          # not one of its words
    {"webserver": {"listen_port": 70000}},              # not a port
    {"outputs": {"max_burst": 0}},                      # below its minimum
    {"syscall_event_drops": {"threshold": 2}},          # out of range
    {"priority": "loud"},                               # not a priority
    {"stdout_output": {"enabled": True, "colour": 1}},  # unknown key in a section
], ids=lambda d: next(iter(d)))
def test_invalid_config_rejected(config_validator: Any, doc: dict[str, Any]) -> None:
    assert errors(config_validator, doc)


@pytest.mark.parametrize("doc", [
    {"plugins": [], "priority": "WARNING", "rule_matching": "ALL", "engine": {"kind": "modern_ebpf"}},
], ids=["falco-keys-any-case"])
def test_valid_config_accepted(config_validator: Any, doc: dict[str, Any]) -> None:
    assert errors(config_validator, doc) == []


@pytest.mark.parametrize("doc", [
    {"rule": "r", "condition": "evt.type=open", "priority": "LOUD"},
    {"rule": "r", "conditon": "evt.type=open"},
    {"macro": "m", "condition": ["a"]},
    {"list": "l", "items": "not-a-list"},
    {"rule": "r", "exceptions": [{"fields": ["proc.name"]}]},
    {"rule": "r", "override": {"condition": "merge"}},
    {"something": "else"},
], ids=["priority", "unknown-key", "condition-list", "items-scalar", "exception-no-name",
        "override-op", "unknown-item"])
def test_invalid_rules_rejected(rule_validator: Any, doc: dict[str, Any]) -> None:
    assert errors(rule_validator, [doc])
