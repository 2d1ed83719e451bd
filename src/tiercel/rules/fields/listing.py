"""The rules engine's command-line entry points: plain functions returning an exit status."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from tiercel.rules.fields.spec import ArgKind, FieldSpec

_CLASS_TITLES = {
    "evt": "Event", "proc": "Process and thread", "fd": "File descriptors and paths",
    "user": "User and group", "container": "Container and Kubernetes",
    "ka": "Kubernetes audit event", "jevt": "The audit event as JSON",
}
_ARG_SYNTAX = {
    ArgKind.NONE: "", ArgKind.INDEX: "[N]", ArgKind.INDEX_OPTIONAL: "[N]?", ArgKind.KEY: "[key]",
    ArgKind.KEY_OPTIONAL: "[key]?", ArgKind.INDEX_OR_KEY: "[N|key]",
}


def list_fields_command(json_out: bool, out: TextIO | None = None, source: str = "syscall") -> int:
    """Print every field of a source: grouped by class as text, or as one JSON array of
    {name,type,desc,arg}."""
    from tiercel.rules.fields.table import FieldTable, field_class

    stream = out if out is not None else sys.stdout
    try:
        specs = list(FieldTable().for_source(source).fields.values())
    except KeyError:
        stream.write(f"tiercel: no event source '{source}' (tiercel has syscall and k8s_audit)\n")
        return 1
    if json_out:
        rows = [{"name": f.name, "type": f.type, "desc": f.desc, "arg": f.arg.value} for f in specs]
        stream.write(json.dumps(rows, indent=2) + "\n")
        return 0
    groups: dict[str, list[FieldSpec]] = {}
    for f in specs:
        groups.setdefault(field_class(f.name), []).append(f)
    for cls, members in groups.items():
        stream.write(f"{_CLASS_TITLES.get(cls, cls)} ({cls}.*)\n")
        width = max(len(_label(f)) for f in members)
        for f in members:
            stream.write(f"  {_label(f):<{width}}  {f.type:<8}  {f.desc}\n")
        stream.write("\n")
    return 0


def _label(f: FieldSpec) -> str:
    return f.name + _ARG_SYNTAX[f.arg]
