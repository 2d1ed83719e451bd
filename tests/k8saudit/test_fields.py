"""The k8s_audit source's fields on one hand-made audit event, as the k8saudit plugin extracts them,
and which fields each source's rules may name."""

from __future__ import annotations

from typing import Any

import pytest

from tiercel.k8saudit.events import make_event
from tiercel.rules import FieldTable, load_rules_text

POD: dict[str, Any] = {
    "kind": "Event", "apiVersion": "audit.k8s.io/v1", "auditID": "a1", "stage": "ResponseComplete",
    "verb": "create", "requestURI": "/api/v1/namespaces/default/pods/p/exec?command=sh&command=-c&tty=1",
    "user": {"username": "alice", "groups": ["dev", "system:authenticated"]},
    "impersonatedUser": {"username": "bob"}, "userAgent": "kubectl/v1.30", "sourceIPs": ["10.0.0.1", "::1"],
    "objectRef": {"resource": "pods", "namespace": "default", "name": "p", "subresource": "exec"},
    "responseStatus": {"code": 201},
    "annotations": {"authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "RBAC"},
    "stageTimestamp": "2024-05-01T10:00:00.123456Z",
    "requestObject": {"kind": "Pod", "spec": {
        "hostNetwork": True, "securityContext": {"runAsUser": 1000},
        "containers": [
            {"name": "a", "image": "nginx:1.25", "command": ["nginx"],
             "securityContext": {"privileged": True, "capabilities": {"add": ["NET_ADMIN"]}},
             "ports": [{"containerPort": 80}, {"containerPort": 443, "hostPort": 8443}]},
            {"name": "b", "image": "registry.local/busybox@sha256:ab",
             "securityContext": {"runAsUser": 0}}],
        "initContainers": [{"name": "init", "image": "alpine", "securityContext": {"privileged": False}}],
        "volumes": [{"name": "v1", "hostPath": {"path": "/etc/kubernetes"}},
                    {"name": "v2", "emptyDir": {}}]}},
    "responseObject": {"metadata": {"name": "p"}},
}

CASES = [
    ("ka.auditid", None, "a1"),
    ("ka.verb", None, "create"),
    ("ka.user.name", None, "alice"),
    ("ka.user.groups", None, ["dev", "system:authenticated"]),
    ("ka.impuser.name", None, "bob"),
    ("ka.uri.param", "command", "sh"),
    ("ka.uri.param", "missing", None),
    ("ka.target.subresource", None, "exec"),
    ("ka.target.pod.name", None, "p"),
    ("ka.auth.decision", None, "allow"),
    ("ka.response.code", None, "201"),
    ("ka.resp.name", None, "p"),
    ("ka.useragent", None, "kubectl/v1.30"),
    ("ka.sourceips", None, ["10.0.0.1", "::1"]),
    ("ka.sourceips", "1", ["::1"]),
    ("ka.req.pod.containers.image", None, ["nginx:1.25", "registry.local/busybox@sha256:ab"]),
    ("ka.req.pod.containers.image", "1", ["registry.local/busybox@sha256:ab"]),
    ("ka.req.pod.containers.image", "2", None),
    ("ka.req.pod.containers.image.repository", None, ["nginx", "registry.local/busybox"]),
    ("ka.req.container.image", None, "nginx:1.25"),
    ("ka.req.container.image.repository", None, "nginx"),
    ("ka.req.pod.containers.name", None, ["a", "b"]),
    ("ka.req.pod.containers.command", None, ['["nginx"]']),
    ("ka.req.pod.containers.privileged", None, ["true"]),          # b has none: skipped
    ("ka.req.container.privileged", None, "true"),
    ("ka.req.pod.containers.run_as_user", None, ["0"]),
    ("ka.req.pod.containers.eff_run_as_user", None, ["1000", "0"]),  # the pod's, else its own
    ("ka.req.pod.containers.eff_run_as_group", None, ["0", "0"]),
    ("ka.req.pod.containers.add_capabilities", None, ['["NET_ADMIN"]']),
    ("ka.req.pod.containers.host_port", None, ["80", "8443"]),
    ("ka.req.pod.initContainers.image", None, ["alpine"]),
    ("ka.req.pod.initContainers.privileged", None, ["false"]),
    ("ka.req.pod.ephemeralContainers.image", None, None),
    ("ka.req.pod.host_network", None, "true"),
    ("ka.req.pod.host_pid", None, None),
    ("ka.req.pod.run_as_user", None, "1000"),
    ("ka.req.pod.volumes.hostpath", None, ["/etc/kubernetes"]),
    ("ka.req.volume.hostpath", "/etc/kubernetes", "true"),
    ("ka.req.volume.hostpath", "/etc*", "true"),
    ("ka.req.volume.hostpath", "/etc", "false"),
    ("ka.req.pod.volumes.volume_type", None, ["hostPath", "emptyDir"]),
    ("ka.req.binding.subject.has_name", "anyone", "true"),
    ("ka.req.role.rules", None, None),
    ("ka.cluster.name", None, None),
    ("jevt.value", "/objectRef/resource", "pods"),
    ("jevt.value", "/requestObject/spec/containers/1/name", "b"),
    ("jevt.value", "/annotations/authorization.k8s.io~1decision", "allow"),
    ("jevt.value", "/responseStatus", '{"code":201}'),
    ("jevt.value", "/nothing/here", None),
    ("jevt.rawtime", None, 1714557600123456000),
    ("evt.source", None, "k8s_audit"),
]


@pytest.mark.parametrize("name,arg,expected", CASES, ids=[f"{n}[{a}]" if a else n for n, a, _ in CASES])
def test_field(name: str, arg: str | None, expected: Any) -> None:
    table = FieldTable().for_source("k8s_audit")
    assert table.resolve(name, arg).extract(make_event(POD)) == expected


def test_binding_fields() -> None:
    doc = {**POD, "requestObject": {"roleRef": {"name": "cluster-admin"}, "subjects": [
        {"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"},
        {"kind": "Group", "name": "devs"}]}}
    table = FieldTable().for_source("k8s_audit")
    ev = make_event(doc)
    assert table.resolve("ka.req.binding.role", None).extract(ev) == "cluster-admin"
    assert table.resolve("ka.req.binding.subjects.user_names", None).extract(ev) == ["alice"]
    assert table.resolve("ka.req.binding.subjects.serviceaccount_ns_names", None).extract(ev) == ["ns:sa"]
    assert table.resolve("ka.req.binding.subjects.group_names", None).extract(ev) == ["devs"]


def test_without_audit_id_no_ka_field_has_a_value() -> None:
    doc = {k: v for k, v in POD.items() if k != "auditID"}
    table = FieldTable().for_source("k8s_audit")
    assert table.resolve("ka.verb", None).extract(make_event(doc)) is None
    assert table.resolve("jevt.value", "/verb").extract(make_event(doc)) == "create"


RULE = ("- rule: r\n  desc: d\n  condition: {cond}\n  output: o %{out}\n  priority: WARNING\n"
        "  source: {source}\n")


@pytest.mark.parametrize("source,cond,out,error", [
    ("k8s_audit", "ka.verb=create and ka.req.pod.containers.image[0] startswith nginx", "ka.user.name", None),
    ("k8s_audit", "proc.name=sh", "ka.user.name", "unknown field 'proc.name'"),
    ("syscall", "ka.verb=create", "proc.name", "unknown field 'ka.verb'"),
    ("k8s_audit", "jevt.value[verb]=create", "ka.verb", "is not a JSON pointer"),
    ("k8s_audit", "ka.uri.param=x", "ka.verb", "requires an argument"),
    ("k8s_audit", "ka.verb=create", "proc.name", "proc.name"),
])
def test_each_source_names_its_own_fields(source: str, cond: str, out: str, error: str | None) -> None:
    _, result = load_rules_text([("x.yaml", RULE.format(cond=cond, out=out, source=source))])
    if error is None:
        assert result.ok, result.render_text()
    else:
        assert not result.ok and error in result.render_text()


def test_audit_rules_match_audit_events_only() -> None:
    text = RULE.format(cond="ka.verb=create", out="ka.user.name", source="k8s_audit")
    ruleset, result = load_rules_text([("x.yaml", text)])
    assert result.ok and not result.warnings   # no "matches too many evt.type values"
    ev = make_event(POD)
    assert [m.rule.name for m in ruleset.match_source("k8s_audit", ev)] == ["r"]
    assert ruleset.match(ev) == []                      # the syscall rules see nothing of it
    assert ruleset.needed_event_types() == set() and not ruleset.matches_any_type
    assert ruleset.match_source("k8s_audit", make_event({**POD, "verb": "get"})) == []
