"""container.* and k8s.*: the container of the process that caused the event, and its pod.

Host processes have the container id, name and type `host` (rules test `container.id != host`).
Metadata fields are empty until the runtime has answered the container stage's lookup.
Kubernetes fields come from the container's pod sandbox where a CRI runtime answered (`Container.pod`),
else from the labels the kubelet puts on every container it starts (a Docker-based node).

`Container` attributes the event model does not carry yet (mounts, start_ts, ip, health checks) are
read with `getattr(..., None)`; `mounts` is expected in the Docker API's shape: a list of dicts with
Source, Destination, Mode, RW and Propagation.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from tiercel.rules.fields.spec import ArgKind, Extractor, FieldEnv, FieldSpec, spec

if TYPE_CHECKING:
    from tiercel.events.model import Container, Event

HOST = "host"
POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"


def _container(ev: Event) -> Container | None:
    p = ev.proc
    return p.container if p is not None else None


def _id(ev: Event) -> str | None:
    p = ev.proc
    if p is None:
        return None
    return p.container_id or HOST


def _host_or(attr: str, host_value: str | None) -> Extractor:
    """A metadata attribute; `host_value` for host processes, None while metadata is pending."""
    def get(ev: Event) -> Any:
        p = ev.proc
        if p is None:
            return None
        if not p.container_id:
            return host_value
        c = p.container
        v = getattr(c, attr, None) if c is not None else None
        return v if v not in ("", None) else None
    return get


def _repository(ev: Event) -> str | None:
    c = _container(ev)
    if c is None:
        return None
    return c.image_repository or _repository_of(c.image)


@lru_cache(maxsize=1024)
def _repository_of(image: str) -> str | None:
    """`registry:5000/team/app:tag@sha256:...` -> `registry:5000/team/app`."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    return (image[:colon] if colon > slash else image) or None


def _mount_text(m: dict[str, Any]) -> str:
    rw = "true" if m.get("RW", False) else "false"
    return f"{m.get('Source', '')}:{m.get('Destination', '')}:{m.get('Mode', '')}:{rw}:" \
           f"{m.get('Propagation', '')}"


def _mounts(ev: Event) -> str | None:
    mounts = getattr(_container(ev), "mounts", None)
    if mounts is None:
        return None
    return ",".join(_mount_text(m) for m in mounts)


_MOUNT_PART = {"": None, "source": "Source", "dest": "Destination", "mode": "Mode", "rdwr": "RW",
               "propagation": "Propagation"}


def _mount_factory(part: str) -> Any:
    """container.mount*[N] by position, or [glob] matched against the mount's source
    (its destination for container.mount.source)."""
    key_field = "Destination" if part == "source" else "Source"
    value_field = _MOUNT_PART[part]

    def factory(arg: Any, _env: FieldEnv) -> Extractor:
        def find(mounts: list[dict[str, Any]]) -> dict[str, Any] | None:
            if isinstance(arg, int):
                return mounts[arg] if 0 <= arg < len(mounts) else None
            for m in mounts:
                if fnmatchcase(str(m.get(key_field, "")), arg):
                    return m
            return None

        def get(ev: Event) -> str | None:
            mounts = getattr(_container(ev), "mounts", None)
            m = find(mounts) if mounts else None
            if m is None:
                return None
            if value_field is None:
                return _mount_text(m)
            v = m.get(value_field)
            if isinstance(v, bool):
                return "true" if v else "false"
            return None if v is None else str(v)
        return get
    return factory


def _duration(ev: Event) -> int | None:
    start = getattr(_container(ev), "start_ts", None)
    return ev.ts - start if start else None


def _info(ev: Event) -> str | None:
    """Falco's `%container.info` shorthand, expanded the way the output formatter expands it."""
    cid = _id(ev)
    if cid is None:
        return None
    name = _host_or("name", HOST)(ev)
    return f"container_id={cid} container_name={name if name is not None else '<NA>'}"


def _label(key: str) -> Extractor:
    def get(ev: Event) -> str | None:
        c = _container(ev)
        return c.labels.get(key) if c is not None else None
    return get


def _label_factory(arg: Any, _env: FieldEnv) -> Extractor:
    return _label(arg)


def _pod_or_label(attr: str, key: str) -> Extractor:
    """A pod attribute from the CRI pod sandbox, else the kubelet's container label."""
    def get(ev: Event) -> str | None:
        c = _container(ev)
        if c is None:
            return None
        pod = getattr(c, "pod", None)
        value = getattr(pod, attr, "") if pod is not None else ""
        return value or c.labels.get(key)
    return get


def _pod_attr(attr: str, short: bool = False) -> Extractor:
    def get(ev: Event) -> str | None:
        pod = getattr(_container(ev), "pod", None)
        value = getattr(pod, attr, "") if pod is not None else ""
        return (value[:12] if short else value) or None
    return get


def _pod_labels(ev: Event) -> str | None:
    pod = getattr(_container(ev), "pod", None)
    if pod is None:
        return None
    return ", ".join(f"{k}:{v}" for k, v in pod.labels.items())


def _pod_label_factory(arg: Any, _env: FieldEnv) -> Extractor:
    def get(ev: Event) -> str | None:
        pod = getattr(_container(ev), "pod", None)
        return pod.labels.get(arg) if pod is not None else None
    return get


