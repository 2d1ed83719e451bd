"""The shape of a field definition, shared by the field modules and the registry in `fields`.

A `FieldSpec` is the unbound definition in the table; `FieldTable.resolve` binds its argument (the
`N` of `proc.aname[N]`, the `flags` of `evt.arg.flags`) and returns a `FieldDef` whose `extract`
takes only the event. Extractors return None when the value is not available: every comparison on
None is false, and outputs print it as `<NA>`.

Value types returned by extractors, by field type:
    CHARBUF, FSPATH          str
    INT*/UINT*/PID/FD/...    int (UID/GID too), RELTIME/ABSTIME as int nanoseconds
    BOOL                     bool
    IPADDR, IPNET            str, the address in `ipaddress`' canonical text form; an IPNET field
                             extracts the address that the rule's CIDR literal is matched against
    PORT                     int
    BYTEBUF                  bytes
    DOUBLE                   float
    is_list fields           a list or tuple of the above
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tiercel.common.errors import TiercelError

if TYPE_CHECKING:
    from tiercel.events.model import Event

Extractor = Callable[["Event"], Any]
NameOf = Callable[[int], "str | None"]


class ArgKind(enum.Enum):
    """What may follow a field name: `[N]`, `[key]` or `.key`, required or optional."""

    NONE = "none"
    INDEX = "index"                   # proc.aname[2]: a required non-negative integer
    INDEX_OPTIONAL = "index?"         # proc.aname alone means "any ancestor"
    KEY = "key"                       # evt.arg.flags / evt.arg[flags] / container.mount.dest[/etc]
    KEY_OPTIONAL = "key?"
    INDEX_OR_KEY = "index|key"        # evt.arg[0] or evt.arg.name


class FieldError(TiercelError):
    """A field reference that cannot be compiled."""


class UnknownField(FieldError):
    """No field by that name; the message suggests the closest known one."""


class FieldArgumentError(FieldError):
    """A known field with a missing, unexpected or malformed argument."""


@dataclass(frozen=True, slots=True)
class FieldEnv:
    """What extractors may consult besides the event: name lookups and the host's name."""

    user_name: NameOf
    group_name: NameOf
    hostname: str


# A factory builds the extractor once, at compile time, with the argument already parsed.
Factory = Callable[[Any, FieldEnv], Extractor]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One row of the field table, before its argument is bound."""

    name: str
    type: str                         # libsinsp's PT_ type name without the prefix
    desc: str
    factory: Factory
    arg: ArgKind = ArgKind.NONE
    is_list: bool = False             # always multi-valued (fd.types)
    list_without_arg: bool = False    # multi-valued when used without its argument (proc.aname)
    either: bool = False              # matches client or server side (fd.ip, fd.port, fd.net, fd.proto)
    filter_only: bool = False         # libsinsp refuses it in outputs
    dotted_key: bool = False          # the argument may follow a dot: evt.arg.flags
    arg_type: Callable[[Any], str] | None = None  # the type depends on the argument (evt.rawarg.X)
    unfilled: bool = False            # nothing in tiercel provides its value yet: always None


@dataclass(frozen=True, slots=True)
class FieldDef:
    """A field bound to its argument: what the condition compiler and the output formatter use."""

    name: str                         # the field's own name, without the argument
    type: str
    desc: str
    is_list: bool
    arg_kind: ArgKind
    extract: Extractor
    arg: Any = None                   # the parsed argument (int for indexes, str for keys)
    either: bool = False
    filter_only: bool = False
    unfilled: bool = False

    @property
    def display(self) -> str:
        """The field as written in a rule: proc.aname[2], evt.arg.flags."""
        if self.arg is None:
            return self.name
        return f"{self.name}[{self.arg}]"


def spec(name: str, type_: str, desc: str, extract: Extractor | None = None, *,
         factory: Factory | None = None, **kw: Any) -> FieldSpec:
    """A table row: either a plain extractor (no argument) or a factory taking (arg, env)."""
    if factory is None:
        if extract is None:
            raise ValueError(f"{name}: an extractor or a factory is needed")
        fn = extract
        factory = lambda _arg, _env: fn  # noqa: E731 - the plain case binds nothing
    return FieldSpec(name, type_, desc, factory, **kw)
