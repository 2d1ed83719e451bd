"""Events given as field maps (`{"evt.type": "execve", "proc.name": "bash"}`) for `explain` and `test`.

A rule's condition tree is compiled against `MapFields` instead of the field table: each field
keeps its type from the table (so `proc.pid > 100` and `fd.sip = 10.0.0.1` compare as numbers and
addresses) and reads its value from the map under the name the rule writes (`proc.aname[2]`,
`evt.arg.flags`). A field the map does not give is unavailable, as an unfilled field is: its checks
are false except `not ... exists`. A list field (`proc.aname`, `container.mounts`) takes a JSON list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from tiercel.rules.fields.spec import FieldDef
from tiercel.rules.fields.table import FieldTable
from tiercel.rules.language import literals

FieldMap = Mapping[str, Any]


class MapFields:
    """A FieldResolver whose fields read a field map (the event given to the predicate)."""

    def __init__(self, table: FieldTable | None = None) -> None:
        self.table = table if table is not None else FieldTable(hostname="")

    def resolve(self, name: str, arg: str | None = None) -> FieldDef:
        fd = self.table.resolve(name, arg)
        key = name if arg is None else f"{name}[{arg}]"
        fam = literals.family(fd.type)
        many = fd.is_list or fd.type.upper().endswith("ARRAY")

        def extract(event: FieldMap) -> Any:
            value = event.get(key)
            if value is None:
                return None
            if many:
                items = value if isinstance(value, list | tuple) else [value]
                return tuple(_typed(v, fam, fd.type) for v in items)
            return _typed(value, fam, fd.type)
        # one value per field: `fd.ip` given as one address, not a (client, server) pair
        return dataclasses.replace(fd, extract=extract, either=False)  # type: ignore[arg-type]


def _typed(value: Any, fam: str, field_type: str) -> Any:
    if fam == literals.STR:
        return value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) \
            else str(value)
    if isinstance(value, bool) and fam == literals.BOOL:
        return value
    if isinstance(value, int | float) and fam in (literals.NUM, literals.DOUBLE):
        return value
    try:
        return literals.convert(str(value), fam, field_type)
    except ValueError:
        return None
