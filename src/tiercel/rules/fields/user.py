"""user.* and group.*: the credentials of the process that caused the event.

Names come from the state stage (`Process.user`, `Process.group`, `Process.loginname`). When the state
left a name empty for a host process, the field table's own lookup (the host's user database) fills
it; inside containers the host's database would give wrong names, so none is guessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tiercel.rules.fields.spec import Extractor, FieldEnv, FieldSpec, spec

if TYPE_CHECKING:
    from tiercel.events.model import Event


def _uid(ev: Event) -> int:
    p = ev.proc
    return p.uid if p is not None else ev.uid


def _gid(ev: Event) -> int:
    p = ev.proc
    return p.gid if p is not None else ev.gid


def _user_name_factory(_arg: Any, env: FieldEnv) -> Extractor:
    lookup = env.user_name

    def get(ev: Event) -> str | None:
        p = ev.proc
        if p is None:
            return None
        if p.user:
            return p.user
        return lookup(p.uid) if not p.container_id else None
    return get


def _group_name_factory(_arg: Any, env: FieldEnv) -> Extractor:
    lookup = env.group_name

    def get(ev: Event) -> str | None:
        p = ev.proc
        if p is None:
            return None
        if p.group:
            return p.group
        return lookup(p.gid) if not p.container_id else None
    return get


def _loginname_factory(_arg: Any, env: FieldEnv) -> Extractor:
    lookup = env.user_name

    def get(ev: Event) -> str | None:
        p = ev.proc
        if p is None:
            return None
        if p.loginname:
            return p.loginname
        if p.loginuid < 0 or p.loginuid == 0xFFFFFFFF or p.container_id:
            return None
        return lookup(p.loginuid)
    return get


def _loginuid(ev: Event) -> int | None:
    p = ev.proc
    if p is None:
        return None
    # the kernel's "unset" (4294967295) and -1 are the same thing; Falco shows -1
    return -1 if p.loginuid == 0xFFFFFFFF else p.loginuid


FIELDS: tuple[FieldSpec, ...] = (
    spec("user.uid", "UINT32", "User id of the process.", _uid),
    spec("user.name", "CHARBUF", "User name of the process.", factory=_user_name_factory),
    spec("user.loginuid", "INT64", "Audit login user id: who logged in, even after su or sudo "
         "(-1 when the process has no login session).", _loginuid),
    spec("user.loginname", "CHARBUF", "Name of the login user.", factory=_loginname_factory),
    spec("group.gid", "UINT32", "Group id of the process.", _gid),
    spec("group.name", "CHARBUF", "Group name of the process.", factory=_group_name_factory),
)
