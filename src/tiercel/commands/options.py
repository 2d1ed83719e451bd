"""What `tiercel run` is asked to do: its options, the config they make with the config file and -o,
the rules loaded and selected (-D/-T/-t/--priority, Falco's `rules:` list), and the syscalls those
rules need attached."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tiercel.common.errors import TiercelError
from tiercel.common.priority import NAMES
from tiercel.config import DEFAULT_RULES as CONFIG_DEFAULT_RULES
from tiercel.config import Config, load_config
from tiercel.container.registry import EngineOptions
from tiercel.events.syscalls import FD_OPTIONAL_SYSCALLS, FD_STATE_SYSCALLS, STATE_SYSCALLS, SyscallTable
from tiercel.rules import Ruleset, load_rules
from tiercel.sources.base import CaptureOptions

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
    disable_sources: list[str] = field(default_factory=list)  # --disable-source syscall|k8s_audit


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
    for notice in result.notices:
        print(f"tiercel: {notice}", file=err, flush=True)
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
