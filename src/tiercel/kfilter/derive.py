"""Loaded rules -> the kernel filter's tables (probe.filtertables): a sound over-approximation.

For each attached syscall, every rule that can match its event type gives one slot: from each of the
rule's conjuncts (its condition specialised to that event type), `necessary()` (the keys the rules
engine already computes) finds atoms on fields the probe can judge, such that the conjunct implies one
of them. Atoms on one field become one test of the slot; a conjunct whose atoms mix fields is left out
(the probe cannot test an `or` across tests), which only makes the slot hold more often. A rule with
no judgeable conjunct opens its syscall: every record of it leaves the kernel, with one notice.

Records the state needs pass whatever the rules say: exec, fork, exit and chdir always; the fd
creations (open, socket, accept, dup ...) when some rule reads an fd's fields on a later event type
(a `dup` rule printing fd.name needs the open that made the fd); and opens with O_DIRECTORY or O_PATH,
whose fds later paths are resolved against.

Each kind of test is judged in its own module: the return value, open flags, bits and enumerated
arguments in kfilter.judge (by evaluating atoms over their domain), paths and comms in kfilter.paths
(from the atoms' constants), the socket and the host in kfilter.sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from tiercel.events.flags import ENUM, FLAGS, MODE, PARAM_TABLES
from tiercel.events.syscalls import NONE, STATE_SYSCALLS, SYSCALLS_X86_64, Fx, SyscallTable, having
from tiercel.kfilter.judge import Compile, narrow_bits, narrow_flags, narrow_ret, narrow_values, replace
from tiercel.kfilter.paths import directory_prefix, fit_needles, narrow_names, values
from tiercel.kfilter.sockets import SOCKET_DIMS, dim, narrow_host, narrow_local, narrow_socket
from tiercel.probe.filtertables import MAX_SLOTS, OPEN_FAMILY, FilterTables, Slot, SyscallFilter
from tiercel.rules.language import syntax as ast
from tiercel.rules.matching.implied_checks import FieldKey, necessary
from tiercel.rules.matching.plan import conjuncts, specialise

# The fd roles, from the syscall table's rows (their Fx flags, like libscap's EF_* flags):
# the syscalls that make an fd, or name a socket, that the fd table then holds;
FD_MAKERS = having(Fx.CREATES_FD) | having(Fx.NAMES_SOCKET)
# those whose fd may be a socket (dup and fcntl copy any kind);
SOCKET_MAKERS = frozenset(n for n in FD_MAKERS if n in having(Fx.SOCKET) | having(Fx.COPIES_FD))
# whose return value is a new fd number (an entry of the state's fd table);
FD_RESULT = having(Fx.CREATES_FD)
# fd makers the state needs only for some values of an argument (fcntl copies an fd for two commands);
STATE_VALUES = {sc.name: sc.fd_values for sc in SYSCALLS_X86_64 if sc.fd_values}
# event types whose fd comes from the process's fd table (an fd argument), not from the event itself;
FD_READERS = frozenset(sc.name for sc in SYSCALLS_X86_64 if sc.uses_fd != NONE)
SOCKET_READERS = FD_READERS & having(Fx.SOCKET)
# Returns that are not "fd, 0 or -errno": no return-value test for them.
NO_RET_TEST = frozenset({"ptrace"})

# fd.nameraw is the argument as passed, which is fd.name for every path the probe judges.
PATH_FIELDS = frozenset({"fd.name", "fd.directory", "fd.nameraw"})
COMM_FIELDS = frozenset({"proc.name"})
RET_FIELDS = frozenset({"evt.res", "evt.rawres", "evt.failed"})
OPEN_RET_FIELDS = frozenset({"fd.num"})   # an open's fd.num is its return value
FLAG_FIELDS = frozenset({"evt.arg.flags", "evt.is_open_read", "evt.is_open_write"})
SOCKET_ONLY_FIELDS = frozenset({"fd.l4proto", "fd.sip", "fd.rip", "fd.cip", "fd.lip", "fd.sport",
                                "fd.rport", "fd.cport", "fd.lport", "fd.net", "fd.snet", "fd.cnet",
                                "fd.rnet", "fd.lnet", "fd.sockfamily", "fd.is_server", "fd.sip.name",
                                "fd.rip.name", "fd.cip.name", "fd.lip.name"})
SOCKET_TYPES = frozenset({"ipv4", "ipv6", "unix", "4", "6", "u", "netlink", "n"})
# What fds a rule may consult when its event type reads the table: fd fields, rendered fd arguments.
FD_FIELD_PREFIXES = ("fd.", "fs.path")
FD_FIELD_NAMES = frozenset({"evt.arg.fd", "evt.args", "evt.info", "evt.arg"})


class Rule(Protocol):
    name: str
    node: ast.Node | None
    output: Any


class Rules(Protocol):
    def candidates(self, evttype: str) -> tuple[Any, ...]: ...

    def enabled_rules(self) -> list[Any]: ...


def derive(ruleset: Rules, compile_: Compile, table: SyscallTable, attached: Iterable[str],
           kernel_fds: bool = False) -> FilterTables:
    """The filter tables for these attached syscalls under these rules. `kernel_fds`: the probe
    describes the fd of each event whose row names one (Syscall.described_fd) from the task's own
    file table, so a rule reading those events' socket fields needs no earlier record."""
    notices: list[str] = []
    described = frozenset(sc.name for sc in table.entries if sc.described_fd != NONE) if kernel_fds \
        else frozenset()
    fd_needed = _fd_state_needs(ruleset.enabled_rules(), compile_, described)
    kinds = "" if not fd_needed else "any" if any(m not in SOCKET_MAKERS for m in fd_needed) else "socket"
    tracked = FD_RESULT if kinds == "any" else FD_RESULT & SOCKET_MAKERS if kinds else frozenset()
    out: dict[str, SyscallFilter] = {}
    opened_by: dict[str, list[str]] = {}
    for name in sorted(set(attached)):
        sc = table.by_name[name]
        if name in STATE_SYSCALLS:
            out[name] = SyscallFilter(name, sc.nr, True, "state", state=True)
            continue
        if name in fd_needed and name in STATE_VALUES:
            params = dict(sc.params)
            value_param = enum_param(name, params)
            assert value_param is not None
            out[name] = SyscallFilter(
                name, sc.nr, False, f"fd state for rule '{fd_needed[name]}'",
                (Slot(values=STATE_VALUES[name], rules=(fd_needed[name],)),),
                enum_arg=int(params[value_param][1]), state=True, fd_state=True, fd_result=True,
                fd_track=name in tracked)
            continue
        if name in fd_needed:
            out[name] = SyscallFilter(name, sc.nr, True, f"fd state for rule '{fd_needed[name]}'",
                                      state=True, fd_state=True, fd_result=name in FD_RESULT,
                                      fd_track=name in tracked)
            continue
        f = _syscall_filter(name, sc.nr, dict(sc.params), ruleset.candidates(name), compile_,
                            fd_result=bool(fd_needed) and name in FD_RESULT,
                            fd_close=bool(fd_needed) and Fx.DESTROYS_FD in sc.fx, fd_track=name in tracked,
                            sock=name in described and not sc.fd_values)
        if f.open and f.reason.startswith("rule "):
            opened_by.setdefault(f.reason, []).append(name)
        out[name] = f
    for reason, names in opened_by.items():
        notices.append(f"{reason} reads what the probe cannot judge: every {', '.join(names)} "
                       "record leaves the kernel")
    by_rule: dict[str, list[str]] = {}
    for name, rule in sorted(fd_needed.items()):
        if name in out and out[name].open:
            by_rule.setdefault(rule, []).append(name)
    for rule, names in by_rule.items():
        notices.append(f"rule '{rule}' reads fd fields on later events: every {', '.join(names)} "
                       "record leaves the kernel")
    return FilterTables(out, tuple(notices), kinds)


