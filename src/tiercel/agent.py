"""`tiercel run`: config and rules loaded -> probe attached for what they need -> alerts delivered.

Before the steps: read and validate the config (refuse to start on any error), load rules (report
every error, stop on any), select rules (-D/-T/-t/--priority), start the outputs, work out the
syscalls to attach. Then the steps (tiercel.app), in order: signals, the source (live or replay),
the control thread (SIGHUP/watched-file reload, SIGUSR1 reopens outputs, SIGUSR2 stats, kernel-drop
checks), the web server; loop. Teardown always runs, each stop on its own: the web server, the
control thread, the source, then every output queue is flushed within
`outputs_queue.flush_timeout` (`stop_flush_timeout` from a SIGINT or SIGTERM on) and the summary
printed.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import socket
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import tiercel
from tiercel import node
from tiercel.app import Step, run_steps
from tiercel.config import DEFAULT_RULES as CONFIG_DEFAULT_RULES
from tiercel.config import Config, load_config
from tiercel.container.registry import EngineOptions
from tiercel.errors import TiercelError
from tiercel.events.model import Event
from tiercel.events.syscalls import FD_OPTIONAL_SYSCALLS, FD_STATE_SYSCALLS, STATE_SYSCALLS, SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.logs import setup_logging
from tiercel.outputs.alert import Alert, make_alert
from tiercel.outputs.append import Extras
from tiercel.outputs.build import build_dispatcher
from tiercel.outputs.dispatcher import Dispatcher, OutputStats
from tiercel.outputs.hold import MetadataWait, snapshot, waiting_for
from tiercel.outputs.reader_gone import ReaderWatch
from tiercel.priority import NAMES, SHORT
from tiercel.rules import Ruleset, load_rules
from tiercel.rules.matching.ruleset import CompiledRule
from tiercel.sources.base import CaptureOptions, Counters, FilteredSource, Sink, Source
from tiercel.telemetry.stats import AgentStats, render_text
from tiercel.telemetry.tables import measure as measure_state
from tiercel.telemetry.versions import engine_version
from tiercel.telemetry.webserver import WebServer

DEFAULT_RULES = Path(CONFIG_DEFAULT_RULES)


class RulesProblem(TiercelError):
    exit_code = 1


@dataclass
class RunOptions:
    rules: list[Path] = field(default_factory=list)
    disable: list[str] = field(default_factory=list)       # -D substrings
    disable_tags: list[str] = field(default_factory=list)  # -T
    only_tags: list[str] = field(default_factory=list)     # -t
    priority: str | None = None
    json: bool | None = None                                # None: the config's json_output
    stats: bool = False
    match_all: bool = False
    trace: Path | None = None                               # -e: replay this capture file
    capture: CaptureOptions = field(default_factory=CaptureOptions)
    config: Path | None = None                              # -c
    overrides: list[str] = field(default_factory=list)      # -o key=value
    cri: list[str] = field(default_factory=list)            # --cri PATH (repeatable)


def effective_config(opts: RunOptions) -> Config:
    """The config file and -o overrides, then the command line's own flags on top."""
    cfg = load_config(opts.config, opts.overrides)
    changes: dict[str, Any] = {}
    if opts.rules:
        changes["rules_files"] = tuple(str(p) for p in opts.rules)
    if opts.json is not None:
        changes["delivery"] = dataclasses.replace(cfg.delivery, json_output=opts.json)
    if opts.match_all:
        changes["rule_matching"] = "all"
    if opts.priority:
        changes["priority"] = opts.priority
    if opts.cri:  # as Falco's --cri: these sockets, in this order, instead of the configured ones
        engines = cfg.container_engines
        changes["container_engines"] = dataclasses.replace(
            engines, cri=dataclasses.replace(engines.cri, enabled=True, sockets=tuple(opts.cri)))
    return dataclasses.replace(cfg, **changes)


def engine_options(cfg: Config) -> EngineOptions:
    ce = cfg.container_engines
    return EngineOptions(docker=ce.docker.enabled, cri=ce.cri.enabled, cri_sockets=ce.cri.sockets)


