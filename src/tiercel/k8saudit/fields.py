"""The `k8s_audit` source's fields: `ka.*` as the k8saudit plugin defines them, `jevt.*` as the json
plugin (and Falco 0.31's built-in audit support) defines them, and the `evt.*` fields every source has.

Every `ka.*` value is a string (a list of strings for list fields), as the plugin gives it: a JSON
string as it is, any other JSON value in compact JSON text (`true`, `201`, `{"k":"v"}`). An event
without `auditID` is not an audit event: every `ka.*` field is missing on it.

Arguments, as the plugin's table says:
    ka.req.pod.containers.image        every container's image (a list)
    ka.req.pod.containers.image[1]     the second container's only (a list of one)
    ka.uri.param[key]                  a key, required
    jevt.value[/spec/containers/0]     an RFC 6901 JSON pointer (`~1` is `/`, `~0` is `~`)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tiercel.events.model import Event
from tiercel.rules.fields.spec import ArgKind, Extractor, FieldEnv, FieldSpec, spec

Doc = dict[str, Any]
_NA = object()   # a path that is not there (JSON null is None, which is a value)


def doc_of(ev: Event) -> Doc | None:
    """The event's audit object, or None when it is not an audit event (no auditID)."""
    doc = getattr(ev, "doc", None)
    return doc if doc is not None and "auditID" in doc else None


def text(v: Any) -> str:
    """A JSON value as the plugin gives it: a string as is, anything else as compact JSON."""
    return v if isinstance(v, str) else orjson.dumps(v).decode()