def _labels(ev: Event) -> str | None:
    c = _container(ev)
    if c is None:
        return None
    return ", ".join(f"{k}:{v}" for k, v in c.labels.items())


def _mount_spec(part: str, desc: str) -> FieldSpec:
    name = "container.mount" + (f".{part}" if part else "")
    return spec(name, "CHARBUF", desc, factory=_mount_factory(part), arg=ArgKind.INDEX_OR_KEY)


FIELDS: tuple[FieldSpec, ...] = (
    spec("container.id", "CHARBUF", "Short (12 hex digits) container id; 'host' outside containers.", _id),
    spec("container.full_id", "CHARBUF", "Full container id; 'host' outside containers.",
         _host_or("full_id", HOST)),
    spec("container.name", "CHARBUF", "Container name; 'host' outside containers.", _host_or("name", HOST)),
    spec("container.type", "CHARBUF", "Container runtime: docker, containerd, cri-o, podman; 'host' "
         "outside containers.", _host_or("type", HOST)),
    spec("container.image", "CHARBUF", "Image the container runs, as repository:tag.",
         _host_or("image", None)),
    spec("container.image.id", "CHARBUF", "Id of the container's image.", _host_or("image_id", None)),
    spec("container.image.repository", "CHARBUF", "Repository part of the image name.", _repository),
    spec("container.image.tag", "CHARBUF", "Tag part of the image name.", _host_or("image_tag", None)),
    spec("container.image.digest", "CHARBUF", "Digest of the container's image.",
         _host_or("image_digest", None)),
    spec("container.privileged", "BOOL", "True when the container runs privileged.",
         _host_or("privileged", None)),
    spec("container.mounts", "CHARBUF", "Every mount as source:dest:mode:rw:propagation, comma-separated.",
         _mounts),
    _mount_spec("", "One mount, by position or by a glob on its source, as source:dest:mode:rw:propagation."),
    _mount_spec("source", "Source of a mount, by position or by a glob on its destination."),
    _mount_spec("dest", "Destination of a mount, by position or by a glob on its source."),
    _mount_spec("mode", "Mode of a mount, by position or by a glob on its source."),
    _mount_spec("rdwr", "Whether a mount is writable, by position or by a glob on its source."),
    _mount_spec("propagation", "Propagation of a mount, by position or by a glob on its source."),
    spec("container.healthcheck", "CHARBUF", "The container's health check command.",
         _host_or("healthcheck", None)),
    spec("container.liveness_probe", "CHARBUF", "The container's Kubernetes liveness probe command.",
         _host_or("liveness_probe", None)),
    spec("container.readiness_probe", "CHARBUF", "The container's Kubernetes readiness probe command.",
         _host_or("readiness_probe", None)),
    spec("container.start_ts", "ABSTIME", "When the container started, ns since the epoch.",
         _host_or("start_ts", None)),
    spec("container.duration", "RELTIME", "Nanoseconds since the container started.", _duration),
    spec("container.ip", "IPADDR", "The container's main IP address.", _host_or("ip", None)),
    spec("container.label", "CHARBUF", "One label of the container: container.label[com.example.key].",
         factory=_label_factory, arg=ArgKind.KEY),
    spec("container.labels", "CHARBUF", "Every label of the container as key:value pairs.", _labels),
    spec("container.info", "CHARBUF", "Falco's output shorthand: container id and name.", _info),
    spec("k8s.pod.name", "CHARBUF", "Name of the Kubernetes pod the container belongs to.",
         _pod_or_label("name", POD_NAME)),
    spec("k8s.ns.name", "CHARBUF", "Kubernetes namespace of the pod.",
         _pod_or_label("namespace", POD_NAMESPACE)),
    spec("k8s.pod.uid", "CHARBUF", "UID of the Kubernetes pod.", _pod_or_label("uid", POD_UID)),
    spec("k8s.pod.id", "CHARBUF", "UID of the Kubernetes pod (older name of k8s.pod.uid).",
         _pod_or_label("uid", POD_UID)),
    spec("k8s.pod.label", "CHARBUF", "One label of the pod: k8s.pod.label[app] (CRI runtimes).",
         factory=_pod_label_factory, arg=ArgKind.KEY),
    spec("k8s.pod.labels", "CHARBUF", "Every label of the pod as key:value pairs (CRI runtimes).",
         _pod_labels),
    spec("k8s.pod.ip", "CHARBUF", "The pod's IP address; empty on the node's network (CRI runtimes).",
         _pod_attr("ip")),
    spec("k8s.pod.cni.json", "CHARBUF", "The CNI result the runtime kept for the pod (containerd).",
         _pod_attr("cni_json")),
    spec("k8s.pod.sandbox_id", "CHARBUF", "Short id of the pod's sandbox (CRI runtimes).",
         _pod_attr("sandbox_id", short=True)),
    spec("k8s.pod.full_sandbox_id", "CHARBUF", "Full id of the pod's sandbox (CRI runtimes).",
         _pod_attr("sandbox_id")),
    spec("k8s.container.name", "CHARBUF", "Name of the container inside its pod.", _label(CONTAINER_NAME)),
)