def _syscall_filter(name: str, nr: int, params: dict[str, str], rules: Sequence[Any],
                    compile_: Compile, fd_result: bool, fd_close: bool, fd_track: bool,
                    sock: bool = False) -> SyscallFilter:
    """`sock`: the probe describes this call's socket before it decides (its server port and kind
    can be tested)."""
    first = path_param(params)
    path_slot = 0 if first is not None else None
    flag_param, value_param = flags_param(name, params), enum_param(name, params)
    flags_arg = int(params[flag_param][1]) if flag_param is not None else None
    enum_arg = int(params[value_param][1]) if value_param is not None else None
    dims = _dimensions(name, first, flag_param, value_param)
    if sock:
        dims.update(SOCKET_DIMS)
    found: list[Slot] = []
    for rule in rules:
        if rule.node is None:
            return SyscallFilter(name, nr, True, f"rule '{rule.name}'")
        slot = _rule_slot(rule.node, name, frozenset(params), dims, compile_)
        if slot is None:
            continue                      # cannot match this event type at all
        if slot.key == Slot().key:
            return SyscallFilter(name, nr, True, f"rule '{rule.name}'")
        found.append(replace(slot, rules=(rule.name,)))
    slots: dict[tuple[object, ...], Slot] = {}
    for slot in fit_needles(found):
        if slot.key == Slot().key:
            return SyscallFilter(name, nr, True, f"rule '{slot.rules[0]}'")
        have = slots.get(slot.key)
        slots[slot.key] = replace(slot, rules=(have.rules if have else ()) + slot.rules)
    if len(slots) > MAX_SLOTS:
        return SyscallFilter(name, nr, True, f"more than {MAX_SLOTS} distinct rule conditions")
    return SyscallFilter(name, nr, False, "", tuple(slots.values()), path_slot, flags_arg, enum_arg,
                         fd_result=fd_result, fd_close=fd_close, fd_track=fd_track,
                         sock_test=any(s.ports is not None or s.kinds is not None
                                       or not (s.local and s.local6) for s in slots.values()))


