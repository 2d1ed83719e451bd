"""The configuration's schema: frozen dataclasses whose types say what each key accepts.

The keys are Falco's (`falco.yaml`) wherever Falco has one, so a Falco user's settings read the same;
tiercel's own additions are marked in the shipped `tiercel.yaml`. Each field's type is what the key
accepts (a `Literal` lists its words, any case in the file, lower case here), each default is what
runs without a file, and checks a type cannot say are declared on the field (`declare.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from tiercel.common.priority import ACCEPTED as PRIORITIES
from tiercel.config.declare import (
    INLINE,
    above,
    at_least,
    ignored,
    in_range,
    keys_of,
    not_a_key,
    one_of,
    port_number,
    setting,
)
from tiercel.config.targets import file_problem, header_problem, http_url_problem


def _default_rules() -> str:
    """The shipped rules: a source checkout's rules/, else the copy inside the binary
    (tiercel/default_rules, ci/build-binary.sh), else the packages' /etc/tiercel/rules.d."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "rules").is_dir():
        return str(checkout / "rules")
    for packaged in (package / "default_rules", Path("/etc/tiercel/rules.d")):
        if packaged.is_dir():
            return str(packaged)
    return str(checkout / "rules")


DEFAULT_RULES = _default_rules()
DEFAULT_QUEUE_CAPACITY = 10_000

Stream = Literal["stdout", "stderr"]
SyslogProtocol = Literal["unix", "udp", "tcp"]
# In syslog's order: a facility's code is its index (local0..7 are 16..23, see outputs/syslog.py).
Facility = Literal["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
                   "authpriv", "ftp", "local0", "local1", "local2", "local3", "local4", "local5",
                   "local6", "local7"]
FACILITIES: tuple[Facility, ...] = get_args(Facility)
JsonFormat = Literal["falco", "falco-0.31"]
RuleMatching = Literal["first", "all"]
DropAction = Literal["ignore", "log", "alert", "exit"]
LogLevel = Literal["emergency", "alert", "critical", "error", "warning", "notice", "info", "debug"]
_PLUGINS = "tiercel has no plugins (its sources are built in)"
EngineKind = Literal["kmod", "ebpf", "modern_ebpf", "replay", "gvisor", "nodriver"]


@dataclass(frozen=True)
class Plugin:
    """One entry of Falco's `plugins:`. tiercel loads no library: `k8saudit` (with `json`) is its
    built-in k8s_audit source, configured from `open_params` and `init_config`; others are noted."""

    name: str = ""
    library_path: str = ""
    init_config: object = None    # the plugin's own settings: a mapping, or a JSON string
    open_params: str = ""


@dataclass(frozen=True)
class Engine:
    """Falco's `engine`: `kind: nodriver` runs no syscall source (the k8s_audit source alone); every
    other kind is tiercel's BCC probe. The kinds' own settings are accepted as they are."""

    kind: EngineKind = "modern_ebpf"
    kmod: object = None
    ebpf: object = None
    modern_ebpf: object = None
    replay: object = None
    gvisor: object = None


@dataclass(frozen=True)
class RateLimit:
    rate: float = setting(0.0, check=at_least(0, "must be 0 (no limit) or more"))
    # alerts per second refilled; 0 = no limit
    max_burst: int = setting(1000, check=at_least(1, "must be 1 or more (0 would refuse every alert)"))


@dataclass(frozen=True)
class OutputsQueue:
    capacity: int = setting(0, check=at_least(0, "must be 0 (the default bound) or more"))
    # 0: tiercel's default bound (DEFAULT_QUEUE_CAPACITY), never unbounded
    # tiercel: seconds to flush all queues at exit or output reload
    flush_timeout: float = setting(10.0, check=at_least(0, "must be 0 seconds or more"))
    # tiercel: once SIGINT or SIGTERM asks the agent to stop, the outputs have this long (at most
    # flush_timeout) to take what is queued; the rest is counted dropped and said per output
    stop_flush_timeout: float = setting(1.0, check=at_least(0, "must be 0 seconds or more"))


@dataclass(frozen=True)
class StdoutOutput:
    enabled: bool = True
    stream: Stream = "stdout"  # tiercel: or stderr


@dataclass(frozen=True)
class FileOutput:
    enabled: bool = False
    keep_alive: bool = False
    filename: str = "./events.txt"

    def problems(self) -> Iterator[tuple[str, str]]:
        problem = file_problem(self.filename) if self.enabled else None
        if problem:
            yield "filename", problem


@dataclass(frozen=True)
class SyslogOutput:
    enabled: bool = False
    protocol: SyslogProtocol = "unix"  # tiercel: unix (path), udp or tcp (host, port)
    path: str = "/dev/log"
    host: str = "127.0.0.1"
    port: int = setting(514, check=port_number)
    facility: Facility = "user"
    app_name: str = "tiercel"


