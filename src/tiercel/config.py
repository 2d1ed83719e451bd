"""Config: the YAML file (`-c`) plus `-o key=value` overrides, validated once into typed sections.

The keys are Falco's (`falco.yaml`) wherever Falco has one, so a Falco user's settings read the same;
tiercel's own additions are marked in the shipped `tiercel.yaml`. The schema *is* the dataclasses
below: each field's type says what the key accepts, each default is what runs without a file.
Problems are collected, not stopped at, and each is reported with its key path and position:

    tiercel.yaml:12:12: stdout_output.enabled: expected true or false, got 'maybe'
    -o file_output.keep_alive=x: file_output.keep_alive: expected true or false, got 'x'
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import Mark
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.errors import TiercelError


def _default_rules() -> str:
    """The shipped rules: a source checkout's rules/, else the copy inside the binary
    (tiercel/default_rules, ci/build-binary.sh), else the packages' /etc/tiercel/rules.d."""
    here = Path(__file__).resolve().parent
    checkout = here.parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "rules").is_dir():
        return str(checkout / "rules")
    for packaged in (here / "default_rules", Path("/etc/tiercel/rules.d")):
        if packaged.is_dir():
            return str(packaged)
    return str(checkout / "rules")


DEFAULT_RULES = _default_rules()
DEFAULT_QUEUE_CAPACITY = 10_000
PRIORITY_NAMES = ("emergency", "alert", "critical", "error", "warning", "notice", "informational",
                  "info", "debug")
DROP_ACTIONS = ("ignore", "log", "alert", "exit")
JSON_FORMATS = ("falco", "falco-0.31")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
              "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
              "local7")

# Keys whose values must be one of a few words, checked after the types.
CHOICES: dict[str, tuple[str, ...]] = {
    "priority": PRIORITY_NAMES, "rule_matching": ("first", "all"),
    "stdout_output.stream": ("stdout", "stderr"), "syslog_output.protocol": ("unix", "udp", "tcp"),
    "syslog_output.facility": FACILITIES, "json_format": JSON_FORMATS,
}


class ConfigError(TiercelError):
    exit_code = 1  # as Falco, and as rule-file errors; 2 is for a host that cannot run the probe


@dataclass(frozen=True)
class RateLimit:
    rate: float = 0.0          # alerts per second refilled; 0 = no limit
    max_burst: int = 1000


@dataclass(frozen=True)
class StdoutOutput:
    enabled: bool = True
    stream: str = "stdout"     # tiercel: or stderr


@dataclass(frozen=True)
class FileOutput:
    enabled: bool = False
    keep_alive: bool = False
    filename: str = "./events.txt"


@dataclass(frozen=True)
class SyslogOutput:
    enabled: bool = False
    protocol: str = "unix"     # tiercel: unix (path), udp or tcp (host, port)
    path: str = "/dev/log"
    host: str = "127.0.0.1"
    port: int = 514
    facility: str = "user"
    app_name: str = "tiercel"


@dataclass(frozen=True)
class ProgramOutput:
    enabled: bool = False
    keep_alive: bool = False
    program: str = "jq '{text: .output}'"


@dataclass(frozen=True)
class HttpOutput:
    enabled: bool = False
    url: str = ""
    user_agent: str = "tiercel"
    custom_headers: dict[str, str] = field(default_factory=dict)
    insecure: bool = False
    ca_cert: str = ""
    ca_bundle: str = ""
    ca_path: str = ""
    timeout: float = 5.0       # tiercel: seconds per request
    max_retries: int = 5       # tiercel: attempts after the first before an alert is dropped


@dataclass(frozen=True)
class SyscallEventDrops:
    threshold: float = 0.1
    actions: list[str] = field(default_factory=lambda: ["log", "alert"])
    rate: float = 0.03333
    max_burst: int = 1
    simulate_drops: bool = False