def get(v: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(v, dict) or k not in v:
            return _NA
        v = v[k]
    return v


def _values(v: Any, index: int | None, keys: tuple[str, ...]) -> list[Any] | None:
    """The plugin's recursive walk: an array met on the way is fanned out (every element, a missing
    path giving _NA) or, with an index, narrowed to that element. None when the path is not there."""
    for i, k in enumerate(keys):
        if isinstance(v, list):
            if index is None:
                out: list[Any] = []
                for item in v:
                    got = _values(item, None, keys[i:])
                    out.extend(got if got is not None else [_NA])
                return out
            if index >= len(v):
                return None
            v = v[index]
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return [v]


def _strings(values: list[Any]) -> list[str]:
    return [text(v) for v in values if v is not _NA]


# -- extractor builders ----------------------------------------------------------------------------

DocFn = Callable[[Doc], Any]


def _on_doc(fn: DocFn, key: Any = None) -> Extractor:
    """The extractor of `fn(doc)`, computed once per event (rules share their fields: a rule file
    reads ka.verb and ka.target.resource in most of its rules). `key` names the field with its
    argument when the extractor is built per use (a factory's); else `fn` is the key."""
    memo_key = fn if key is None else key

    def extract(ev: Any) -> Any:
        memo = ev.memo
        if memo_key in memo:
            return memo[memo_key]
        doc = ev.doc
        value = memo[memo_key] = fn(doc) if "auditID" in doc else None
        return value
    return extract


def _key(*keys: str) -> Extractor:
    """A value at a fixed path, as text."""
    def fn(doc: Doc) -> str | None:
        v: Any = doc
        for k in keys:
            if type(v) is not dict or k not in v:
                return None
            v = v[k]
        return v if type(v) is str else text(v)
    return _on_doc(fn)


def _key_list(*keys: str) -> Extractor:
    """An array at a fixed path, each element as text (not an array: missing)."""
    def fn(doc: Doc) -> list[str] | None:
        v = get(doc, *keys)
        return [text(x) for x in v] if isinstance(v, list) else None
    return _on_doc(fn)


def _plain(name: str, desc: str, *keys: str) -> FieldSpec:
    return spec(name, "CHARBUF", desc, _key(*keys))


def _indexed(name: str, desc: str, fn: Callable[[Doc, int | None], list[str] | None]) -> FieldSpec:
    """A list field whose optional `[N]` picks one container, volume or rule."""
    def factory(arg: Any, _env: FieldEnv) -> Extractor:
        return _on_doc(lambda doc: fn(doc, arg), (name, arg))
    return spec(name, "CHARBUF", desc, factory=factory, arg=ArgKind.INDEX_OPTIONAL, is_list=True)


def _walk(*keys: str) -> Callable[[Doc, int | None], list[str] | None]:
    """Every value at the path through the arrays on it, missing ones skipped."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = _values(doc, index, keys)
        return None if got is None else _strings(got)
    return fn


def _all_or_none(*keys: str) -> Callable[[Doc, int | None], list[str] | None]:
    """As _walk, but one element without the value makes the whole field missing (images)."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = _values(doc, index, keys)
        if got is None or any(v is _NA for v in got):
            return None
        return [text(v) for v in got]
    return fn


def repository(image: str) -> str:
    """`nginx:1.25` -> `nginx`, `busybox@sha256:...` -> `busybox` (the plugin's own split)."""
    return image.split(":", 1)[0].split("@", 1)[0]


def _repositories(kind: str) -> Callable[[Doc, int | None], list[str] | None]:
    images = _all_or_none("requestObject", "spec", kind, "image")

    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = images(doc, index)
        return None if got is None else [repository(i) for i in got]
    return fn


def _host_ports(kind: str) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = _values(doc, index, ("requestObject", "spec", kind, "ports"))
        if got is None:
            return None
        out: list[str] = []
        for ports in got:
            if ports is _NA:
                continue
            if not isinstance(ports, list):
                return None
            for p in ports:
                # with hostNetwork, a containerPort is the host's port
                v = get(p, "hostPort")
                v = get(p, "containerPort") if v is _NA else v
                if v is not _NA:
                    out.append(text(v))
        return out
    return fn


def _effective(kind: str, key: str) -> Callable[[Doc, int | None], list[str] | None]:
    """The container's own security context's value, else the pod's, else 0."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        pod = get(doc, "requestObject", "spec", "securityContext", key)
        default = "0" if pod is _NA or pod is None else text(pod)
        got = _values(doc, index, ("requestObject", "spec", kind, "securityContext", key))
        if got is None:
            got = _values(doc, index, ("requestObject", "spec", kind))
            return None if got is None else [default for _ in got]
        return [default if v is _NA or v is None else text(v) for v in got]
    return fn


def _rules_field(key: str) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = _values(doc, index, ("requestObject", "rules", key))
        if got is None:
            return None
        return [text(x) for v in got if isinstance(v, list) for x in v if x is not _NA]
    return fn


def _any_privileged(doc: Doc) -> str | None:
    got = _values(doc, None, ("requestObject", "spec", "containers", "securityContext", "privileged"))
    if got is None:
        return None
    return "true" if any(v is True for v in got) else "false"


def _first(fn: Callable[[Doc, int | None], list[str] | None]) -> Extractor:
    def first(doc: Doc) -> str | None:
        got = fn(doc, 0)
        return got[0] if got else None
    return _on_doc(first)


def _volume_types(doc: Doc, index: int | None) -> list[str] | None:
    got = _values(doc, index, ("requestObject", "spec", "volumes"))
    if got is None:
        return None
    vols = got[0] if index is None and len(got) == 1 and isinstance(got[0], list) else got
    return [k for v in vols if isinstance(v, dict) for k in v if k != "name"]


def _service_ports(doc: Doc, index: int | None) -> list[str] | None:
    ports = get(doc, "requestObject", "spec", "ports")
    if not isinstance(ports, list):
        return None
    if index is not None:
        return [text(ports[index])] if index < len(ports) else None
    return [text(p) for p in ports]


def _source_ips(doc: Doc, index: int | None) -> list[str] | None:
    ips = get(doc, "sourceIPs")
    if not isinstance(ips, list):
        return None
    if index is not None:
        return [text(ips[index])] if index < len(ips) else None
    return [text(ip) for ip in ips]


def _uri_param_factory(arg: Any, _env: FieldEnv) -> Extractor:
    def fn(doc: Doc) -> str | None:
        uri = get(doc, "requestURI")
        if uri is _NA:
            return None
        values = parse_qs(urlsplit(text(uri)).query, keep_blank_values=True).get(arg)
        return values[0] if values else None
    return _on_doc(fn, ("ka.uri.param", arg))


def _volume_hostpath_factory(arg: Any, _env: FieldEnv) -> Extractor:
    """"true" when some hostPath volume is the path (or, ending in `*`, starts with it)."""
    prefix = arg[:-1] if arg.endswith("*") else None
    paths = _walk("requestObject", "spec", "volumes", "hostPath", "path")

    def fn(doc: Doc) -> str | None:
        got = paths(doc, None)
        if got is None:
            return None
        hit = any(p.startswith(prefix) if prefix is not None else p == arg for p in got)
        return "true" if hit else "false"
    return _on_doc(fn, ("ka.req.volume.hostpath", arg))


def _subjects(kind: str, namespaced: bool = False) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        subjects = get(doc, "requestObject", "subjects")
        if not isinstance(subjects, list):
            return None
        if index is not None:
            subjects = subjects[index:index + 1]
        out = []
        for s in subjects:
            if get(s, "kind") != kind or get(s, "name") is _NA:
                continue
            name = text(get(s, "name"))
            ns = get(s, "namespace")
            out.append(f"{'' if ns is _NA else text(ns)}:{name}" if namespaced else name)
        return out
    return fn


def _true(_doc: Doc) -> str:
    return "true"


def _pod_name(doc: Doc) -> str | None:
    if get(doc, "objectRef", "resource") != "pods":
        return None
    name = get(doc, "objectRef", "name")
    return None if name is _NA else text(name)


def _containers(kind: str, noun: str, host_port: bool = True) -> tuple[FieldSpec, ...]:
    """The per-container list fields, for `containers`, `initContainers` or `ephemeralContainers`."""
    base = f"ka.req.pod.{kind}"
    sc = ("requestObject", "spec", kind, "securityContext")
    when = "When the request object refers to a pod,"
    return (
        _indexed(f"{base}.name", f"{when} the {noun} names.", _walk("requestObject", "spec", kind, "name")),
        _indexed(f"{base}.image", f"{when} the {noun} images.",
                 _all_or_none("requestObject", "spec", kind, "image")),
        _indexed(f"{base}.image.repository", f"{when} the {noun} images' repository part "
                 "(e.g. falcosecurity/falco).", _repositories(kind)),
        _indexed(f"{base}.command", f"{when} the {noun} commands.",
                 _walk("requestObject", "spec", kind, "command")),
        _indexed(f"{base}.args", f"{when} the {noun} args.", _walk("requestObject", "spec", kind, "args")),
        _indexed(f"{base}.privileged", f"{when} the privileged flag of the {noun}.",
                 _walk(*sc, "privileged")),
        _indexed(f"{base}.allow_privilege_escalation", f"{when} the allowPrivilegeEscalation flag of the "
                 f"{noun}.", _walk(*sc, "allowPrivilegeEscalation")),
        _indexed(f"{base}.read_only_fs", f"{when} the readOnlyRootFilesystem flag of the {noun}.",
                 _walk(*sc, "readOnlyRootFilesystem")),
        _indexed(f"{base}.run_as_user", f"{when} the runAsUser uid of the {noun}.", _walk(*sc, "runAsUser")),
        _indexed(f"{base}.eff_run_as_user", f"{when} the uid the {noun} start with: their own security "
                 "context's, else the pod's, else 0.", _effective(kind, "runAsUser")),
        _indexed(f"{base}.run_as_group", f"{when} the runAsGroup gid of the {noun}.",
                 _walk(*sc, "runAsGroup")),
        _indexed(f"{base}.eff_run_as_group", f"{when} the gid the {noun} start with: their own security "
                 "context's, else the pod's, else 0.", _effective(kind, "runAsGroup")),
        _indexed(f"{base}.proc_mount", f"{when} the procMount type of the {noun}.", _walk(*sc, "procMount")),
        _indexed(f"{base}.add_capabilities", f"{when} the capabilities added to the {noun}.",
                 _walk(*sc, "capabilities", "add")),
    ) + ((_indexed(f"{base}.host_port", f"{when} the hostPort values of the {noun}.", _host_ports(kind)),)
         if host_port else ())


_ANN = "annotations"
KA_FIELDS: tuple[FieldSpec, ...] = (
    _plain("ka.auditid", "The unique id of the audit event.", "auditID"),
    _plain("ka.stage", "Stage of the request (RequestReceived, ResponseComplete ...).", "stage"),
    _plain("ka.auth.decision", "The authorization decision.", _ANN, "authorization.k8s.io/decision"),
    _plain("ka.auth.reason", "The authorization reason.", _ANN, "authorization.k8s.io/reason"),
    _plain("ka.auth.openshift.decision", "The authentication decision of OpenShift's API server "
           "extension (OpenShift clusters only).", _ANN, "authentication.openshift.io/decision"),
    _plain("ka.auth.openshift.username", "The user name of OpenShift's authentication (OpenShift "
           "clusters only).", _ANN, "authentication.openshift.io/username"),
    _plain("ka.validations.admission.policy.failure", "The failure reason of a Validating Admission "
           "Policy.", _ANN, "validation.policy.admission.k8s.io/validation_failure"),
    _plain("ka.security.pod.violations", "The violations found by Pod Security admission.", _ANN,
           "pod-security.kubernetes.io/audit-violations"),
    _plain("ka.user.name", "The user name performing the request.", "user", "username"),
    spec("ka.user.groups", "CHARBUF", "The groups the user belongs to.", _key_list("user", "groups"),
         is_list=True),
    _plain("ka.impuser.name", "The impersonated user name.", "impersonatedUser", "username"),
    _plain("ka.verb", "The action being performed.", "verb"),
    _plain("ka.uri", "The request URI as sent from client to server.", "requestURI"),
    spec("ka.uri.param", "CHARBUF", "The value of a query parameter of the URI (uri=/foo?key=val: "
         "ka.uri.param[key] is val).", factory=_uri_param_factory, arg=ArgKind.KEY),
    _plain("ka.target.name", "The target object's name.", "objectRef", "name"),
    _plain("ka.target.namespace", "The target object's namespace.", "objectRef", "namespace"),
    _plain("ka.target.resource", "The target object's resource.", "objectRef", "resource"),
    _plain("ka.target.subresource", "The target object's subresource.", "objectRef", "subresource"),
    spec("ka.target.pod.name", "CHARBUF", "The target pod's name.", _on_doc(_pod_name)),
    spec("ka.req.binding.subjects", "CHARBUF", "For a (cluster) role binding, the subjects it binds.",
         _key_list("requestObject", "subjects"), is_list=True),
    _indexed("ka.req.binding.subjects.user_names", "For a (cluster) role binding, the user names it "
             "binds.", _subjects("User")),
    _indexed("ka.req.binding.subjects.serviceaccount_names", "For a (cluster) role binding, the "
             "service account names it binds.", _subjects("ServiceAccount")),
    _indexed("ka.req.binding.subjects.serviceaccount_ns_names", "For a (cluster) role binding, the "
             "service accounts it binds as namespace:name.", _subjects("ServiceAccount", True)),
    _indexed("ka.req.binding.subjects.group_names", "For a (cluster) role binding, the group names it "
             "binds.", _subjects("Group")),
    _plain("ka.req.binding.role", "For a (cluster) role binding, the role it binds.",
           "requestObject", "roleRef", "name"),
    spec("ka.req.binding.subject.has_name", "CHARBUF", "Deprecated; always true, as Falco's own "
         "audit support had it.", factory=lambda _a, _e: _on_doc(_true), arg=ArgKind.KEY),
    _plain("ka.req.configmap.name", "For a configmap, its name.", "objectRef", "name"),
    _plain("ka.req.configmap.obj", "For a configmap, its whole data object.", "requestObject", "data"),
    *_containers("containers", "containers"),
    spec("ka.req.container.image", "CHARBUF", "Deprecated by ka.req.pod.containers.image: the first "
         "container's image.", _first(_all_or_none("requestObject", "spec", "containers", "image"))),
    spec("ka.req.container.image.repository", "CHARBUF", "Deprecated by "
         "ka.req.pod.containers.image.repository: the first container's.",
         _first(_repositories("containers"))),
    _plain("ka.req.pod.host_ipc", "For a pod, its hostIPC flag.", "requestObject", "spec", "hostIPC"),
    _plain("ka.req.pod.host_network", "For a pod, its hostNetwork flag.",
           "requestObject", "spec", "hostNetwork"),
    _plain("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network.",
           "requestObject", "spec", "hostNetwork"),
    _plain("ka.req.pod.host_pid", "For a pod, its hostPID flag.", "requestObject", "spec", "hostPID"),
    spec("ka.req.container.privileged", "CHARBUF", "Deprecated by ka.req.pod.containers.privileged: "
         "true when some container is privileged.", _on_doc(_any_privileged)),
    _plain("ka.req.pod.run_as_user", "For a pod, the runAsUser of its security context.",
           "requestObject", "spec", "securityContext", "runAsUser"),
    _plain("ka.req.pod.run_as_group", "For a pod, the runAsGroup of its security context.",
           "requestObject", "spec", "securityContext", "runAsGroup"),
    spec("ka.req.role.rules", "CHARBUF", "For a (cluster) role, its rules.",
         _key_list("requestObject", "rules"), is_list=True),
    _indexed("ka.req.role.rules.apiGroups", "For a (cluster) role, the API groups of its rules.",
             _rules_field("apiGroups")),
    _indexed("ka.req.role.rules.nonResourceURLs", "For a (cluster) role, the non-resource URLs of its "
             "rules.", _rules_field("nonResourceURLs")),
    _indexed("ka.req.role.rules.verbs", "For a (cluster) role, the verbs of its rules.",
             _rules_field("verbs")),
    _indexed("ka.req.role.rules.resources", "For a (cluster) role, the resources of its rules.",
             _rules_field("resources")),
    _plain("ka.req.pod.fs_group", "For a pod, the fsGroup of its security context.",
           "requestObject", "spec", "securityContext", "fsGroup"),
    spec("ka.req.pod.supplemental_groups", "CHARBUF", "For a pod, the supplementalGroups of its "
         "security context.", _key_list("requestObject", "spec", "securityContext", "supplementalGroups"),
         is_list=True),
    _plain("ka.req.service.type", "For a service, its type.", "requestObject", "spec", "type"),
    _indexed("ka.req.service.ports", "For a service, its ports.", _service_ports),
    _indexed("ka.req.pod.volumes.hostpath", "For a pod, the hostPath paths of its volumes.",
             _walk("requestObject", "spec", "volumes", "hostPath", "path")),
    spec("ka.req.volume.hostpath", "CHARBUF", "Deprecated by ka.req.pod.volumes.hostpath: true when "
         "some volume's host path is the argument (ending in *: starts with it).",
         factory=_volume_hostpath_factory, arg=ArgKind.KEY),
    _indexed("ka.req.pod.volumes.flexvolume_driver", "For a pod, the flexVolume drivers of its volumes.",
             _walk("requestObject", "spec", "volumes", "flexVolume", "driver")),
    _indexed("ka.req.pod.volumes.volume_type", "For a pod, the types of its volumes.", _volume_types),
    _plain("ka.resp.name", "The response object's name.", "responseObject", "metadata", "name"),
    _plain("ka.response.code", "The response code.", "responseStatus", "code"),
    _plain("ka.response.reason", "The response reason (usually only for failures).",
           "responseStatus", "reason"),
    _plain("ka.useragent", "The user agent of the client that made the request.", "userAgent"),
    _indexed("ka.sourceips", "The IP addresses of the client that made the request.", _source_ips),
    spec("ka.cluster.name", "CHARBUF", "The name of the cluster (not in the audit event itself).",
         lambda _ev: None, unfilled=True),
    *_containers("initContainers", "init containers"),
    *_containers("ephemeralContainers", "ephemeral containers", host_port=False),
)
