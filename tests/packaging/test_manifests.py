"""docker/kubernetes/*.yaml checked against the Kubernetes API schemas (the `kubernetes` client's
models: every key must be a field of its object, every value of the field's type, every required
field present), and the agent's mounts, capabilities and rights compared across the deployments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.packaging.readme import install_line

client = pytest.importorskip("kubernetes.client")

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "docker" / "kubernetes"
# What the agent mounts wherever it runs (docs/deploy.md's docker run command, compose, DaemonSet).
AGENT_MOUNTS = {"/host/proc", "/sys/kernel/tracing", "/sys/kernel/debug", "/lib/modules", "/usr/src",
                "/host/var/run/docker.sock"}
PRIMITIVES = {"bytes": str, "str": str, "int": int, "bool": bool, "float": (int, float), "object": object,
              "datetime": str, "date": str}


def check(value: Any, type_name: str, where: str) -> list[str]:
    """Every mismatch between `value` and the OpenAPI type `type_name`, as 'path: problem'."""
    if value is None:
        return []
    if m := re.fullmatch(r"(?:list|List)\[(.+)\]", type_name):
        if not isinstance(value, list):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return [p for i, v in enumerate(value) for p in check(v, m[1], f"{where}[{i}]")]
    if m := re.fullmatch(r"(?:dict\(str, (.+)\)|Dict\[str, (.+)\])", type_name):
        if not isinstance(value, dict):
            return [f"{where}: expected a mapping, got {type(value).__name__}"]
        inner = m[1] or m[2]
        return [p for k, v in value.items() for p in check(v, inner, f"{where}.{k}")]
    if type_name in PRIMITIVES:
        ok = isinstance(value, PRIMITIVES[type_name]) and not (
            type_name in ("int", "float") and isinstance(value, bool))
        return [] if ok else [f"{where}: expected {type_name}, got {value!r}"]
    model = getattr(client, type_name)
    if not isinstance(value, dict):
        return [f"{where}: expected a {type_name} mapping, got {value!r}"]
    by_json = {json: attr for attr, json in model.attribute_map.items()}
    problems = [f"{where}.{k}: not a field of {type_name}" for k in value if k not in by_json]
    for key, v in value.items():
        if key in by_json:
            problems += check(v, model.openapi_types[by_json[key]], f"{where}.{key}")
    if not problems:  # the model's own constructor checks required fields and enumerations
        try:
            model(**{by_json[k]: v for k, v in value.items()})
        except ValueError as e:
            problems.append(f"{where}: {e}")
    return problems


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def model_name(doc: dict[str, Any]) -> str:
    group_version = doc["apiVersion"].split("/")[-1]
    return f"{group_version.capitalize()}{doc['kind']}"


ALL_DOCS = [(f"{name}:{d['kind']}", d) for name in ("daemonset.yaml", "event-generator.yaml")
            for d in documents(name)]


@pytest.mark.parametrize(("doc"), [d for _, d in ALL_DOCS], ids=[i for i, _ in ALL_DOCS])
def test_manifest_matches_the_kubernetes_schema(doc: dict[str, Any]) -> None:
    assert check(doc, model_name(doc), doc["kind"]) == []


def test_the_checker_rejects_what_the_api_server_would() -> None:
    ds = documents("daemonset.yaml")[-1]
    bad = yaml.safe_load(yaml.safe_dump(ds))
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    bad["spec"]["template"]["spec"]["hostPID"] = "yes"
    del bad["spec"]["selector"]
    problems = check(bad, "V1DaemonSet", "DaemonSet")
    assert any("volumeMount: not a field of V1Container" in p for p in problems)
    assert any("hostPID: expected bool" in p for p in problems)
    del bad["spec"]["template"]["spec"]["containers"][0]["volumeMount"]
    bad["spec"]["template"]["spec"]["hostPID"] = True
    assert any("selector" in p for p in check(bad, "V1DaemonSet", "DaemonSet"))


def daemonset() -> dict[str, Any]:
    (ds,) = [d for d in documents("daemonset.yaml") if d["kind"] == "DaemonSet"]
    return ds


def test_daemonset_runs_the_agent_on_every_node_with_its_mounts_and_limits() -> None:
    pod = daemonset()["spec"]["template"]["spec"]
    (agent,) = pod["containers"]
    assert pod["hostPID"] is True
    assert {"operator": "Exists"} in pod["tolerations"]
    assert {m["mountPath"] for m in agent["volumeMounts"]} >= AGENT_MOUNTS
    assert agent["resources"]["limits"]["memory"] and agent["resources"]["limits"]["cpu"]
    assert "SYS_ADMIN" in agent["securityContext"]["capabilities"]["add"]
    assert agent["securityContext"]["privileged"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    for m in agent["volumeMounts"]:
        assert m["name"] in volumes
        read_only_host_dirs = ("/host/proc", "/lib/modules", "/usr/src")
        if m["mountPath"] in read_only_host_dirs:
            assert m["readOnly"] is True


def test_service_account_has_no_rights_and_no_token() -> None:
    kinds = [d["kind"] for d in documents("daemonset.yaml")]
    assert "ClusterRoleBinding" not in kinds and "RoleBinding" not in kinds
    (sa,) = [d for d in documents("daemonset.yaml") if d["kind"] == "ServiceAccount"]
    assert sa["automountServiceAccountToken"] is False
    assert daemonset()["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_event_generator_runs_generate_all_in_the_agent_image() -> None:
    (dep,) = documents("event-generator.yaml")
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["image"] == daemonset()["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "tiercel generate --all" in " ".join(c["command"] + c["args"])


def test_compose_file_has_the_agent_with_the_same_mounts_and_the_generator() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    agent, gen = compose["services"]["agent"], compose["services"]["event-generator"]
    assert {v.split(":")[1] for v in agent["volumes"]} == AGENT_MOUNTS
    assert agent["pid"] == "host" and "SYS_ADMIN" in agent["cap_add"]
    assert gen["image"] == agent["image"]
    assert "tiercel generate --all" in " ".join(gen["command"])


def test_the_documented_docker_run_command_has_the_same_mounts() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    (command,) = [b for b in re.findall(r"```sh\n(.*?)```", text, re.S) if "docker run" in b]
    assert {m.split(":")[1] for m in re.findall(r"-v (\S+)", command)} == AGENT_MOUNTS
    assert "--pid=host" in command and "--cap-add SYS_ADMIN" in command


def test_the_readmes_install_lines_use_these_mounts_and_this_daemonset() -> None:
    docker = install_line("docker")
    assert {docker[i + 1].split(":")[1] for i, a in enumerate(docker) if a == "-v"} == AGENT_MOUNTS
    kubectl = install_line("kubectl")
    assert kubectl[:3] == ["kubectl", "apply", "-f"] and ROOT / kubectl[3] == K8S / "daemonset.yaml"