def path_param(params: dict[str, str]) -> str | None:
    """The argument the probe's path test reads: the call's first string (its string slot 0)."""
    return next((p for p, src in params.items() if src == "s0"), None)


def flags_param(name: str, params: dict[str, str]) -> str | None:
    """The argument the probe's flags test reads: an open's flags; for other calls, the first
    argument that holds bits (a flags or mode table renders it), e.g. chmod's mode, unshare's flags."""
    if name in OPEN_FAMILY:
        return "flags" if params.get("flags", "-").startswith("a") else None
    return next((p for p, src in params.items() if src.startswith("a") and src[1:].isdigit()
                 and PARAM_TABLES.get((name, p), (None, ""))[1] in (FLAGS, MODE)), None)


def enum_param(name: str, params: dict[str, str]) -> str | None:
    """The argument the probe's value-set test reads: the first one an enumeration renders (ptrace's
    request, socket's domain, ...)."""
    return next((p for p, src in params.items() if src.startswith("a") and src[1:].isdigit()
                 and PARAM_TABLES.get((name, p), (None, ""))[1] == ENUM), None)


def _dimensions(name: str, path_arg: str | None, flag_param: str | None,
                value_param: str | None = None) -> dict[str, str]:
    """Which fields of this event type each kind of test judges. The path test reads the first
    string argument: for an open, fd.name is made from it; for every call, evt.arg.<its name> is it
    as passed, equal to what the probe reads whenever the probe judges it (absolute and normal)."""
    dims = {f: "comm" for f in COMM_FIELDS}
    if name not in NO_RET_TEST:
        dims.update({f: "ret" for f in RET_FIELDS})
    if name in OPEN_FAMILY:
        dims.update({f: "ret" for f in OPEN_RET_FIELDS})
    if path_arg is not None:
        dims[f"evt.arg.{path_arg}"] = "path"
        if name in OPEN_FAMILY:
            dims.update({f: "path" for f in PATH_FIELDS})
    if flag_param is not None and name in OPEN_FAMILY:
        dims.update({f: "flags" for f in FLAG_FIELDS})
    elif flag_param is not None:
        dims[f"evt.arg.{flag_param}"] = f"bits:{flag_param}"
    if value_param is not None:
        dims[f"evt.arg.{value_param}"] = f"values:{value_param}"
    return dims


