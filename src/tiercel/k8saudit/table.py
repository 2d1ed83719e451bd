"""The field table of the `k8s_audit` source: `ka.*`, `jevt.*` and the source-independent `evt.*`.

`jevt.*` are the json plugin's fields (Falco 0.31 had them built in): `jevt.value[/json/pointer]`
(RFC 6901; `~1` is `/`, `~0` is `~`), `jevt.obj` (the whole event as JSON), `jevt.time`,
`jevt.time.iso8601` and `jevt.rawtime` (the event's time, from its `stageTimestamp`).
"""

from __future__ import annotations

from typing import Any

from tiercel.events.model import Event
from tiercel.k8saudit.events import SOURCE
from tiercel.k8saudit.extract import Doc, text
from tiercel.k8saudit.fields import KA_FIELDS
from tiercel.rules.fields import evt
from tiercel.rules.fields.spec import ArgKind, Extractor, FieldArgumentError, FieldEnv, FieldSpec, spec

# evt.* fields that mean the same for every source (Falco: the plugin-event ones).
_EVT_COMMON = ("evt.num", "evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s",
               "evt.rawtime", "evt.rawtime.s", "evt.rawtime.ns", "evt.hostname")


def pointer(path: str) -> tuple[str, ...]:
    """An RFC 6901 JSON pointer's reference tokens; raises FieldArgumentError when malformed."""
    if not path.startswith("/"):
        raise FieldArgumentError(f"'{path}' is not a JSON pointer: it must start with '/'")
    return tuple(t.replace("~1", "/").replace("~0", "~") for t in path[1:].split("/"))


def resolve_pointer(doc: Any, tokens: tuple[str, ...]) -> Any:
    """The value the pointer names, or raises LookupError."""
    v = doc
    for t in tokens:
        if isinstance(v, dict):
            v = v[t]
        elif isinstance(v, list) and t.isdigit() and (t == "0" or not t.startswith("0")):
            v = v[int(t)]
        else:
            raise LookupError(t)
    return v


def _value_factory(arg: Any, _env: FieldEnv) -> Extractor:
    tokens = pointer(arg)
    key = ("jevt.value", tokens)

    def extract(ev: Any) -> str | None:
        memo = ev.memo
        if key in memo:
            return memo[key]   # type: ignore[no-any-return]
        try:
            value = text(resolve_pointer(ev.doc, tokens))
        except (LookupError, IndexError):
            value = None
        memo[key] = value
        return value
    return extract


def _obj(ev: Event) -> str | None:
    doc: Doc | None = getattr(ev, "doc", None)
    return None if doc is None else text(doc)


def _rawtime(ev: Event) -> int | None:
    return ev.ts if getattr(ev, "doc", None) is not None else None


_BY_NAME = {f.name: f for f in evt.FIELDS}
JEVT_FIELDS: tuple[FieldSpec, ...] = (
    spec("jevt.value", "CHARBUF", "The value at a JSON pointer in the event (jevt.value[/user/username]).",
         factory=_value_factory, arg=ArgKind.KEY),
    spec("jevt.obj", "CHARBUF", "The whole event as JSON.", _obj),
    spec("jevt.time", "CHARBUF", "The event's time, to the nanosecond (hh:mm:ss.ns).",
         factory=lambda _arg, env: _BY_NAME["evt.time"].factory(None, env)),
    spec("jevt.time.iso8601", "CHARBUF", "The event's time in ISO 8601 form, UTC.",
         factory=lambda _arg, env: _BY_NAME["evt.time.iso8601"].factory(None, env)),
    spec("jevt.rawtime", "UINT64", "The event's time in nanoseconds since the epoch.", _rawtime),
)

EVT_FIELDS: tuple[FieldSpec, ...] = (
    *(_BY_NAME[n] for n in _EVT_COMMON),
    spec("evt.source", "CHARBUF", f"Source of the event: '{SOURCE}'.", lambda _ev: SOURCE),
)

FIELDS: dict[str, FieldSpec] = {f.name: f for f in (*KA_FIELDS, *JEVT_FIELDS, *EVT_FIELDS)}
if len(FIELDS) != len(KA_FIELDS) + len(JEVT_FIELDS) + len(EVT_FIELDS):
    raise ValueError("a k8s_audit field is defined twice")