@dataclass(frozen=True)
class OutputsQueue:
    capacity: int = 0          # 0: tiercel's default bound (DEFAULT_QUEUE_CAPACITY), never unbounded
    flush_timeout: float = 10.0  # tiercel: seconds to flush all queues at exit or output reload


@dataclass(frozen=True)
class AppendMatch:
    source: str | None = None
    tag: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class AppendOutput:
    match: AppendMatch = field(default_factory=AppendMatch)
    extra_output: str = ""
    extra_fields: list[str | dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Webserver:
    enabled: bool = False
    listen_address: str = "127.0.0.1"
    listen_port: int = 8765
    k8s_healthz_endpoint: str = "/healthz"
    prometheus_metrics_enabled: bool = True


@dataclass(frozen=True)
class Config:
    rules_files: list[str] = field(default_factory=lambda: [DEFAULT_RULES])
    json_output: bool = True
    json_include_output_property: bool = True
    json_include_tags_property: bool = True
    json_format: str = "falco"  # tiercel: falco-0.31 = the line Falco 0.31 wrote (no hostname)
    time_format_iso_8601: bool = False
    priority: str = "debug"
    buffered_outputs: bool = False
    outputs: RateLimit = field(default_factory=RateLimit)
    outputs_queue: OutputsQueue = field(default_factory=OutputsQueue)
    stdout_output: StdoutOutput = field(default_factory=StdoutOutput)
    file_output: FileOutput = field(default_factory=FileOutput)
    syslog_output: SyslogOutput = field(default_factory=SyslogOutput)
    program_output: ProgramOutput = field(default_factory=ProgramOutput)
    http_output: HttpOutput = field(default_factory=HttpOutput)
    syscall_event_drops: SyscallEventDrops = field(default_factory=SyscallEventDrops)
    watch_config_files: bool = True
    rule_matching: str = "first"
    append_output: list[AppendOutput] = field(default_factory=list)
    static_fields: dict[str, str] = field(default_factory=dict)
    webserver: Webserver = field(default_factory=Webserver)
    path: str | None = None    # the file this was read from (not a key)

    @property
    def queue_capacity(self) -> int:
        return self.outputs_queue.capacity or DEFAULT_QUEUE_CAPACITY


def load_config(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override, validate. Raises ConfigError listing every problem found."""
    errors: list[str] = []
    root = _read_file(Path(path)) if path is not None else None
    if root is None:
        root = MappingNode("tag:yaml.org,2002:map", [], _mark("defaults"), _mark("defaults"))
    if not isinstance(root, MappingNode):
        raise ConfigError(f"{_where(root)}: the configuration must be a mapping of keys")
    for arg in overrides:
        _apply_override(root, arg, errors)
    ctx = _Ctx(errors)
    values = _build(Config, root, "", ctx)
    _check_choices(values, ctx)
    if errors:
        raise ConfigError("invalid configuration (nothing was started):\n  " + "\n  ".join(errors))
    cfg = dataclasses.replace(values, path=str(path) if path is not None else None)
    return _resolve_rules(cfg, Path(path).resolve().parent if path is not None else Path.cwd())


def _read_file(path: Path) -> Node | None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the configuration file {path}: {e}") from e
    try:
        return yaml.compose(text, Loader=_NamedLoader.for_file(str(path)))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', e)}") from e


class _NamedLoader(yaml.SafeLoader):
    """A loader whose marks carry the file name (yaml.compose alone names every file '<unicode string>')."""

    name = ""

    @classmethod
    def for_file(cls, name: str) -> type[_NamedLoader]:
        return type("_Loader", (cls,), {"name": name})

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.name = type(self).name


def _mark(name: str) -> Mark:
    return Mark(name, 0, -1, -1, None, 0)


def _where(node: Node) -> str:
    m = node.start_mark
    return m.name if m.line < 0 else f"{m.name}:{m.line + 1}:{m.column + 1}"


# -- -o key=value ---------------------------------------------------------------------------------

_STEP = re.compile(r"([A-Za-z0-9_]+)|\[(\d+)\]")


def _apply_override(root: MappingNode, arg: str, errors: list[str]) -> None:
    """`-o a.b[1].c=value`: the value is read as YAML, as in Falco's -o."""
    key, sep, text = arg.partition("=")
    label = f"-o {arg}"
    steps = _parse_path(key)
    if not sep or steps is None:
        errors.append(f"{label}: expected -o key=value with key like 'file_output.enabled'")
        return
    try:
        value = yaml.compose(text or "''", Loader=_NamedLoader.for_file(label)) or ScalarNode(
            "tag:yaml.org,2002:null", "")
    except yaml.YAMLError as e:
        errors.append(f"{label}: not a valid YAML value: {getattr(e, 'problem', e)}")
        return
    _relabel(value, label)
    node: Node = root
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        nxt = None if last else steps[i + 1]
        node = _step_into(node, step, value if last else _empty(nxt, label), last, label, errors)
        if node is None:
            return


def _parse_path(key: str) -> list[str | int] | None:
    steps: list[str | int] = []
    for part in key.split("."):
        pos = 0
        while pos < len(part):
            m = _STEP.match(part, pos)
            if m is None:
                return None
            steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
            pos = m.end()
    return steps or None


def _relabel(node: Node, label: str) -> None:
    node.start_mark = _mark(label)
    for child in _children(node):
        _relabel(child, label)


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for kv in node.value for n in kv]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _empty(step: str | int | None, label: str) -> Node:
    if isinstance(step, int):
        return SequenceNode("tag:yaml.org,2002:seq", [], _mark(label), _mark(label))
    return MappingNode("tag:yaml.org,2002:map", [], _mark(label), _mark(label))


def _step_into(node: Node, step: str | int, new: Node, last: bool, label: str,
               errors: list[str]) -> Any:
    """Go one step down the path, creating what is missing (`new`); the last step puts `new` there."""
    if isinstance(step, str) and isinstance(node, MappingNode):
        for i, (k, v) in enumerate(node.value):
            if k.value == step:
                if last:
                    node.value[i] = (k, new)
                return new if last else v
        node.value.append((ScalarNode("tag:yaml.org,2002:str", step, _mark(label)), new))
        return new
    if isinstance(step, int) and isinstance(node, SequenceNode) and step <= len(node.value):
        if step == len(node.value):
            node.value.append(new)
        elif last:
            node.value[step] = new
        return node.value[step]
    if isinstance(step, int) and isinstance(node, SequenceNode):
        errors.append(f"{label}: index {step} is past the end of a list of {len(node.value)}")
    else:
        errors.append(f"{label}: cannot follow '{step}' into the value at {_where(node)}")
    return None


# -- nodes -> typed values ------------------------------------------------------------------------

_SCALARS = SafeConstructor()
_EXPECT = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


@dataclass
class _Ctx:
    errors: list[str]
    where: dict[str, str] = field(default_factory=dict)  # key path -> position, for later checks

    def fail(self, node: Node, path: str, expected: str) -> tuple[bool, Any]:
        got = f"'{node.value}'" if isinstance(node, ScalarNode) else (
            "a list" if isinstance(node, SequenceNode) else "a mapping")
        self.errors.append(f"{_where(node)}: {path}: expected {expected}, got {got}")
        return False, None


def _build(cls: type, node: Node, path: str, ctx: _Ctx) -> Any:
    """A dataclass from a mapping node: unknown keys and wrong types each become one error."""
    if not isinstance(node, MappingNode):
        ctx.fail(node, path or "configuration", "a mapping of keys")
        return cls()
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)} - ({"path"} if cls is Config else set())
    given: dict[str, Any] = {}
    for k, v in node.value:
        name = str(k.value)
        where = f"{path}.{name}" if path else name
        if name not in known:
            ctx.errors.append(f"{_where(k)}: {where}: unknown key")
            continue
        ctx.where[where] = _where(v)
        ok, value = _convert(hints[name], v, where, ctx)
        if ok:
            given[name] = value
    return cls(**given)