def _rule_slot(node: ast.Node, evttype: str, params: frozenset[str], dims: dict[str, str],
               compile_: Compile) -> Slot | None:
    spec = specialise(node, evttype, params)
    if spec is False:
        return None
    slot = Slot()
    local: list[tuple[ast.Node, ...]] = []      # the conjuncts on the server address, judged together

    def usable(key: FieldKey) -> bool:
        return dim(key, dims) is not None

    for conj in conjuncts(spec):
        atoms = necessary(conj, usable)
        if not atoms:
            continue
        kinds = {dim(k, dims) or "" for k, _ in atoms}
        if len(kinds) != 1:
            continue
        kind = kinds.pop()
        if kind.startswith("bits:"):
            slot = narrow_bits(slot, kind[5:], [n for _, n in atoms], evttype, compile_)
            continue
        if kind.startswith("values:"):
            slot = narrow_values(slot, kind[7:], [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "local":
            local.append(tuple(n for _, n in atoms))
            continue
        if kind in ("port", "kind"):
            slot = narrow_socket(slot, kind, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "host":
            slot = narrow_host(slot, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "ret":
            slot = narrow_ret(slot, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "flags":
            slot = narrow_flags(slot, [n for _, n in atoms], evttype, compile_)
            continue
        if kind == "path" and any(k[0] == "fd.directory" for k, _ in atoms):
            # fd.name starts with fd.directory, so a prefix of the directory is one of the name
            atoms = [(k, n if k[0] != "fd.directory" else directory_prefix(n)) for k, n in atoms]
        slot = narrow_names(slot, kind, [n for _, n in atoms])
    return narrow_local(slot, local, evttype, compile_) if local else slot


# -- what the fd state needs ----------------------------------------------------------------------

def _fd_state_needs(rules: Sequence[Any], compile_: Compile,
                    described: frozenset[str] = frozenset()) -> dict[str, str]:
    """fd-creating syscall -> the first rule that reads fd fields of an fd another event made. A rule
    that reads only socket fields, on events whose fd the probe describes itself (`described`), needs
    none: its events carry their socket as the kernel has it."""
    needs: dict[str, str] = {}
    for rule in rules:
        if rule.node is None:
            continue
        types = rule_types(rule)
        readers = FD_READERS if types is None else FD_READERS & types
        if not readers or not _reads_fds(rule.node):
            continue
        sockets_only = all(t in SOCKET_READERS or _socket_only(rule.node, t) for t in readers)
        if sockets_only and readers <= described:
            continue
        for maker in (SOCKET_MAKERS if sockets_only else FD_MAKERS):
            needs.setdefault(maker, rule.name)
    return needs


def rule_types(rule: Any) -> frozenset[str] | None:
    types = getattr(rule, "evttypes", None)
    return frozenset(types) if types is not None else None


def _reads_fds(node: ast.Node) -> bool:
    """Whether a condition reads fd fields. Outputs are not asked: an fd a filtered open made is
    filled from /proc when an alert's output needs it (state.fds)."""
    names = {n.name for n in ast.walk(node) if isinstance(n, ast.FieldRef)}
    return any(n.startswith(FD_FIELD_PREFIXES) or n in FD_FIELD_NAMES for n in names)


def _socket_only(node: ast.Node, evttype: str) -> bool:
    """Whether the rule, on this event type, can only match an fd that is a socket."""
    spec = specialise(node, evttype)
    if spec is False:
        return True
    for conj in conjuncts(spec):
        atoms = necessary(conj, lambda k: k[0] in SOCKET_ONLY_FIELDS or k[0] in ("fd.type", "fd.typechar"))
        if atoms and all(_socket_atom(k[0], n) for k, n in atoms):
            return True
    return False


def _socket_atom(field: str, node: ast.Node) -> bool:
    if field in SOCKET_ONLY_FIELDS:
        # these fields are <NA> for files: a check that holds must be a positive one
        return not any(isinstance(n, ast.Not) for n in ast.walk(node)) and all(
            n.op not in ("!=", "exists") for n in ast.walk(node) if isinstance(n, ast.Compare))
    if isinstance(node, ast.Compare) and node.op in ("=", "==", "in"):
        vals = values(node.right)
        return vals is not None and all(v in SOCKET_TYPES for v in vals)
    return False
