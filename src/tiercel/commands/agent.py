"""`tiercel run`: config and rules loaded -> probe attached for what they need -> alerts delivered.

Before the steps: read and validate the config (refuse to start on any error), load rules (report
every error, stop on any), select rules (-D/-T/-t/--priority), start the outputs, work out the
syscalls to attach. Then the steps (tiercel.commands.app), in order: signals, the source (live or replay),
the control thread (SIGHUP/watched-file reload, SIGUSR1 reopens outputs, SIGUSR2 stats, kernel-drop
checks), the web server; loop. Teardown always runs, each stop on its own: the web server, the
control thread, the source, then every output queue is flushed within
`outputs_queue.flush_timeout` (`stop_flush_timeout` from a SIGINT or SIGTERM on) and the summary
printed.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import IO

import tiercel
from tiercel.commands.app import Step, run_steps
from tiercel.commands.logs import setup_logging
from tiercel.commands.matcher import Matcher
from tiercel.commands.options import RunOptions, effective_config, engine_options, load, syscalls_for
from tiercel.common import node
from tiercel.common.errors import TiercelError
from tiercel.config import Config
from tiercel.events.syscalls import SyscallTable
from tiercel.kfilter.derive import derive
from tiercel.outputs.alert import Alert
from tiercel.outputs.append import Extras
from tiercel.outputs.build import build_dispatcher
from tiercel.outputs.dispatcher import Dispatcher, OutputStats
from tiercel.outputs.hold import MetadataWait
from tiercel.outputs.reader_gone import ReaderWatch
from tiercel.rules import Ruleset
from tiercel.sources.base import Counters, FilteredSource, Sink, Source
from tiercel.telemetry.stats import AgentStats, render_text
from tiercel.telemetry.tables import measure as measure_state
from tiercel.telemetry.versions import engine_version
from tiercel.telemetry.webserver import WebServer


def make_source(opts: RunOptions, sink: Sink) -> Source:
    """The syscall source: a capture file to replay (-e), or the live kernel."""
    if opts.trace is not None:
        from tiercel.sources.replay import ReplaySource
        return ReplaySource(opts.trace, opts.capture, sink)
    from tiercel.sources.live import LiveSource
    return LiveSource(opts.capture, sink)


class Agent:
    """What `run` keeps while it runs: config, matcher, outputs; reloads and accounting.

    The control thread drives it through `commands.control.Controlled`: reload, snapshot, request_stop.
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
        self.beside: threading.Thread | None = None   # the k8s_audit source's loop, beside syscall's

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
        tables = derive(ruleset, ruleset.compiler, table, table.by_name, self.source.kernel_fds)
        for notice in tables.notices:
            self.log(f"tiercel: kernel filter: {notice}")
        self.source.set_filter(tables, cfg.kernel_filter)

    def snapshot(self) -> AgentStats:
        counts = self.source.counters if self.source is not None else Counters()
        hold = self.matcher.hold or self.held
        by_rule, _, matches = self.matcher.totals()
        merged: dict[str, OutputStats] = {}
        produced = throttled = 0
        for d in [*self.retired, self.dispatcher]:
            produced, throttled = produced + d.produced, throttled + d.throttled
            for name, s in d.stats().items():
                merged.setdefault(name, OutputStats()).add(s)
        return AgentStats(records=counts.records, events=counts.events, lost=counts.lost,
                          decode_errors=counts.decode_errors, event_errors=counts.event_errors,
                          rule_errors=self.matcher.rule_errors, produced=produced,
                          throttled=throttled, outputs=merged, by_rule=by_rule,
                          reloads=self.reloads, reloads_failed=self.reloads_failed,
                          rules_loaded=len(self.matcher.ruleset.enabled_rules()),
                          filtered=counts.filtered, lost_by_kind=dict(counts.lost_by_kind),
                          alerts_waited=hold.waited if hold is not None else 0,
                          alerts_incomplete=hold.incomplete if hold is not None else 0,
                          matches=matches, version=tiercel.__version__,
                          engine_version=engine_version(), hostname=self.matcher.hostname,
                          state=measure_state(self.source))

    def run(self) -> int:
        from tiercel.commands.control import Control

        self.opts.capture.syscalls = syscalls_for(self.matcher.ruleset, SyscallTable())
        self.opts.capture.engines = engine_options(self.cfg)
        self.opts.capture.thread_table_size = self.cfg.falco_libs.thread_table_size
        source, beside = self._sources()
        self.source = source
        control = Control(self, self.matcher.hostname)
        steps = [
            Step("summary", stop=self._final_report),   # first, so that it is printed last
            Step("outputs", stop=self._close_outputs),
            Step("metadata wait", self._start_hold, self._stop_hold),   # before the outputs' flush
            Step("signals", control.install),
            Step("source", self._start_source, source.stop),
            Step("k8s audit source", lambda: self._start_beside(beside), lambda: self._stop_beside(beside)),
            Step("control thread", control.start, control.stop),
            Step("stdout reader", self._watch_stdout, self._unwatch_stdout),
            Step("webserver", self._start_webserver, self._stop_webserver),
            Step("announce", lambda: self.log(
                f"tiercel: running {len(self.matcher.ruleset.enabled_rules())} rules "
                f"({len(self.opts.capture.syscalls or ())} syscalls attached; {source.mode})")),
        ]
        clean = run_steps(steps, lambda: source.run(self.opts.capture.duration), self.log)
        return self.exit_code or (0 if clean else 1)

    def _sources(self) -> tuple[Source, Source | None]:
        """The main source (its loop is the agent's) and the one that runs beside it, if any: the
        syscall source (live or -e), the k8s_audit source (-e FILE.json, or Falco's k8saudit plugin
        settings), or both."""
        from tiercel.k8saudit.sources import audit_source, audit_trace
        log = lambda m: self.log(m, logging.ERROR)  # noqa: E731 - Falco's words, on stderr
        audit_sink = self.matcher.other_source("k8s_audit")
        trace = audit_trace(self.opts.trace, audit_sink, log)
        if trace is not None:
            self.opts.capture.syscalls = set()
            return trace, None
        if self.opts.trace is not None:
            return make_source(self.opts, self.matcher), None
        syscall_on, audit = audit_source(self.cfg, self.opts.disable_sources, audit_sink, log,
                                         self._warn_once)
        if not syscall_on:
            assert audit is not None   # audit_source refuses to run with neither
            self.opts.capture.syscalls = set()
            return audit, None
        return make_source(self.opts, self.matcher), audit

    def _warn_once(self, message: str) -> None:
        if message not in self.warned:
            self.warned.add(message)
            self.log(f"tiercel: {message}")

    def _start_beside(self, beside: Source | None) -> None:
        if beside is None:
            return
        beside.start()
        self.beside = threading.Thread(target=beside.run, args=(None,), name="k8s-audit-events",
                                       daemon=True)
        self.beside.start()

    def _stop_beside(self, beside: Source | None) -> None:
        if beside is None:
            return
        beside.interrupt()
        if self.beside is not None:
            self.beside.join(10.0)
        beside.stop()
        summary = getattr(beside, "summary", None)
        if summary is not None:
            self.log(summary())

    def _start_source(self) -> None:
        assert self.source is not None
        self.source.start()
        self.started = True
        table = getattr(getattr(self.source, "enricher", None), "table", None)
        if table is not None:  # live: seeded from /proc; a table over the size shrinks at its next task
            table.max_threads = self.opts.capture.thread_table_size
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
        summary = getattr(self.source, "summary", None)
        if summary is not None:
            self.log(summary())
        stats = self.snapshot()
        if self.opts.stats:
            self.log(render_text(stats))
        for name, o in stats.outputs.items():
            if o.dropped and not self.opts.stats:  # never silent, even without --stats
                self.log(f"tiercel: output {name}: {o.dropped} of {o.offered} alerts dropped")


def run_agent(opts: RunOptions, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    return Agent(opts, out, err or sys.stderr).run()