@dataclass(frozen=True)
class ProgramOutput:
    enabled: bool = False
    keep_alive: bool = False
    program: str = "jq '{text: .output}'"

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.enabled and not self.program.strip():
            yield "program", "is empty: there is no program to start"


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
    # tiercel: seconds per request
    timeout: float = setting(5.0, check=above(0, "must be more than 0 seconds"))
    # tiercel: attempts after the first before an alert is dropped
    max_retries: int = setting(5, check=at_least(0, "must be 0 or more"))
    mtls: object = ignored("no client certificates (use a proxy for mutual TLS)")
    client_cert: object = ignored("no client certificates")
    client_key: object = ignored("no client certificates")
    echo: object = ignored("responses are not printed")
    compress_uploads: object = ignored("bodies are sent uncompressed")
    keep_alive: object = ignored("connections are reused as the HTTP library decides")
    max_consecutive_timeouts: object = ignored("max_retries says how often a request is retried")

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.enabled:
            return
        problem = http_url_problem(self.url)
        if problem:
            yield "url", problem
        for name, value in self.custom_headers.items():
            problem = header_problem(name, value)
            if problem:
                yield "custom_headers", problem


@dataclass(frozen=True)
class Delivery:
    """How alerts leave: their format, the rate limit, the queues and the five outputs.

    Falco's keys for these are top-level (`json_output`, `stdout_output`, ...), so this group is
    `inline`: one value here, flat in the file. A reload builds new outputs when it differs.
    """

    json_output: bool = True
    json_include_output_property: bool = True
    json_include_tags_property: bool = True
    json_include_message_property: bool = False       # `message`: the output without time and priority
    json_include_output_fields_property: bool = True
    json_format: JsonFormat = "falco"  # tiercel: falco-0.31 = the line Falco 0.31 wrote (no hostname)
    buffered_outputs: bool = False
    outputs: RateLimit = field(default_factory=RateLimit)
    outputs_queue: OutputsQueue = field(default_factory=OutputsQueue)
    stdout_output: StdoutOutput = field(default_factory=StdoutOutput)
    file_output: FileOutput = field(default_factory=FileOutput)
    syslog_output: SyslogOutput = field(default_factory=SyslogOutput)
    program_output: ProgramOutput = field(default_factory=ProgramOutput)
    http_output: HttpOutput = field(default_factory=HttpOutput)

    @property
    def queue_capacity(self) -> int:
        return self.outputs_queue.capacity or DEFAULT_QUEUE_CAPACITY


def _drops_threshold(value: float) -> str:
    # worded as Falco words it, so logs that were searched for Falco's message still match
    return f"syscall event drops threshold must be a double in the range [0, 1], not {value}"


@dataclass(frozen=True)
class SyscallEventDrops:
    threshold: float = setting(0.1, check=in_range(0, 1, _drops_threshold))
    actions: tuple[DropAction, ...] = ("log", "alert")
    rate: float = setting(0.03333, check=at_least(0, "must be 0 or more"))
    max_burst: int = setting(1, check=at_least(0, "must be 0 or more"))
    simulate_drops: bool = False

    def problems(self) -> Iterator[tuple[str, str]]:
        for a in self.actions:  # worded as Falco words it
            if a != "ignore" and "ignore" in self.actions:
                yield "actions", (f'syscall event drop action "{a}" does not make sense with the '
                                  '"ignore" action')


@dataclass(frozen=True)
class AppendMatch:
    source: str | None = None
    tags: tuple[str, ...] = ()   # Falco's form: the rule must have every one
    tag: str | None = None       # tiercel's older form: one tag
    rule: str | None = None


@dataclass(frozen=True)
class AppendOutput:
    match: AppendMatch = field(default_factory=AppendMatch)
    suggested_output: bool = False   # the fields the rule language suggests (container, k8s)
    extra_output: str = ""
    extra_fields: tuple[str | dict[str, str], ...] = ()


@dataclass(frozen=True)
class FalcoLibs:
    # the process table's size in tasks; past it the task added longest ago is evicted
    thread_table_size: int = setting(262_144, check=at_least(1, "must be 1 or more"))
    thread_table_auto_purging_interval_s: object = ignored("exited tasks leave the table at once")
    thread_table_auto_purging_thread_timeout_s: object = ignored("exited tasks leave the table at once")
    snaplen: object = ignored("the probe reads what the rules' fields need")


@dataclass(frozen=True)
class Webserver:
    enabled: bool = False
    listen_address: str = "127.0.0.1"
    listen_port: int = setting(8765, check=port_number)
    k8s_healthz_endpoint: str = "/healthz"
    prometheus_metrics_enabled: bool = True
    threadiness: object = ignored("requests are served by one thread")
    ssl_enabled: bool = False
    ssl_certificate: object = ignored("the web server speaks plain HTTP")

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.enabled and self.ssl_enabled:  # never serve plain HTTP where TLS was asked for
            yield "ssl_enabled", ("not supported: tiercel's web server speaks plain HTTP "
                                  "(put a TLS proxy in front)")


@dataclass(frozen=True)
class DockerEngine:
    enabled: bool = True


@dataclass(frozen=True)
class CriEngine:
    enabled: bool = True
    # tried in order, under /host first; Falco's list (tiercel.container.registry.CRI_SOCKETS)
    sockets: tuple[str, ...] = ("/run/containerd/containerd.sock", "/run/crio/crio.sock",
                                "/run/k3s/containerd/containerd.sock")
    disable_async: bool = False  # Falco's; accepted, lookups are always asynchronous here


