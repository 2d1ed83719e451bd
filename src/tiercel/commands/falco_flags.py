"""Falco's informational flags after `tiercel run`: each prints and exits, the agent never starts.

    -L                 every rule's name and description (JSON details with -o json_output=true)
    -l RULE            one rule's name and description
    --list [SOURCE]    the fields (-N: names only; --format text|markdown|json)
    --list-events      the event types the probe can attach
    -V FILE            validate rule files (JSON result with -o json_output=true)
    --dry-run          config and rules loaded and checked, nothing started
    --support          version, system, configuration and rule files with their digests, as JSON
    --version          the version (JSON with -o json_output=true)
    --config-schema    the configuration file's JSON Schema
    --rule-schema      a rules file's JSON Schema
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

import orjson

from tiercel.common.files import Unreadable, read_regular
from tiercel.common.safeyaml import MAX_FILE_BYTES
from tiercel.config import Config

if TYPE_CHECKING:
    from tiercel.commands.options import RunOptions


def _dump(doc: Any, out: IO[str]) -> None:
    out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")


def describe_rules(cfg: Config, only: str | None, out: IO[str]) -> int:
    """-L (every rule) or -l RULE: names and descriptions, or their details as JSON."""
    from tiercel.rules import load_rules

    ruleset, result = load_rules(cfg.rules_files)
    if result.errors:
        out.write(result.render_text() + "\n")
        return 1
    rules = [r for r in ruleset.rules if only is None or r.name == only]
    if only is not None and not rules:
        out.write(f"tiercel: no rule named '{only}'\n")
        return 1
    if cfg.json_output:  # Falco's document: rules, macros and lists with their details
        from tiercel.rules import LoadResult, rule_files
        from tiercel.rules.files.describe import describe, read_sources

        sources = read_sources(rule_files(cfg.rules_files, LoadResult()))
        _dump(describe(sources, rules, only), out)
        return 0
    width = max((len(r.name) for r in rules), default=0)
    out.write(f"{'Rule':<{width}}  Description\n{'----':<{width}}  -----------\n")
    for r in rules:
        out.write(f"{r.name:<{width}}  {' '.join(r.desc.split())}\n")
    return 0


def dry_run(cfg: Config, err: IO[str], selection: RunOptions | None = None) -> int:
    """--dry-run: config and rules loaded, selected and checked as a run would (Falco's `rules:`
    list, -D, -T, -t, --priority), every error printed; what a run would load is said; nothing
    started."""
    from tiercel.commands.options import RulesProblem, RunOptions, load

    opts = selection or RunOptions()
    if opts.priority:
        cfg = dataclasses.replace(cfg, priority=opts.priority)
    try:
        ruleset = load(cfg, opts, err)
    except RulesProblem as e:
        err.write(f"tiercel: {e}\n")
        return 1
    enabled, loaded = len(ruleset.enabled_rules()), len(ruleset.rules)
    err.write(f"tiercel: dry run: {enabled} rules enabled of {loaded} loaded; nothing started\n")
    return 0


def list_fields(source: str | None, names_only: bool, fmt: str, out: IO[str]) -> int:
    """--list [SOURCE]: the fields of one source (syscall, k8s_audit), or of both."""
    from tiercel.rules.fields.table import FieldTable

    table = FieldTable()
    sources = ["syscall", "k8s_audit"] if source is None else [source]
    if source not in (None, "syscall", "k8s_audit"):
        out.write(f"tiercel: no event source '{source}' (tiercel has syscall and k8s_audit)\n")
        return 1
    fields = list({spec.name: (spec.name, spec.type, spec.desc)
                   for s in sources for spec in table.for_source(s).fields.values()}.values())
    if names_only:
        out.write("".join(f"{n}\n" for n, _, _ in fields))
    elif fmt == "json":
        _dump([{"name": n, "type": t, "desc": d} for n, t, d in fields], out)
    elif fmt == "markdown":
        out.write("| Name | Type | Description |\n| --- | --- | --- |\n")
        out.write("".join(f"| `{n}` | {t} | {d} |\n" for n, t, d in fields))
    else:
        out.write("".join(f"{n:<30} {t:<10} {d}\n" for n, t, d in fields))
    return 0


def list_events(out: IO[str]) -> int:
    from tiercel.events.syscalls import SyscallTable

    out.write("".join(f"syscall {name}\n" for name in sorted(SyscallTable().by_name)))
    return 0


def validate(files: Sequence[Path], json_out: bool, out: TextIO) -> int:
    from tiercel.rules import validate_command

    return validate_command(list(files), json_out=json_out, out=out)


def config_schema(out: IO[str]) -> int:
    from tiercel.config.json_schema import config_schema as schema

    _dump(schema(), out)
    return 0


def rule_schema(out: IO[str]) -> int:
    from tiercel.rules.files.json_schema import rule_schema as schema

    _dump(schema(), out)
    return 0


def version_doc() -> dict[str, Any]:
    import tiercel

    return {"tiercel_version": tiercel.__version__, "engine_version": "tiercel-bcc",
            "machine": platform.machine()}


def version(json_out: bool, text: str, out: IO[str]) -> int:
    if json_out:
        _dump(version_doc(), out)
    else:
        out.write(text + "\n")
    return 0


def support(cfg: Config, out: IO[str]) -> int:
    """--support: what a bug report needs, as JSON (rule files with their SHA-256)."""
    from tiercel.rules import LoadResult, rule_files

    uname = platform.uname()
    files = []
    listed = LoadResult()
    for f in rule_files(cfg.rules_files, listed):
        try:  # through the one safe reader: a FIFO or /dev/zero named as a rules file is refused
            digest = hashlib.sha256(read_regular(f, MAX_FILE_BYTES)).hexdigest()
        except Unreadable as e:
            digest = f"unreadable: {e.why}"
        files.append({"name": str(f), "sha256sum": digest})
    files += [{"name": d.span.file if d.span else "", "sha256sum": f"unreadable: {d.message}"}
              for d in listed.errors]   # missing, or a name the system refuses
    try:
        conf_text = read_regular(cfg.path, MAX_FILE_BYTES).decode(errors="replace") if cfg.path else ""
    except Unreadable as e:  # it was read a moment ago; it may have changed since
        conf_text = f"unreadable: {e.why}"
    _dump({"version": version_doc()["tiercel_version"],
           "system_info": {"sysname": uname.system, "nodename": uname.node, "release": uname.release,
                           "version": uname.version, "machine": uname.machine},
           "cmdline": "", "config": conf_text, "config_warnings": list(cfg.warnings),
           "rules_files": files}, out)
    return 0