def _convert(tp: Any, node: Node, path: str, ctx: _Ctx) -> tuple[bool, Any]:
    origin = get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return True, _build(tp, node, path, ctx)  # type: ignore[arg-type]
    if origin in (Union, types.UnionType):
        return _convert_union(get_args(tp), node, path, ctx)
    if origin is list:
        if not isinstance(node, SequenceNode):
            return ctx.fail(node, path, "a list")
        items = [_convert(get_args(tp)[0], n, f"{path}[{i}]", ctx) for i, n in enumerate(node.value)]
        return all(ok for ok, _ in items), [v for _, v in items]
    if origin is dict:
        if not isinstance(node, MappingNode):
            return ctx.fail(node, path, "a mapping")
        pairs = [(str(k.value), _convert_scalar(str, v, f"{path}.{k.value}", ctx, lenient=True))
                 for k, v in node.value]
        return all(ok for _, (ok, _v) in pairs), {k: v for k, (_ok, v) in pairs}
    return _convert_scalar(tp, node, path, ctx)


def _convert_union(options: tuple[Any, ...], node: Node, path: str, ctx: _Ctx) -> tuple[bool, Any]:
    if type(None) in options and isinstance(node, ScalarNode) and node.tag.endswith(":null"):
        return True, None
    for tp in options:
        if tp is type(None):
            continue
        trial = _Ctx([])
        ok, value = _convert(tp, node, path, trial)
        if ok and not trial.errors:
            return True, value
    names = " or ".join("a mapping" if get_origin(t) is dict else _EXPECT.get(t, "null") for t in options)
    return ctx.fail(node, path, names)