@dataclass(frozen=True)
class ContainerEngines:
    """Falco's `container_engines` (0.38-0.40): which runtimes are asked for container metadata."""

    docker: DockerEngine = field(default_factory=DockerEngine)
    cri: CriEngine = field(default_factory=CriEngine)
    # tiercel: seconds an alert for a container whose metadata is still being fetched waits for it
    # (then goes out with what is known); 0: never wait
    metadata_wait: float = setting(1.0, check=at_least(0, "must be 0 or more"))


@dataclass(frozen=True)
class RuleMatch:
    rule: str | None = None   # a rule name, `*` wildcards
    tag: str | None = None    # a tag, `*` wildcards


@dataclass(frozen=True)
class RuleSelection:
    """One entry of Falco's `rules:` list: enable or disable rules by name or tag, applied in order."""

    enable: RuleMatch | None = None
    disable: RuleMatch | None = None

    def problems(self) -> Iterator[tuple[str, str]]:
        if (self.enable is None) == (self.disable is None):
            yield "enable", "each entry is either enable or disable"


@dataclass(frozen=True)
class Config:
    config_files: tuple[str, ...] | str = ()   # read by load.py: files and directories, in order
    rules_files: tuple[str, ...] = (DEFAULT_RULES,)
    rules_file: tuple[str, ...] | str | None = None   # Falco's older name, used when rules_files is absent
    rules: tuple[RuleSelection, ...] = ()
    time_format_iso_8601: bool = False
    priority: str = setting("debug", check=one_of(PRIORITIES))  # as written; priority.parse_priority
    delivery: Delivery = field(default_factory=Delivery, metadata=INLINE)
    syscall_event_drops: SyscallEventDrops = field(default_factory=SyscallEventDrops)
    watch_config_files: bool = True
    rule_matching: RuleMatching = "first"
    append_output: tuple[AppendOutput, ...] = ()
    static_fields: dict[str, str] = field(default_factory=dict)
    webserver: Webserver = field(default_factory=Webserver)
    container_engines: ContainerEngines = field(default_factory=ContainerEngines)
    # tiercel: keep in the kernel the records no loaded rule could match (false: send every record
    # of the attached syscalls, for debugging; the alerts are the same)
    kernel_filter: bool = True
    # the agent's own messages (Python's logging)
    log_stderr: bool = True
    log_syslog: bool = False
    log_level: LogLevel = "info"
    engine: Engine = field(default_factory=Engine)
    capture: object = ignored("tiercel capture -w writes captures")
    load_plugins: tuple[str, ...] = ()
    plugins: tuple[Plugin, ...] = ()
    plugins_hostinfo: object = ignored(_PLUGINS)
    buffer_format_base64: object = ignored("buffers are printed as text")
    libs_logger: object = ignored("there are no Falco libs in tiercel")
    output_timeout: object = ignored("each output has its own timeout (http_output.timeout)")
    syscall_event_timeouts: object = ignored("the probe does not time out")
    metrics: object = ignored("statistics are on SIGUSR2, --stats and /metrics")
    base_syscalls: object = ignored("tiercel attaches the syscalls the rules and its state need")
    falco_libs: FalcoLibs = field(default_factory=FalcoLibs)
    path: str | None = not_a_key(None)  # the file this was read from
    warnings: tuple[str, ...] = not_a_key(())  # Falco keys accepted and ignored, one line each

    @classmethod
    def yaml_keys(cls) -> tuple[str, ...]:
        """The top-level keys of a config file that tiercel implements, the inline groups' included
        (not the Falco keys it accepts and ignores)."""
        return tuple(name for name, key in keys_of(cls).items() if key.ignored is None)

    # The delivery settings under the names they had before they were grouped (read-only).
    @property
    def json_output(self) -> bool:
        return self.delivery.json_output

    @property
    def json_include_output_property(self) -> bool:
        return self.delivery.json_include_output_property

    @property
    def json_include_tags_property(self) -> bool:
        return self.delivery.json_include_tags_property

    @property
    def json_format(self) -> JsonFormat:
        return self.delivery.json_format

    @property
    def buffered_outputs(self) -> bool:
        return self.delivery.buffered_outputs

    @property
    def outputs(self) -> RateLimit:
        return self.delivery.outputs

    @property
    def outputs_queue(self) -> OutputsQueue:
        return self.delivery.outputs_queue

    @property
    def stdout_output(self) -> StdoutOutput:
        return self.delivery.stdout_output

    @property
    def file_output(self) -> FileOutput:
        return self.delivery.file_output

    @property
    def syslog_output(self) -> SyslogOutput:
        return self.delivery.syslog_output

    @property
    def program_output(self) -> ProgramOutput:
        return self.delivery.program_output

    @property
    def http_output(self) -> HttpOutput:
        return self.delivery.http_output

    @property
    def queue_capacity(self) -> int:
        return self.delivery.queue_capacity
