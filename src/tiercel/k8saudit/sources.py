"""Which k8s_audit source `tiercel run` runs, and whether the syscall source runs beside it.

    -e FILE.json                         the file's events, alone (Falco 0.31's replay)
    load_plugins: [k8saudit, ...]        the webhook (or the file) its open_params name
    --disable-source syscall             no syscall source: the k8s_audit source alone
    engine.kind: nodriver                the same
    --disable-source k8s_audit           no k8s_audit source, whatever the plugins say
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tiercel.common.errors import TiercelError
from tiercel.config import Config
from tiercel.k8saudit.follow import AuditLogFollower
from tiercel.k8saudit.replay import AuditFileSource, is_audit_file
from tiercel.k8saudit.settings import audit_settings
from tiercel.k8saudit.source import AuditWebhookSource
from tiercel.sources.base import Sink, Source

SOURCES = ("syscall", "k8s_audit")
Log = Callable[[str], None]


def audit_trace(trace: Path | None, sink: Sink, log: Log) -> Source | None:
    """-e naming a JSON file of audit events: its replay (a .scap capture: None)."""
    if trace is None or not is_audit_file(trace):
        return None
    return AuditFileSource(trace, sink, log)


def audit_source(cfg: Config, disabled: list[str], sink: Sink, log: Log,
                 notice: Log) -> tuple[bool, Source | None]:
    """(whether the syscall source runs, the k8s_audit source or None). TiercelError when a name
    is not a source, or when neither source would run."""
    unknown = [s for s in disabled if s not in SOURCES]
    if unknown:
        raise TiercelError(f"--disable-source {unknown[0]}: not an event source (one of "
                           f"{', '.join(SOURCES)})")
    syscall_on = "syscall" not in disabled and cfg.engine.kind != "nodriver"
    settings = audit_settings(cfg)
    for n in settings.notices if settings is not None else ():
        notice(n)
    source: Source | None = None
    if settings is not None and "k8s_audit" not in disabled:
        if settings.webhook is not None:
            source = AuditWebhookSource(settings.webhook, sink)
        elif settings.file is not None and settings.follow:
            source = AuditLogFollower(settings.file, sink, log)
        elif settings.file is not None:
            source = AuditFileSource(settings.file, sink, log)
    if not syscall_on and source is None:
        why = "--disable-source syscall" if "syscall" in disabled else "engine.kind: nodriver"
        raise TiercelError(f"no event source to run: the syscall source is off ({why}) and the "
                           "k8s_audit source is not on (load_plugins: [k8saudit, json])")
    return syscall_on, source