def load(cfg: Config, opts: RunOptions, err: IO[str]) -> Ruleset:
    if opts.only_tags and (opts.disable or opts.disable_tags):
        # as Falco: "run only these tags" and "disable these" together have no clear meaning
        raise RulesProblem("-t (run only rules with a tag) cannot be combined with -D or -T "
                           "(disable rules); use one or the other")
    ruleset, result = load_rules(cfg.rules_files, match_all=cfg.rule_matching == "all")
    if result.errors or result.warnings:
        print(result.render_text(), file=err, flush=True)
    if result.errors:
        raise RulesProblem(f"{len(result.errors)} error(s) in the rule files")
    for entry in cfg.rules:  # Falco's `rules:` selection, in order; the command line's flags after it
        chosen = entry.enable if entry.enable is not None else entry.disable
        if chosen is not None:
            ruleset.select(entry.enable is not None, chosen.rule, chosen.tag)
    for sub in opts.disable:
        ruleset.disable_matching(sub)
    if opts.disable_tags:
        ruleset.disable_tags(opts.disable_tags)
    if opts.only_tags:
        ruleset.only_tags(opts.only_tags)
    names = [p.lower() for p in NAMES]
    level = "informational" if cfg.priority.lower() == "info" else cfg.priority.lower()
    if level not in names:
        raise RulesProblem(f"unknown priority '{cfg.priority}': one of {', '.join(NAMES)}")
    ruleset.min_priority(names.index(level))
    return ruleset


def syscalls_for(ruleset: Ruleset, table: SyscallTable) -> set[str]:
    """The syscalls the enabled rules can match, plus those the process and fd state needs."""
    if ruleset.matches_any_type:
        return set(table.by_name)
    wanted = {t for t in ruleset.needed_event_types() if t in table.by_name}
    # close is the busiest fd syscall (one per open) and the state can do without it: every fd
    # the state names is re-created by the open, socket, accept or dup that reuses its number.
    optional = FD_OPTIONAL_SYSCALLS - wanted
    return (wanted | STATE_SYSCALLS | FD_STATE_SYSCALLS) - optional


class Matcher:
    """The source's sink: matches each event and hands its alerts to the dispatcher. A reload swaps
    rules, outputs and extras in one assignment, between two events."""

    def __init__(self, ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras, cfg: Config) -> None:
        self.hostname = os.environ.get("FALCO_HOSTNAME") or socket.gethostname()  # as Falco
        self.by_rule: Counter[str] = Counter()
        self.by_priority: Counter[str] = Counter()
        # (rule, priority, source, tags): Falco's falcosecurity_falco_rules_matches_total labels
        self.matches: Counter[tuple[str, str, str, tuple[str, ...]]] = Counter()
        self.hold: MetadataWait | None = None   # set for a live source asking a container runtime
        self.retired_rule_errors = 0   # counted by the rulesets that reloads replaced
        self.current = _current(ruleset, dispatcher, extras, cfg)

    def swap(self, ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras, cfg: Config) -> None:
        old = self.current[0]
        self.current = _current(ruleset, dispatcher, extras, cfg)
        self.retired_rule_errors += old.errors

    @property
    def ruleset(self) -> Ruleset:
        return self.current[0]

    @property
    def rule_errors(self) -> int:
        """Rule evaluations that raised, over every ruleset this run has had."""
        return self.retired_rule_errors + self.ruleset.errors

    def __call__(self, ev: Event) -> None:
        ruleset, dispatcher, extras, iso = self.current
        for m in ruleset.match(ev):
            rule = m.rule
            self.by_rule[rule.name] += 1
            self.by_priority[NAMES[rule.priority]] += 1
            self.matches[rule.name, NAMES[rule.priority], rule.source, tuple(rule.tags)] += 1
            container = waiting_for(ev) if self.hold is not None else None
            if self.hold is not None and container is not None:  # its metadata is on its way
                self.hold.hold(container, functools.partial(self.render, rule, snapshot(ev), extras, iso))
                continue
            dispatcher.emit(self.render(rule, ev, extras, iso))

    def render(self, rule: CompiledRule, ev: Event, extras: Extras | None, iso: bool) -> Alert:
        alert = make_alert(rule, ev, hostname=self.hostname, time_iso8601=iso)
        return extras.apply(alert, rule, ev) if extras is not None else alert

    def emit_current(self, alert: Alert) -> None:
        """A held alert goes to the outputs of now (a reload may have replaced those of its match)."""
        self.current[1].emit(alert)

    def summary(self, err: IO[str]) -> None:
        print(f"Events detected: {sum(self.by_rule.values())}", file=err)
        print("Rule counts by severity:", file=err)
        for p, short in zip(NAMES, SHORT, strict=True):
            if self.by_priority[p]:
                print(f"   {short}: {self.by_priority[p]}", file=err)
        print("Triggered rules by rule name:", file=err)
        for name, n in self.by_rule.most_common():
            print(f"   {name}: {n}", file=err)


