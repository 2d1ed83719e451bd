"""The field table: every field a condition or an output may name, with its type and extractor.

`FIELDS` is the constant registry (name -> FieldSpec), built from one module per field class.
`FieldTable.resolve(name, arg)` is what the condition compiler and the output formatter call: it
checks the argument, binds it, and returns a `FieldDef` whose `extract(event)` gives the value.

Argument forms, as the parser hands them over:
    proc.aname[2]      resolve("proc.aname", "2")       index
    proc.aname         resolve("proc.aname", None)      any ancestor (a list)
    evt.arg.flags      resolve("evt.arg.flags", None)   key after a dot
    evt.arg[flags]     resolve("evt.arg", "flags")      the same key in brackets
    evt.arg[0]         resolve("evt.arg", "0")          position

Scope: the syscall source. Another source's rules resolve against that source's table
(`for_source`): `k8s_audit`'s `ka.*`/`jevt.*` are defined in tiercel.k8saudit.table.
"""

from __future__ import annotations

import difflib
import grp
import pwd
import socket
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from tiercel.rules.fields import container, evt, fd, proc, user
from tiercel.rules.fields.spec import (
    ArgKind,
    FieldArgumentError,
    FieldDef,
    FieldEnv,
    FieldError,
    FieldSpec,
    NameOf,
    UnknownField,
)

__all__ = ["FIELDS", "ArgKind", "FieldArgumentError", "FieldDef", "FieldError", "FieldSpec",
           "FieldTable", "UnknownField", "field_class"]


def _registry(groups: Iterable[tuple[FieldSpec, ...]]) -> dict[str, FieldSpec]:
    table: dict[str, FieldSpec] = {}
    for group in groups:
        for f in group:
            if f.name in table:
                raise ValueError(f"field {f.name} defined twice")
            table[f.name] = f
    return table


FIELDS: dict[str, FieldSpec] = _registry((
    evt.FIELDS, proc.FIELDS, fd.FIELDS, user.FIELDS, container.FIELDS,
))

# Fields whose argument may follow a dot (evt.arg.flags), longest name first so that
# evt.type.is wins over evt.type when both could match.
_DOTTED = sorted((f for f in FIELDS.values() if f.dotted_key), key=lambda f: -len(f.name))


def field_class(name: str) -> str:
    """The class a field belongs to, as `list-fields` groups them: evt, proc, fd, container ..."""
    head = name.split(".", 1)[0]
    return {"thread": "proc", "syscall": "evt", "group": "user", "k8s": "container", "fs": "fd"}.get(
        head, head)


def _host_user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError):
        return None


def _host_group_name(gid: int) -> str | None:
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError):
        return None


class FieldTable:
    """Resolves field references against `FIELDS`; holds the lookups extractors may need.

    `user_name`/`group_name` turn ids into names when the state has none (host processes,
    `evt.arg.uid`); by default the host's user database, cached.
    """

    def __init__(self, user_name: NameOf | None = None, group_name: NameOf | None = None,
                 hostname: str | None = None, fields: dict[str, FieldSpec] | None = None) -> None:
        self.fields = FIELDS if fields is None else fields
        self.env = FieldEnv(
            user_name=user_name or lru_cache(maxsize=4096)(_host_user_name),
            group_name=group_name or lru_cache(maxsize=4096)(_host_group_name),
            hostname=hostname if hostname is not None else socket.gethostname(),
        )
        self._dotted = [f for f in _DOTTED if f.name in self.fields] if fields is not None else _DOTTED
        self._sources: dict[str, FieldTable] = {}

    def for_source(self, source: str) -> FieldTable:
        """The table a rule of `source` resolves against (this one for syscall), with the same
        lookups; an unknown source raises KeyError."""
        if source == "syscall":
            return self
        table = self._sources.get(source)
        if table is None:
            from tiercel.k8saudit.table import FIELDS as K8S_AUDIT_FIELDS
            tables = {"k8s_audit": K8S_AUDIT_FIELDS}
            table = self._sources[source] = FieldTable(self.env.user_name, self.env.group_name,
                                                       self.env.hostname, fields=tables[source])
        return table

    def resolve(self, name: str, arg: str | None = None) -> FieldDef:
        """The field `name` with its argument bound; raises UnknownField or FieldArgumentError."""
        f = self.fields.get(name)
        if f is None:
            f, arg = self._dotted_form(name, arg)
        value = _parse_arg(f, arg)
        type_ = f.arg_type(value) if f.arg_type is not None and value is not None else f.type
        return FieldDef(
            name=f.name, type=type_, desc=f.desc,
            is_list=f.is_list or (f.list_without_arg and value is None),
            arg_kind=f.arg, extract=f.factory(value, self.env), arg=value,
            either=f.either, filter_only=f.filter_only, unfilled=f.unfilled,
        )

    def _dotted_form(self, name: str, arg: str | None) -> tuple[FieldSpec, str | None]:
        for f in self._dotted:
            if name.startswith(f.name + ".") and len(name) > len(f.name) + 1:
                if arg is not None:
                    raise FieldArgumentError(f"field '{name}' takes no further argument '[{arg}]'")
                return f, name[len(f.name) + 1:]
        raise UnknownField(_unknown_message(name, self.fields))


def _parse_arg(f: FieldSpec, arg: str | None) -> Any:
    kind = f.arg
    if arg is None:
        if kind in (ArgKind.INDEX, ArgKind.KEY, ArgKind.INDEX_OR_KEY):
            raise FieldArgumentError(f"field '{f.name}' requires an argument")
        return None
    if kind is ArgKind.NONE:
        raise FieldArgumentError(f"field '{f.name}' does not take an argument")
    if kind in (ArgKind.INDEX, ArgKind.INDEX_OPTIONAL):
        if not _is_index(arg):
            raise FieldArgumentError(f"field '{f.name}' needs a number as argument, not '{arg}'")
        if len(arg) > _MAX_INDEX_DIGITS:  # 5,000 digits would not even convert
            raise FieldArgumentError(f"field '{f.name}': an index of more than {_MAX_INDEX_DIGITS} "
                                     "digits")
        return int(arg)
    if kind is ArgKind.INDEX_OR_KEY and _is_index(arg) and len(arg) <= _MAX_INDEX_DIGITS:
        return int(arg)
    if arg == "":
        raise FieldArgumentError(f"field '{f.name}' has an empty argument")
    return arg


_MAX_INDEX_DIGITS = 9


def _is_index(arg: str) -> bool:
    return arg.isascii() and arg.isdigit()   # str.isdigit alone takes '²', which int() refuses


def _unknown_message(name: str, fields: dict[str, FieldSpec]) -> str:
    close = difflib.get_close_matches(name, fields.keys(), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown field '{name}'{hint}"
