"""How the k8saudit plugin reads its fields out of an audit event, as small builders: a value at a
path (`key`), every value through the arrays on a path (`walk`, the plugin's recursive walk, with its
optional index), and the few fields that compute something (repositories, host ports, effective ids,
binding subjects, query parameters, host-path prefixes). fields.py puts them in the table.

Each extractor computes its value once per event (`on_doc`: AuditEvent.memo), since a rules file reads
the same few fields (ka.verb, ka.target.resource) in most of its rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from tiercel.events.model import Event
from tiercel.rules.fields.spec import Extractor, FieldEnv

Doc = dict[str, Any]
NA = object()   # a path that is not there (JSON null is None, which is a value)


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
            return NA
        v = v[k]
    return v


def values(v: Any, index: int | None, keys: tuple[str, ...]) -> list[Any] | None:
    """The plugin's recursive walk: an array met on the way is fanned out (every element, a missing
    path giving NA) or, with an index, narrowed to that element. None when the path is not there."""
    for i, k in enumerate(keys):
        if isinstance(v, list):
            if index is None:
                out: list[Any] = []
                for item in v:
                    got = values(item, None, keys[i:])
                    out.extend(got if got is not None else [NA])
                return out
            if index >= len(v):
                return None
            v = v[index]
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return [v]


def strings(values: list[Any]) -> list[str]:
    return [text(v) for v in values if v is not NA]


# -- extractor builders ----------------------------------------------------------------------------

DocFn = Callable[[Doc], Any]


def on_doc(fn: DocFn, key: Any = None) -> Extractor:
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


def at_path(*keys: str) -> Extractor:
    """A value at a fixed path, as text."""
    def fn(doc: Doc) -> str | None:
        v: Any = doc
        for k in keys:
            if type(v) is not dict or k not in v:
                return None
            v = v[k]
        return v if type(v) is str else text(v)
    return on_doc(fn)


def list_at_path(*keys: str) -> Extractor:
    """An array at a fixed path, each element as text (not an array: missing)."""
    def fn(doc: Doc) -> list[str] | None:
        v = get(doc, *keys)
        return [text(x) for x in v] if isinstance(v, list) else None
    return on_doc(fn)


def walk(*keys: str) -> Callable[[Doc, int | None], list[str] | None]:
    """Every value at the path through the arrays on it, missing ones skipped."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = values(doc, index, keys)
        return None if got is None else strings(got)
    return fn


def all_or_none(*keys: str) -> Callable[[Doc, int | None], list[str] | None]:
    """As walk, but one element without the value makes the whole field missing (images)."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = values(doc, index, keys)
        if got is None or any(v is NA for v in got):
            return None
        return [text(v) for v in got]
    return fn


def repository(image: str) -> str:
    """`nginx:1.25` -> `nginx`, `busybox@sha256:...` -> `busybox` (the plugin's own split)."""
    return image.split(":", 1)[0].split("@", 1)[0]


def repositories(kind: str) -> Callable[[Doc, int | None], list[str] | None]:
    images = all_or_none("requestObject", "spec", kind, "image")

    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = images(doc, index)
        return None if got is None else [repository(i) for i in got]
    return fn


def host_ports(kind: str) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = values(doc, index, ("requestObject", "spec", kind, "ports"))
        if got is None:
            return None
        out: list[str] = []
        for ports in got:
            if ports is NA:
                continue
            if not isinstance(ports, list):
                return None
            for p in ports:
                # with hostNetwork, a containerPort is the host's port
                v = get(p, "hostPort")
                v = get(p, "containerPort") if v is NA else v
                if v is not NA:
                    out.append(text(v))
        return out
    return fn


def effective(kind: str, key: str) -> Callable[[Doc, int | None], list[str] | None]:
    """The container's own security context's value, else the pod's, else 0."""
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        pod = get(doc, "requestObject", "spec", "securityContext", key)
        default = "0" if pod is NA or pod is None else text(pod)
        got = values(doc, index, ("requestObject", "spec", kind, "securityContext", key))
        if got is None:
            got = values(doc, index, ("requestObject", "spec", kind))
            return None if got is None else [default for _ in got]
        return [default if v is NA or v is None else text(v) for v in got]
    return fn


def rules_field(key: str) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        got = values(doc, index, ("requestObject", "rules", key))
        if got is None:
            return None
        return [text(x) for v in got if isinstance(v, list) for x in v if x is not NA]
    return fn


def any_privileged(doc: Doc) -> str | None:
    got = values(doc, None, ("requestObject", "spec", "containers", "securityContext", "privileged"))
    if got is None:
        return None
    return "true" if any(v is True for v in got) else "false"


def first(fn: Callable[[Doc, int | None], list[str] | None]) -> Extractor:
    def first(doc: Doc) -> str | None:
        got = fn(doc, 0)
        return got[0] if got else None
    return on_doc(first)


def volume_types(doc: Doc, index: int | None) -> list[str] | None:
    got = values(doc, index, ("requestObject", "spec", "volumes"))
    if got is None:
        return None
    vols = got[0] if index is None and len(got) == 1 and isinstance(got[0], list) else got
    return [k for v in vols if isinstance(v, dict) for k in v if k != "name"]


def service_ports(doc: Doc, index: int | None) -> list[str] | None:
    ports = get(doc, "requestObject", "spec", "ports")
    if not isinstance(ports, list):
        return None
    if index is not None:
        return [text(ports[index])] if index < len(ports) else None
    return [text(p) for p in ports]


def source_ips(doc: Doc, index: int | None) -> list[str] | None:
    ips = get(doc, "sourceIPs")
    if not isinstance(ips, list):
        return None
    if index is not None:
        return [text(ips[index])] if index < len(ips) else None
    return [text(ip) for ip in ips]


def uri_param_factory(arg: Any, _env: FieldEnv) -> Extractor:
    def fn(doc: Doc) -> str | None:
        uri = get(doc, "requestURI")
        if uri is NA:
            return None
        values = parse_qs(urlsplit(text(uri)).query, keep_blank_values=True).get(arg)
        return values[0] if values else None
    return on_doc(fn, ("ka.uri.param", arg))


def volume_hostpath_factory(arg: Any, _env: FieldEnv) -> Extractor:
    """"true" when some hostPath volume is the path (or, ending in `*`, starts with it)."""
    prefix = arg[:-1] if arg.endswith("*") else None
    paths = walk("requestObject", "spec", "volumes", "hostPath", "path")

    def fn(doc: Doc) -> str | None:
        got = paths(doc, None)
        if got is None:
            return None
        hit = any(p.startswith(prefix) if prefix is not None else p == arg for p in got)
        return "true" if hit else "false"
    return on_doc(fn, ("ka.req.volume.hostpath", arg))


def subjects(kind: str, namespaced: bool = False) -> Callable[[Doc, int | None], list[str] | None]:
    def fn(doc: Doc, index: int | None) -> list[str] | None:
        subjects = get(doc, "requestObject", "subjects")
        if not isinstance(subjects, list):
            return None
        if index is not None:
            subjects = subjects[index:index + 1]
        out = []
        for s in subjects:
            if get(s, "kind") != kind or get(s, "name") is NA:
                continue
            name = text(get(s, "name"))
            ns = get(s, "namespace")
            out.append(f"{'' if ns is NA else text(ns)}:{name}" if namespaced else name)
        return out
    return fn


def true(_doc: Doc) -> str:
    return "true"


def pod_name(doc: Doc) -> str | None:
    if get(doc, "objectRef", "resource") != "pods":
        return None
    name = get(doc, "objectRef", "name")
    return None if name is NA else text(name)
