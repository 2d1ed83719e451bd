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

from tiercel.k8saudit.extract import (
    Doc,
    all_or_none,
    any_privileged,
    at_path,
    effective,
    first,
    host_ports,
    list_at_path,
    on_doc,
    pod_name,
    repositories,
    rules_field,
    service_ports,
    source_ips,
    subjects,
    true,
    uri_param_factory,
    volume_hostpath_factory,
    volume_types,
    walk,
)
from tiercel.rules.fields.spec import ArgKind, Extractor, FieldEnv, FieldSpec, spec


def _plain(name: str, desc: str, *keys: str) -> FieldSpec:
    return spec(name, "CHARBUF", desc, at_path(*keys))


def _indexed(name: str, desc: str, fn: Callable[[Doc, int | None], list[str] | None]) -> FieldSpec:
    """A list field whose optional `[N]` picks one container, volume or rule."""
    def factory(arg: Any, _env: FieldEnv) -> Extractor:
        return on_doc(lambda doc: fn(doc, arg), (name, arg))
    return spec(name, "CHARBUF", desc, factory=factory, arg=ArgKind.INDEX_OPTIONAL, is_list=True)


def _containers(kind: str, noun: str, host_port: bool = True) -> tuple[FieldSpec, ...]:
    """The per-container list fields, for `containers`, `initContainers` or `ephemeralContainers`."""
    base = f"ka.req.pod.{kind}"
    sc = ("requestObject", "spec", kind, "securityContext")
    when = "When the request object refers to a pod,"
    return (
        _indexed(f"{base}.name", f"{when} the {noun} names.", walk("requestObject", "spec", kind, "name")),
        _indexed(f"{base}.image", f"{when} the {noun} images.",
                 all_or_none("requestObject", "spec", kind, "image")),
        _indexed(f"{base}.image.repository", f"{when} the {noun} images' repository part "
                 "(e.g. falcosecurity/falco).", repositories(kind)),
        _indexed(f"{base}.command", f"{when} the {noun} commands.",
                 walk("requestObject", "spec", kind, "command")),
        _indexed(f"{base}.args", f"{when} the {noun} args.", walk("requestObject", "spec", kind, "args")),
        _indexed(f"{base}.privileged", f"{when} the privileged flag of the {noun}.",
                 walk(*sc, "privileged")),
        _indexed(f"{base}.allow_privilege_escalation", f"{when} the allowPrivilegeEscalation flag of the "
                 f"{noun}.", walk(*sc, "allowPrivilegeEscalation")),
        _indexed(f"{base}.read_only_fs", f"{when} the readOnlyRootFilesystem flag of the {noun}.",
                 walk(*sc, "readOnlyRootFilesystem")),
        _indexed(f"{base}.run_as_user", f"{when} the runAsUser uid of the {noun}.", walk(*sc, "runAsUser")),
        _indexed(f"{base}.eff_run_as_user", f"{when} the uid the {noun} start with: their own security "
                 "context's, else the pod's, else 0.", effective(kind, "runAsUser")),
        _indexed(f"{base}.run_as_group", f"{when} the runAsGroup gid of the {noun}.",
                 walk(*sc, "runAsGroup")),
        _indexed(f"{base}.eff_run_as_group", f"{when} the gid the {noun} start with: their own security "
                 "context's, else the pod's, else 0.", effective(kind, "runAsGroup")),
        _indexed(f"{base}.proc_mount", f"{when} the procMount type of the {noun}.", walk(*sc, "procMount")),
        _indexed(f"{base}.add_capabilities", f"{when} the capabilities added to the {noun}.",
                 walk(*sc, "capabilities", "add")),
    ) + ((_indexed(f"{base}.host_port", f"{when} the hostPort values of the {noun}.", host_ports(kind)),)
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
    spec("ka.user.groups", "CHARBUF", "The groups the user belongs to.", list_at_path("user", "groups"),
         is_list=True),
    _plain("ka.impuser.name", "The impersonated user name.", "impersonatedUser", "username"),
    _plain("ka.verb", "The action being performed.", "verb"),
    _plain("ka.uri", "The request URI as sent from client to server.", "requestURI"),
    spec("ka.uri.param", "CHARBUF", "The value of a query parameter of the URI (uri=/foo?key=val: "
         "ka.uri.param[key] is val).", factory=uri_param_factory, arg=ArgKind.KEY),
    _plain("ka.target.name", "The target object's name.", "objectRef", "name"),
    _plain("ka.target.namespace", "The target object's namespace.", "objectRef", "namespace"),
    _plain("ka.target.resource", "The target object's resource.", "objectRef", "resource"),
    _plain("ka.target.subresource", "The target object's subresource.", "objectRef", "subresource"),
    spec("ka.target.pod.name", "CHARBUF", "The target pod's name.", on_doc(pod_name)),
    spec("ka.req.binding.subjects", "CHARBUF", "For a (cluster) role binding, the subjects it binds.",
         list_at_path("requestObject", "subjects"), is_list=True),
    _indexed("ka.req.binding.subjects.user_names", "For a (cluster) role binding, the user names it "
             "binds.", subjects("User")),
    _indexed("ka.req.binding.subjects.serviceaccount_names", "For a (cluster) role binding, the "
             "service account names it binds.", subjects("ServiceAccount")),
    _indexed("ka.req.binding.subjects.serviceaccount_ns_names", "For a (cluster) role binding, the "
             "service accounts it binds as namespace:name.", subjects("ServiceAccount", True)),
    _indexed("ka.req.binding.subjects.group_names", "For a (cluster) role binding, the group names it "
             "binds.", subjects("Group")),
    _plain("ka.req.binding.role", "For a (cluster) role binding, the role it binds.",
           "requestObject", "roleRef", "name"),
    spec("ka.req.binding.subject.has_name", "CHARBUF", "Deprecated; always true, as Falco's own "
         "audit support had it.", factory=lambda _a, _e: on_doc(true), arg=ArgKind.KEY),
    _plain("ka.req.configmap.name", "For a configmap, its name.", "objectRef", "name"),
    _plain("ka.req.configmap.obj", "For a configmap, its whole data object.", "requestObject", "data"),
    *_containers("containers", "containers"),
    spec("ka.req.container.image", "CHARBUF", "Deprecated by ka.req.pod.containers.image: the first "
         "container's image.", first(all_or_none("requestObject", "spec", "containers", "image"))),
    spec("ka.req.container.image.repository", "CHARBUF", "Deprecated by "
         "ka.req.pod.containers.image.repository: the first container's.",
         first(repositories("containers"))),
    _plain("ka.req.pod.host_ipc", "For a pod, its hostIPC flag.", "requestObject", "spec", "hostIPC"),
    _plain("ka.req.pod.host_network", "For a pod, its hostNetwork flag.",
           "requestObject", "spec", "hostNetwork"),
    _plain("ka.req.container.host_network", "Deprecated alias of ka.req.pod.host_network.",
           "requestObject", "spec", "hostNetwork"),
    _plain("ka.req.pod.host_pid", "For a pod, its hostPID flag.", "requestObject", "spec", "hostPID"),
    spec("ka.req.container.privileged", "CHARBUF", "Deprecated by ka.req.pod.containers.privileged: "
         "true when some container is privileged.", on_doc(any_privileged)),
    _plain("ka.req.pod.run_as_user", "For a pod, the runAsUser of its security context.",
           "requestObject", "spec", "securityContext", "runAsUser"),
    _plain("ka.req.pod.run_as_group", "For a pod, the runAsGroup of its security context.",
           "requestObject", "spec", "securityContext", "runAsGroup"),
    spec("ka.req.role.rules", "CHARBUF", "For a (cluster) role, its rules.",
         list_at_path("requestObject", "rules"), is_list=True),
    _indexed("ka.req.role.rules.apiGroups", "For a (cluster) role, the API groups of its rules.",
             rules_field("apiGroups")),
    _indexed("ka.req.role.rules.nonResourceURLs", "For a (cluster) role, the non-resource URLs of its "
             "rules.", rules_field("nonResourceURLs")),
    _indexed("ka.req.role.rules.verbs", "For a (cluster) role, the verbs of its rules.",
             rules_field("verbs")),
    _indexed("ka.req.role.rules.resources", "For a (cluster) role, the resources of its rules.",
             rules_field("resources")),
    _plain("ka.req.pod.fs_group", "For a pod, the fsGroup of its security context.",
           "requestObject", "spec", "securityContext", "fsGroup"),
    spec("ka.req.pod.supplemental_groups", "CHARBUF", "For a pod, the supplementalGroups of its "
         "security context.", list_at_path("requestObject", "spec", "securityContext", "supplementalGroups"),
         is_list=True),
    _plain("ka.req.service.type", "For a service, its type.", "requestObject", "spec", "type"),
    _indexed("ka.req.service.ports", "For a service, its ports.", service_ports),
    _indexed("ka.req.pod.volumes.hostpath", "For a pod, the hostPath paths of its volumes.",
             walk("requestObject", "spec", "volumes", "hostPath", "path")),
    spec("ka.req.volume.hostpath", "CHARBUF", "Deprecated by ka.req.pod.volumes.hostpath: true when "
         "some volume's host path is the argument (ending in *: starts with it).",
         factory=volume_hostpath_factory, arg=ArgKind.KEY),
    _indexed("ka.req.pod.volumes.flexvolume_driver", "For a pod, the flexVolume drivers of its volumes.",
             walk("requestObject", "spec", "volumes", "flexVolume", "driver")),
    _indexed("ka.req.pod.volumes.volume_type", "For a pod, the types of its volumes.", volume_types),
    _plain("ka.resp.name", "The response object's name.", "responseObject", "metadata", "name"),
    _plain("ka.response.code", "The response code.", "responseStatus", "code"),
    _plain("ka.response.reason", "The response reason (usually only for failures).",
           "responseStatus", "reason"),
    _plain("ka.useragent", "The user agent of the client that made the request.", "userAgent"),
    _indexed("ka.sourceips", "The IP addresses of the client that made the request.", source_ips),
    spec("ka.cluster.name", "CHARBUF", "The name of the cluster (not in the audit event itself).",
         lambda _ev: None, unfilled=True),
    *_containers("initContainers", "init containers"),
    *_containers("ephemeralContainers", "ephemeral containers", host_port=False),
)