def _current(ruleset: Ruleset, dispatcher: Dispatcher, extras: Extras,
             cfg: Config) -> tuple[Ruleset, Dispatcher, Extras | None, bool]:
    return ruleset, dispatcher, extras if extras else None, cfg.time_format_iso_8601


def make_source(opts: RunOptions, sink: Sink) -> Source:
    """The event source: a capture file to replay (-e), or the live kernel."""
    if opts.trace is not None:
        from tiercel.sources.replay import ReplaySource
        return ReplaySource(opts.trace, opts.capture, sink)
    from tiercel.sources.live import LiveSource
    return LiveSource(opts.capture, sink)


class Agent:
    """What `run` keeps while it runs: config, matcher, outputs; reloads and accounting.

    The control thread drives it through `tiercel.control.Controlled`: reload, snapshot, request_stop.
    """

    def __init__(self, opts: RunOptions, out: IO[str] | None, err: IO[str]) -> None:
        self.opts, self.out, self.err = opts, out, err
        self.cfg = effective_config(opts)
        self.logger = setup_logging(self.cfg, err)
        self.warned: set[str] = set()
        self._warn_config(self.cfg)
        ruleset = load(self.cfg, opts, err)
        extras = Extras(self.cfg.append_output, self.cfg.static_fields)
        self.dispatcher = build_dispatcher(self.cfg, out)
        self.retired: list[Dispatcher] = []   # replaced by reloads; their counts still add up
        self.matcher = Matcher(ruleset, self.dispatcher, extras, self.cfg)
        self.matcher.hostname = node.hostname(host_proc=opts.capture.host_proc)
        self.source: Source | None = None
        self.web: WebServer | None = None
        self.started = False                  # the source started: the summary is due
        self.reloads = self.reloads_failed = 0
        self.exit_code = 0
        self.stop_requests = 0
        self.lock = threading.Lock()
        self.held: MetadataWait | None = None   # the metadata wait, once stopped (its counts)
        self.stdout_watch: ReaderWatch | None = None

    def log(self, message: str, level: int = logging.INFO) -> None:
        self.logger.log(level, message)

    def _warn_config(self, cfg: Config) -> None:
        """Each Falco key tiercel ignores, said once per run (a reload says only new ones)."""
        for w in cfg.warnings:
            if w not in self.warned:
                self.warned.add(w)
                self.log(f"tiercel: {w}", logging.WARNING)

    def emit_internal(self, alert: Alert) -> None:
        self.dispatcher.emit(alert)

    def reopen_outputs(self) -> None:
        with self.lock:
            self.dispatcher.reopen()

    def current_config(self) -> Config:
        return self.cfg

    def request_stop(self, code: int = 0) -> None:
        """End the run; the first non-zero code is the exit code. Only sets flags: signal-safe."""
        if code and not self.exit_code:
            self.exit_code = code
        if self.source is not None:
            self.source.interrupt()
        self.stop_requests += 1
        # The outputs get a short while to take what is queued (counted dropped after that); asked
        # again (a second ^C or SIGTERM), no more waiting at all.
        wait = self.cfg.outputs_queue.stop_flush_timeout if self.stop_requests == 1 else 0.0
        for d in [*self.retired, self.dispatcher]:
            d.hurry(wait)

    def reload(self) -> bool:
        """Config and rules again; on any error the running ones stay and the errors are logged."""
        with self.lock:
            self.reloads += 1
            try:
                cfg = effective_config(self.opts)
                self.logger = setup_logging(cfg, self.err)
                self._warn_config(cfg)
                ruleset = load(cfg, self.opts, self.err)
                extras = Extras(cfg.append_output, cfg.static_fields)
            except TiercelError as e:
                self.reloads_failed += 1
                self.log(f"tiercel: reload failed; the running rules and outputs stay: {e}")
                return False
            old = None
            if cfg.delivery != self.cfg.delivery:  # format, rate, queues or outputs: new outputs
                old, self.dispatcher = self.dispatcher, build_dispatcher(cfg, self.out)
            else:
                self.dispatcher.reopen()  # SIGHUP after logrotate: files are opened again
            self._attach_more(ruleset)
            self._load_filter(ruleset, cfg)
            self.matcher.swap(ruleset, self.dispatcher, extras, cfg)
            if self.matcher.hold is not None:
                self.matcher.hold.wait_s = cfg.container_engines.metadata_wait
            self.cfg = cfg
            if old is not None:
                self.retired.append(old)   # first: a stop signal meanwhile hurries its flush too
                if self.stop_requests:     # one came while the outputs were swapped
                    old.hurry(cfg.outputs_queue.stop_flush_timeout)
                old.close(cfg.outputs_queue.flush_timeout, "at reload")
            self.log(f"tiercel: reloaded: running {len(ruleset.enabled_rules())} rules")
            return True

    def _attach_more(self, ruleset: Ruleset) -> None:
        """Attach what new rules need (a live source can); capture goes on meanwhile."""
        if self.source is None:
            return
        try:
            self.source.attach(syscalls_for(ruleset, SyscallTable()))
        except TiercelError as e:
            self.log(f"tiercel: could not attach {e}")

    def _load_filter(self, ruleset: Ruleset, cfg: Config) -> None:
        """The kernel filter for these rules: derived here, loaded into the probe's maps (no
        recompile). Capture mode never gets here: it wants every record."""
        if not isinstance(self.source, FilteredSource) or ruleset.compiler is None:
            return                  # a capture file has no kernel to filter in
        table = SyscallTable()
        tables = derive(ruleset, ruleset.compiler, table, table.by_name)
        for notice in tables.notices:
            self.log(f"tiercel: kernel filter: {notice}")
        self.source.set_filter(tables, cfg.kernel_filter)

    def snapshot(self) -> AgentStats:
        counts = self.source.counters if self.source is not None else Counters()
        hold = self.matcher.hold or self.held
        merged: dict[str, OutputStats] = {}
        produced = throttled = 0
        for d in [*self.retired, self.dispatcher]:
            produced, throttled = produced + d.produced, throttled + d.throttled
            for name, s in d.stats().items():
                merged.setdefault(name, OutputStats()).add(s)
        return AgentStats(records=counts.records, events=counts.events, lost=counts.lost,
                          decode_errors=counts.decode_errors, event_errors=counts.event_errors,
                          rule_errors=self.matcher.rule_errors, produced=produced,
                          throttled=throttled, outputs=merged, by_rule=Counter(self.matcher.by_rule),
                          reloads=self.reloads, reloads_failed=self.reloads_failed,
                          rules_loaded=len(self.matcher.ruleset.enabled_rules()),
                          filtered=counts.filtered, lost_by_kind=dict(counts.lost_by_kind),
                          alerts_waited=hold.waited if hold is not None else 0,
                          alerts_incomplete=hold.incomplete if hold is not None else 0,
                          matches=Counter(self.matcher.matches), version=tiercel.__version__,
                          engine_version=engine_version(), hostname=self.matcher.hostname,
                          state=measure_state(self.source))

    def run(self) -> int:
        from tiercel.control import Control

        self.opts.capture.syscalls = syscalls_for(self.matcher.ruleset, SyscallTable())
        self.opts.capture.engines = engine_options(self.cfg)
        source = self.source = make_source(self.opts, self.matcher)
        control = Control(self, self.matcher.hostname)
        steps = [
            Step("summary", stop=self._final_report),   # first, so that it is printed last
            Step("outputs", stop=self._close_outputs),
            Step("metadata wait", self._start_hold, self._stop_hold),   # before the outputs' flush
            Step("signals", control.install),
            Step("source", self._start_source, source.stop),
            Step("control thread", control.start, control.stop),
            Step("stdout reader", self._watch_stdout, self._unwatch_stdout),
            Step("webserver", self._start_webserver, self._stop_webserver),
            Step("announce", lambda: self.log(
                f"tiercel: running {len(self.matcher.ruleset.enabled_rules())} rules "
                f"({len(self.opts.capture.syscalls or ())} syscalls attached; {source.mode})")),
        ]
        clean = run_steps(steps, lambda: source.run(self.opts.capture.duration), self.log)
        return self.exit_code or (0 if clean else 1)

    def _start_source(self) -> None:
        assert self.source is not None
        self.source.start()
        self.started = True
        self._load_filter(self.matcher.ruleset, self.cfg)

    def _watch_stdout(self) -> None:
        """Alerts to a pipe on stdout (`tiercel run | reader`): once the reader has gone, stop as
        SIGTERM would, exit code 0."""
        so = self.cfg.stdout_output
        if self.out is not None or not so.enabled or so.stream != "stdout":
            return
        try:
            fd = sys.stdout.fileno()
        except (AttributeError, OSError, ValueError):
            return
        self.stdout_watch = ReaderWatch.for_pipe(fd, self._reader_gone)
        if self.stdout_watch is not None:
            self.stdout_watch.start()

    def _reader_gone(self) -> None:
        self.log("tiercel: stdout's reader has gone: stopping")
        self.request_stop(0)

    def _unwatch_stdout(self) -> None:
        if self.stdout_watch is not None:
            self.stdout_watch.stop()

    def _start_hold(self) -> None:
        """Alerts of a container whose metadata is being fetched wait for it (live, with a runtime)."""
        wait = self.cfg.container_engines.metadata_wait
        if self.opts.trace is None and self.opts.capture.containers and wait > 0:
            self.matcher.hold = MetadataWait(wait, self.matcher.emit_current)

    def _stop_hold(self) -> None:
        hold, self.matcher.hold = self.matcher.hold, None
        if hold is not None:
            hold.stop()
            self.held = hold

    def _close_outputs(self) -> None:
        self.dispatcher.close(self.cfg.outputs_queue.flush_timeout)

    def _start_webserver(self) -> None:
        conf = self.cfg.webserver
        if not conf.enabled:
            return
        try:
            web = WebServer(conf, self.snapshot)
        except OSError as e:
            raise TiercelError(f"webserver: cannot listen on {conf.listen_address}:"
                               f"{conf.listen_port}: {e.strerror}") from e
        web.start()
        self.web = web
        self.log(f"tiercel: webserver on http://{conf.listen_address}:{web.port}"
                 f" ({conf.k8s_healthz_endpoint}, /metrics)")

    def _stop_webserver(self) -> None:
        web, self.web = self.web, None
        if web is not None:
            web.stop()

    def _final_report(self) -> None:
        if not self.started or self.source is None:
            return
        if self.opts.stats or self.opts.trace is not None:  # Falco always prints it on replay
            self.matcher.summary(self.err)
        self.log(self.source.counters.line())
        stats = self.snapshot()
        if self.opts.stats:
            self.log(render_text(stats))
        for name, o in stats.outputs.items():
            if o.dropped and not self.opts.stats:  # never silent, even without --stats
                self.log(f"tiercel: output {name}: {o.dropped} of {o.offered} alerts dropped")


def run_agent(opts: RunOptions, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    return Agent(opts, out, err or sys.stderr).run()
