"""user.* and group.*: the credentials of the process that caused the event.

Names come from the state stage (`Process.user`, `Process.group`, `Process.loginname`). When the state
left a name empty for a host process, the field table's own lookup (the host's user database) fills
it; inside containers the host's database would give wrong names, so none is guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tiercel.rules.fields.spec import Extractor, Factory, FieldEnv, FieldSpec, NameOf, spec

if TYPE_CHECKING:
    from tiercel.events.model import Event, Process


def _uid(ev: Event) -> int:
    p = ev.proc
    return p.uid if p is not None else ev.uid


def _gid(ev: Event) -> int:
    p = ev.proc
    return p.gid if p is not None else ev.gid


def _name_factory(name: Callable[[Process], str], ident: Callable[[Process], int | None],
                  lookup: Callable[[FieldEnv], NameOf]) -> Factory:
    """A name field's factory: the state's name, else the host database's name for the id (host
    processes only; none when the id is unset)."""
    def factory(_arg: Any, env: FieldEnv) -> Extractor:
        find = lookup(env)

        def get(ev: Event) -> str | None:
            p = ev.proc
            if p is None:
                return None
            if known := name(p):
                return known
            i = ident(p)
            return find(i) if i is not None and not p.container_id else None
        return get
    return factory


def _login_id(p: Process) -> int | None:
    # unset: -1, or the kernel's 4294967295 (see _loginuid)
    return None if p.loginuid < 0 or p.loginuid == 0xFFFFFFFF else p.loginuid


def _loginuid(ev: Event) -> int | None:
    p = ev.proc
    if p is None:
        return None
    # the kernel's "unset" (4294967295) and -1 are the same thing; Falco shows -1
    return -1 if p.loginuid == 0xFFFFFFFF else p.loginuid


FIELDS: tuple[FieldSpec, ...] = (
    spec("user.uid", "UINT32", "User id of the process.", _uid),
    spec("user.name", "CHARBUF", "User name of the process.",
         factory=_name_factory(lambda p: p.user, lambda p: p.uid, lambda env: env.user_name)),
    spec("user.loginuid", "INT64", "Audit login user id: who logged in, even after su or sudo "
         "(-1 when the process has no login session).", _loginuid),
    spec("user.loginname", "CHARBUF", "Name of the login user.",
         factory=_name_factory(lambda p: p.loginname, _login_id, lambda env: env.user_name)),
    spec("group.gid", "UINT32", "Group id of the process.", _gid),
    spec("group.name", "CHARBUF", "Group name of the process.",
         factory=_name_factory(lambda p: p.group, lambda p: p.gid, lambda env: env.group_name)),
)
