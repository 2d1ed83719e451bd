"""docker/kubernetes/k8saudit.yaml: the audit instance's objects match the Kubernetes API schemas, its
config and rules load in tiercel, and the API server's webhook kubeconfig points at what it serves
(the same shape as the k8saudit plugin's webhook-config.yaml.in, read in place)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tiercel.config import load_config
from tiercel.k8saudit.settings import audit_settings
from tiercel.rules import load_rules_text

pytest.importorskip("kubernetes.client")
from tests.packaging.test_manifests import check, model_name  # after the skip: needs the client

MANIFEST = Path(__file__).resolve().parents[2] / "docker" / "kubernetes" / "k8saudit.yaml"
DOCS = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def _one(kind: str, name: str | None = None) -> dict[str, Any]:
    (doc,) = [d for d in DOCS if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    return doc


@pytest.mark.parametrize("doc", DOCS, ids=[f"{d['kind']}:{d['metadata']['name']}" for d in DOCS])
def test_objects_match_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    assert check(doc, model_name(doc), doc["kind"]) == []


def test_config_and_rules_load(tmp_path: Path) -> None:
    config = tmp_path / "tiercel.yaml"
    config.write_text(_one("ConfigMap", "tiercel-k8saudit-config")["data"]["tiercel.yaml"])
    cfg = load_config(config, [])
    assert not cfg.warnings and cfg.engine.kind == "nodriver"
    settings = audit_settings(cfg)
    assert settings is not None and settings.webhook is not None
    rules = _one("ConfigMap", "tiercel-k8saudit-rules")["data"]
    ruleset, result = load_rules_text(sorted(rules.items()))
    assert result.ok and not result.warnings, result.render_text()
    assert {r.source for r in ruleset.rules} == {"k8s_audit"}


def test_the_deployment_serves_what_the_service_and_the_webhook_name(oracles: Path, tmp_path: Path) -> None:
    config = tmp_path / "tiercel.yaml"
    config.write_text(_one("ConfigMap", "tiercel-k8saudit-config")["data"]["tiercel.yaml"])
    settings = audit_settings(load_config(config, []))
    assert settings is not None and settings.webhook is not None
    pod = _one("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["k8s-audit"] == settings.webhook.port
    service = {p["name"]: p for p in _one("Service")["spec"]["ports"]}
    assert service["k8s-audit"]["targetPort"] == "k8s-audit"
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert not pod.get("hostPID") and not pod.get("hostNetwork")
    webhook = _one("ConfigMap", "tiercel-k8saudit-webhook-config")["data"]["webhook-config.yaml"]
    kubeconfig = yaml.safe_load(webhook)
    url = urlsplit(kubeconfig["clusters"][0]["cluster"]["server"])
    assert (url.port, url.path) == (service["k8s-audit"]["port"], settings.webhook.path)
    upstream = yaml.safe_load((oracles / "k8s-audit/plugin-k8saudit/webhook-config.yaml.in").read_text())
    assert set(kubeconfig) == set(upstream) and kubeconfig["kind"] == upstream["kind"] == "Config"
