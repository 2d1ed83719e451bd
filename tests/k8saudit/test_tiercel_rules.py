"""tiercel's own audit rules (rules/k8s_audit_rules.yaml) on Falco 0.31.1's audit traces and on the
traces of tests/k8saudit/traces/ (one per family of effects, with benign look-alikes).

Each trace is replayed as `tiercel run -r rules/k8s_audit_rules.yaml -e TRACE --json` does, every
rule that matches counted (`rule_matching: all`), and the counts compared with EXPECTED, exactly: a
trace not listed there, or listed with {}, must raise no alert. The 0.31.1 traces that upstream's
rules alert on for an effect these rules cover are listed with the rule of ours that sees the same
effect (UPSTREAM_EFFECTS says which upstream rule each stands for); its traces of activity alone
(created, deleted) and of policies that need a site's own lists are not ours to alert on.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from tiercel.commands.agent import run_agent
from tiercel.commands.options import RunOptions
from tiercel.rules import load_rules

CHECKOUT = Path(__file__).resolve().parents[2]
RULES = CHECKOUT / "rules" / "k8s_audit_rules.yaml"
TRACES = Path(__file__).resolve().parent / "traces"
SUITE = "k8s-audit/falco-0.31.1/test"
UPSTREAM = f"{SUITE}/trace_files/k8s_audit"

PRIV = "Workload runs a privileged container"
HOSTNS = "Workload shares a host namespace"
MOUNT = "Workload mounts a sensitive host path"
CAPS = "Workload adds a powerful capability"
ROOT = "Workload runs as root by request"
EXEC = "Command run in a pod through the API"
FORWARD = "Network path into a pod opened"
EPHEMERAL = "Ephemeral container added to a pod"
SECRETS = "Secrets read by a user"
TOKEN = "Service account token minted"
CMCREDS = "ConfigMap holds credentials"
ADMIN = "Binding grants an all-powerful role"
EVERYONE = "Binding grants rights to anonymous or all users"
WILDCARD = "Role grants wildcard access"
ESCALATE = "Role grants a path to more rights"
SYSROLE = "System role or binding changed by a user"
IMPERSONATE = "Request made as another user"
ANON = "Anonymous request allowed"
ADMISSION = "Admission control changed"
EVENTS = "Cluster events deleted"
KUBESYS = "Control-plane namespace emptied"
NODE = "Node changed by a user"
KUBELET = "Kubelet reached through the API server"
JOINED = "Node joined the cluster"

# The 0.31.1 traces our rules alert on: trace -> {our rule: count}. Every other 0.31.1 trace: none.
EXPECTED_UPSTREAM: dict[str, dict[str, int]] = {
    "create_nginx_pod_privileged": {PRIV: 1},
    "create_nginx_pod_privileged_2nd_container": {PRIV: 1},
    "create_nginx_pod_no_secctx_1st_container_privileged_2nd_container": {PRIV: 1},
    "create_nginx_pod_hostnetwork": {HOSTNS: 1},
    "create_nginx_pod_sensitive_mount": {MOUNT: 1},
    "create_nginx_pod_sensitive_mount_2nd_container": {MOUNT: 1},
    "exec_pod": {EXEC: 1},
    "attach_pod": {EXEC: 1},
    "create_configmap_sensitive_values": {CMCREDS: 6},
    "anonymous_creates_namespace_foo": {ANON: 1},
    "attach_cluster_admin_role": {ADMIN: 1},
    "create_cluster_role_wildcard_resources": {WILDCARD: 1},
    "create_cluster_role_wildcard_verbs": {WILDCARD: 1},
    "create_cluster_role_pod_exec": {ESCALATE: 1},
    "delete_cluster_role_kube_aggregator": {SYSROLE: 1},
    "modify_cluster_role_node_problem_detector": {SYSROLE: 1},
}

# Upstream's rule (0.31.1) -> ours, for the effects above: each 0.31.1 test that detects one of these
# upstream rules has its trace alerted by ours (test_every_upstream_effect_is_ours).
UPSTREAM_EFFECTS = {
    "Create Privileged Pod": PRIV,
    "Create HostNetwork Pod": HOSTNS,
    "Create Sensitive Mount Pod": MOUNT,
    "Attach/Exec Pod": EXEC,
    "Create/Modify Configmap With Private Credentials": CMCREDS,
    "Anonymous Request Allowed": ANON,
    "Attach to cluster-admin Role": ADMIN,
    "ClusterRole With Wildcard Created": WILDCARD,
    "ClusterRole With Pod Exec Created": ESCALATE,
    "System ClusterRole Modified/Deleted": SYSROLE,
}

# Our traces: trace -> {rule: count}.
EXPECTED_OURS: dict[str, dict[str, int]] = {
    "host_power": {HOSTNS: 2, MOUNT: 2, CAPS: 1, PRIV: 3, ROOT: 1, EPHEMERAL: 1},
    "host_power_benign": {},
    "sessions": {EXEC: 1, FORWARD: 2, KUBELET: 1},
    "credentials": {SECRETS: 2, TOKEN: 2, CMCREDS: 1},
    "rbac": {ADMIN: 1, EVERYONE: 1, ESCALATE: 1, WILDCARD: 1, IMPERSONATE: 1},
    "defences": {ADMISSION: 2, EVENTS: 1, KUBESYS: 1},
    "nodes": {NODE: 2, JOINED: 1},
    "anonymous": {ANON: 1, SECRETS: 1},
}


class _MuxLoader(yaml.SafeLoader):
    pass


_MuxLoader.add_constructor("!mux", lambda loader, node: loader.construct_mapping(node, deep=True))


def replay(trace: Path) -> tuple[Counter[str], list[dict[str, Any]]]:
    """{rule: alerts} of our rules on the trace (every matching rule counted), and the alerts. Every
    line of the trace must have been read as an event (a trace that stopped early proves nothing)."""
    out, err = io.StringIO(), io.StringIO()
    opts = RunOptions(rules=[RULES], trace=trace, json=True,
                      overrides=["stdout_output.enabled=true", "rule_matching=all"])
    assert run_agent(opts, out, err) == 0, err.getvalue()
    lines = sum(1 for line in trace.read_bytes().splitlines() if line.strip())
    assert f" {lines} events," in err.getvalue() or trace.stem == "fal_01_003", err.getvalue()
    alerts = [orjson.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    return Counter(a["rule"] for a in alerts), alerts


def _upstream_traces(oracles: Path) -> list[Any]:
    return [pytest.param(p, id=p.stem) for p in sorted((oracles / UPSTREAM).glob("*.json"))]


def test_rules_load_clean() -> None:
    ruleset, result = load_rules([RULES])
    assert result.ok and not result.warnings, result.render_text()
    assert {r.source for r in ruleset.rules} == {"k8s_audit"}
    assert len(ruleset.enabled_rules()) == len(ruleset.rules) >= 20
    for r in ruleset.rules:
        assert {"k8s", "k8s_audit"} <= set(r.tags), r.name
        assert any(re.fullmatch(r"T\d{4}(\.\d{3})?", t) for t in r.tags) or r.name == JOINED, r.name


@pytest.mark.oracle_cases("trace", _upstream_traces)
def test_upstream_trace(trace: Path) -> None:
    counts, alerts = replay(trace)
    assert dict(counts) == EXPECTED_UPSTREAM.get(trace.stem, {})
    assert all(a["source"] == "k8s_audit" for a in alerts)


@pytest.mark.parametrize("name", sorted(EXPECTED_OURS))
def test_our_trace(name: str) -> None:
    counts, alerts = replay(TRACES / f"{name}.json")
    assert dict(counts) == EXPECTED_OURS[name]
    for a in alerts:   # the output names who did it, and the rule's tags come along
        assert a["output_fields"]["ka.user.name"] and "k8s_audit" in a["tags"]


def test_every_rule_is_seen_on_some_trace() -> None:
    ruleset, _ = load_rules([RULES])
    seen = {rule for expected in (*EXPECTED_UPSTREAM.values(), *EXPECTED_OURS.values())
            for rule in expected}
    assert seen == {r.name for r in ruleset.rules}


def test_every_upstream_effect_is_ours(oracles: Path) -> None:
    """Each 0.31.1 test that detects an effect of ours, with upstream's rules, names a trace that
    EXPECTED_UPSTREAM gives our rule for that effect; each benign one (detect: False, upstream's
    rules only) a trace that EXPECTED_UPSTREAM does not list."""
    tests = yaml.load((oracles / SUITE / "falco_k8s_audit_tests.yaml").read_text(),
                      Loader=_MuxLoader)["trace_files"]
    checked = 0
    for t in tests.values():
        stem = Path(t["trace_file"]).stem
        if not t["detect"] and all(not r.startswith("./") for r in t["rules_file"]):
            assert stem not in EXPECTED_UPSTREAM, stem
            continue
        for entry in t.get("detect_counts", []) if t["detect"] else []:
            for rule in entry:
                if rule in UPSTREAM_EFFECTS:
                    assert UPSTREAM_EFFECTS[rule] in EXPECTED_UPSTREAM.get(stem, {}), (stem, rule)
                    checked += 1
    assert checked >= 16