def _convert_scalar(tp: Any, node: Node, path: str, ctx: _Ctx,
                    lenient: bool = False) -> tuple[bool, Any]:
    if not isinstance(node, ScalarNode):
        return ctx.fail(node, path, _EXPECT[tp])
    value = _SCALARS.construct_object(node)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp is str and lenient and isinstance(value, int | float | bool):
        value = node.value  # static field values: `port: 80` means the text "80"
    if type(value) is not tp:
        return ctx.fail(node, path, _EXPECT[tp])
    return True, os.path.expandvars(value) if tp is str else value


def _check_choices(cfg: Config, ctx: _Ctx) -> None:
    def bad(key: str, problem: str) -> None:
        where = ctx.where.get(key.split("[")[0], "")
        ctx.errors.append(f"{where + ': ' if where else ''}{key}: {problem}")

    for key, allowed in CHOICES.items():
        value: Any = cfg
        for part in key.split("."):
            value = getattr(value, part)
        if value.lower() not in allowed:
            bad(key, f"'{value}' is not one of {', '.join(allowed)}")
    drops = cfg.syscall_event_drops
    for a in drops.actions:
        if a not in DROP_ACTIONS:
            bad("syscall_event_drops.actions", f"'{a}' is not one of {', '.join(DROP_ACTIONS)}")
    # worded as Falco words them, so logs that were searched for Falco's message still match
    for a in drops.actions:
        if a != "ignore" and "ignore" in drops.actions:
            bad("syscall_event_drops.actions",
                f'syscall event drop action "{a}" does not make sense with the "ignore" action')
    if not 0 <= drops.threshold <= 1:
        bad("syscall_event_drops.threshold",
            f"syscall event drops threshold must be a double in the range [0, 1], not {drops.threshold}")
    if cfg.outputs_queue.capacity < 0:
        bad("outputs_queue.capacity", "must be 0 (the default bound) or more")
    if cfg.http_output.enabled and not cfg.http_output.url.startswith(("http://", "https://")):
        bad("http_output.url", f"'{cfg.http_output.url}' is not an http:// or https:// URL")


def _resolve_rules(cfg: Config, base: Path) -> Config:
    """Relative rules_files are relative to the config file, so a shipped config works from anywhere."""
    files = [str(p if Path(p).is_absolute() else base / p) for p in cfg.rules_files]
    return dataclasses.replace(cfg, rules_files=files)
