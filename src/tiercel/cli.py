"""Command line: thin. Each command builds its inputs and hands them to the stage that does the work.

Short flags mean what they mean for `falco`, so Falco users (and Falco's regression suite) can
drive tiercel directly.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tiercel.common.errors import TiercelError

if TYPE_CHECKING:
    from tiercel.commands.options import RunOptions
    from tiercel.config import Config
from tiercel.sources.base import CaptureOptions

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="tiercel: runtime security for Linux hosts and containers (Falco rules).")


def _version_text() -> str:
    """tiercel's version and commit, and the BCC library and kernel (with its headers) found here."""
    import platform

    import tiercel

    try:  # written by ci/build-binary.sh into the binary
        from tiercel_build_info import COMMIT
    except ImportError:
        import subprocess

        try:
            COMMIT = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                    text=True, cwd=Path(__file__).resolve().parent, timeout=5,
                                    check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            COMMIT = "unknown"
    try:
        import bcc  # noqa: F401  (importing it loads libbcc.so.0)
        from bcc.version import __version__ as bcc_python

        bcc_text = f"{bcc_python} (libbcc.so.0 loaded)"
    except Exception as e:  # absent module, or the library it loads
        bcc_text = f"not found ({type(e).__name__}: {e})"
    from tiercel.common.errors import EnvironmentProblem
    from tiercel.probe.loader import find_headers

    try:
        headers = str(find_headers(None).resolve())
    except EnvironmentProblem:
        headers = "not found"
    return (f"tiercel {tiercel.__version__} (commit {COMMIT})\n"
            f"bcc: {bcc_text}\n"
            f"kernel: {platform.release()} ({platform.machine()}), headers: {headers}")


def _version_callback(value: bool) -> None:
    if value:
        print(_version_text())
        raise typer.Exit(0)


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version_callback,
                                          help="print the version, commit, BCC and kernel found")] = False,
) -> None:
    """tiercel: runtime security for Linux hosts and containers (Falco rules)."""


def _fail(e: TiercelError) -> None:
    print(f"tiercel: {e}", file=sys.stderr)
    raise typer.Exit(e.exit_code)


def _import_failed(what: str, e: ImportError) -> typer.Exit:
    """A part of tiercel that cannot be imported (a missing dependency, a broken install): the
    real cause, in one line."""
    print(f"tiercel: cannot load {what}: {type(e).__name__}: {e}", file=sys.stderr)
    return typer.Exit(2)


@app.command()
def capture(
    json_out: Annotated[bool | None, typer.Option(
        "--json/--no-json", help="each event as a JSON line, or as a text line, on stdout "
        "(default: JSON, or nothing with -w)")] = None,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    filter_pid: Annotated[list[int] | None, typer.Option("--filter-pid",
                          help="only events of this process and its descendants")] = None,
    kernel_headers: Annotated[Path | None, typer.Option("--kernel-headers")] = None,
    host_proc: Annotated[Path, typer.Option("--host-proc")] = Path("/proc"),
    write: Annotated[Path | None, typer.Option("-w", "--write",
                     help="record to this .scap file (readable by sysdig and run -e)")] = None,
) -> None:
    """Print every decoded, enriched event (like `sysdig -j`), or record them with -w FILE.scap."""
    try:
        from tiercel.commands.capture import run_capture
    except ImportError as e:
        raise _import_failed("the capture command", e) from None

    opts = CaptureOptions(duration=duration, filter_pids=set(filter_pid or ()),
                          kernel_headers=str(kernel_headers) if kernel_headers else None,
                          host_proc=host_proc)
    try:
        raise typer.Exit(run_capture(opts, write=write, json=json_out))
    except TiercelError as e:
        _fail(e)


@app.command()
def run(
    rules: Annotated[list[Path] | None, typer.Option(
        "-r", "--rules", help="rule file or directory (repeatable)")] = None,
    disable: Annotated[list[str] | None, typer.Option(
        "-D", help="disable rules whose name contains this")] = None,
    disable_tag: Annotated[list[str] | None, typer.Option("-T", help="disable rules with this tag")] = None,
    only_tag: Annotated[list[str] | None, typer.Option("-t", help="run only rules with this tag")] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="minimum rule priority")] = None,
    trace: Annotated[Path | None, typer.Option("-e", help="replay this .scap capture")] = None,
    all_events: Annotated[bool, typer.Option("-A", help="include events Falco skips by default")] = False,
    json_out: Annotated[bool | None, typer.Option(
        "--json/--no-json", help="JSON alerts or text lines (default: the config's json_output)")] = None,
    stats: Annotated[bool, typer.Option("--stats", help="print a summary at the end")] = False,
    config: Annotated[Path | None, typer.Option(
        "-c", "--config", help="configuration file (default: built-in defaults, as tiercel.yaml)")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "-o", "--option", help="override a config key: -o file_output.enabled=true (repeatable)")] = None,
    match_all: Annotated[bool, typer.Option("--all-matches", help="report every matching rule")] = False,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    kernel_headers: Annotated[Path | None, typer.Option("--kernel-headers")] = None,
    host_proc: Annotated[Path | None, typer.Option(
        "--host-proc", help="default: $HOST_ROOT/proc (Falco's HOST_ROOT), else /proc")] = None,
    list_rules: Annotated[bool, typer.Option(
        "-L", help="every rule's name and description, and exit")] = False,
    describe: Annotated[str | None, typer.Option("-l", help="this rule's description, and exit")] = None,
    list_source: Annotated[str | None, typer.Option(
        "--list", help="the fields (of SOURCE: syscall or k8s_audit), and exit", flag_value="",
        is_flag=False)] = None,
    names_only: Annotated[bool, typer.Option("-N", help="with --list: field names only")] = False,
    list_format: Annotated[str, typer.Option(
        "--format", help="with --list: text, markdown or json")] = "text",
    list_events: Annotated[bool, typer.Option("--list-events", help="the event types, and exit")] = False,
    validate_files: Annotated[list[Path] | None, typer.Option(
        "-V", "--validate", help="validate this rules file and exit (repeatable)")] = None,
    seconds: Annotated[float | None, typer.Option("-M", help="stop after SECONDS (as --duration)")] = None,
    unbuffered: Annotated[bool, typer.Option(
        "-U", "--unbuffered", help="accepted: every output writes each alert at once")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="load config and rules, start nothing")] = False,
    support: Annotated[bool, typer.Option(
        "--support", help="support information as JSON, and exit")] = False,
    version: Annotated[bool, typer.Option(
        "--version", help="the version (JSON with json_output=true)")] = False,
    pidfile: Annotated[Path | None, typer.Option(
        "-P", "--pidfile", help="write the agent's pid here")] = None,
    config_schema: Annotated[bool, typer.Option(
        "--config-schema", help="the configuration file's JSON Schema, and exit")] = False,
    rule_schema: Annotated[bool, typer.Option(
        "--rule-schema", help="a rules file's JSON Schema, and exit")] = False,
    cri: Annotated[list[str] | None, typer.Option(
        "--cri", help="CRI runtime socket to ask for container and pod metadata (repeatable, tried in "
        "order; replaces container_engines.cri.sockets)")] = None,
    disable_source: Annotated[list[str] | None, typer.Option(
        "--disable-source", help="do not run this event source: syscall or k8s_audit (repeatable)")] = None,
) -> None:
    """Watch the host live (or replay a capture with -e) and print an alert for each rule match."""
    try:
        from tiercel.commands.agent import run_agent
        from tiercel.commands.options import RunOptions
    except ImportError as e:
        raise _import_failed("the agent", e) from None

    if all_events:  # Falco's -A: stop dropping the high-volume I/O events it skips by default
        print("tiercel: -A changes nothing: tiercel never skips events it captures (it does not "
              "capture Falco's high-volume I/O events: read, write, ...)", file=sys.stderr)
    del unbuffered  # every output already writes each alert as it comes
    if host_proc is None:
        host_proc = Path(os.environ.get("HOST_ROOT", "") + "/proc")
    if seconds is not None:
        duration = seconds
    if config_schema or rule_schema:
        from tiercel.commands import falco_flags

        raise typer.Exit(falco_flags.config_schema(sys.stdout) if config_schema
                         else falco_flags.rule_schema(sys.stdout))
    if (list_rules or describe is not None or list_source is not None or list_events
            or validate_files or support or version or dry_run):
        raise typer.Exit(_falco_flag(
            config, list(option or ()), list(rules or ()), json_out, list_rules=list_rules,
            describe=describe, list_source=list_source, names_only=names_only, list_format=list_format,
            list_events=list_events, validate_files=validate_files, support=support, version=version,
            dry_run=dry_run, selection=RunOptions(disable=list(disable or ()),
                                                  disable_tags=list(disable_tag or ()),
                                                  only_tags=list(only_tag or ()), priority=priority)))
    if pidfile is not None:
        pidfile.write_text(f"{os.getpid()}\n")
    capture_opts = CaptureOptions(duration=duration, host_proc=host_proc,
                                  kernel_headers=str(kernel_headers) if kernel_headers else None)
    opts = RunOptions(rules=list(rules or ()), disable=list(disable or ()),
                      disable_tags=list(disable_tag or ()), only_tags=list(only_tag or ()),
                      priority=priority, json=json_out, stats=stats, match_all=match_all,
                      trace=trace, capture=capture_opts, config=config, overrides=list(option or ()),
                      cri=list(cri or ()), disable_sources=list(disable_source or ()))
    try:
        raise typer.Exit(run_agent(opts))
    except TiercelError as e:
        _fail(e)
    finally:
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)


def _falco_flag(config: Path | None, option: list[str], rules: list[Path], json_out: bool | None,
                **flags: object) -> int:
    """Falco's informational flags: each prints and exits (tiercel.commands.falco_flags)."""
    import dataclasses

    from tiercel.commands import falco_flags
    from tiercel.config import load_config

    out = sys.stdout
    if flags["list_events"]:
        return falco_flags.list_events(out)
    if flags["list_source"] is not None:
        if flags["list_source"] == "-N":  # `--list -N`: the option took -N as its SOURCE
            flags["list_source"], flags["names_only"] = "", True
        fmt = str(flags["list_format"])
        if fmt not in ("text", "markdown", "json"):
            print(f"tiercel: --format {fmt}: one of text, markdown, json", file=sys.stderr)
            return 2
        return falco_flags.list_fields(str(flags["list_source"]) or None, bool(flags["names_only"]),
                                       fmt, out)
    try:
        cfg = load_config(config, option)
    except TiercelError as e:
        _fail(e)
    if rules:
        cfg = dataclasses.replace(cfg, rules_files=tuple(str(p) for p in rules))
    # JSON when asked for (--json, -o json_output=true, or a config file's key), as Falco whose
    # default is text; tiercel's own default (JSON alerts) does not turn these listings into JSON
    explicit = config is not None or any(o.partition("=")[0].strip() == "json_output" for o in option)
    as_json = json_out if json_out is not None else (cfg.json_output and explicit)
    cfg = dataclasses.replace(cfg, delivery=dataclasses.replace(cfg.delivery, json_output=as_json))
    for w in cfg.warnings:
        print(f"tiercel: {w}", file=sys.stderr)
    if flags["version"]:
        return falco_flags.version(as_json, _version_text(), out)
    if flags["support"]:
        return falco_flags.support(cfg, out)
    validate_files = flags["validate_files"]
    if isinstance(validate_files, list) and validate_files:
        return falco_flags.validate(validate_files, as_json, out)
    if flags["list_rules"] or flags["describe"] is not None:
        describe = flags["describe"]
        return falco_flags.describe_rules(cfg, describe if isinstance(describe, str) else None, out)
    from tiercel.commands.options import RunOptions

    selection = flags["selection"]
    return _dry_run(cfg, selection if isinstance(selection, RunOptions) else RunOptions())


def _dry_run(cfg: Config, selection: RunOptions) -> int:
    """--dry-run: config and rules loaded and checked (every error printed), nothing started."""
    from tiercel.commands import falco_flags

    return falco_flags.dry_run(cfg, sys.stderr, selection)


@app.command()
def validate(
    rules: Annotated[list[Path], typer.Argument(help="rule files or directories")],
) -> None:
    """Check rule files; print every error and warning with file:line:col; exit 1 on error."""
    try:
        from tiercel.rules import validate_command
    except ImportError as e:
        raise _import_failed("the rules engine", e) from None
    raise typer.Exit(validate_command(rules))


@app.command()
def explain(
    rule: Annotated[str, typer.Argument(help="the rule's name")],
    rules: Annotated[list[Path] | None, typer.Option(
        "-r", "--rules", help="rule file or directory (repeatable; default: the shipped rules)")] = None,
    trace: Annotated[Path | None, typer.Option("-e", help="a .scap capture")] = None,
    events_file: Annotated[Path | None, typer.Option(
        "--events", help="events as JSON field maps (an object, a list, or JSON lines)")] = None,
    event: Annotated[list[int] | None, typer.Option(
        "--event", help="explain this evt.num (repeatable)")] = None,
    all_events: Annotated[bool, typer.Option(
        "--all-events", help="every event of the rule's event types, matched or not")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
) -> None:
    """Why RULE matched an event or why not: its condition as a tree, each part's value and the
    field values it read (default: the first 5 events it matched)."""
    try:
        from tiercel.commands.explaining import run_explain
        from tiercel.config.schema import DEFAULT_RULES
    except ImportError as e:
        raise _import_failed("the rules engine", e) from None
    try:
        raise typer.Exit(run_explain(rule, rules or [Path(DEFAULT_RULES)], capture=trace,
                                     events_file=events_file, nums=list(event or ()),
                                     all_events=all_events, as_json=json_out, out=sys.stdout))
    except TiercelError as e:
        _fail(e)


@app.command("test")
def rule_unit_tests(
    paths: Annotated[list[Path], typer.Argument(
        help="rules directories (their tests/*.yaml), rule files (tests/NAME beside them) or test files")],
) -> None:
    """Run rule unit tests (events as field maps, or a capture's events, and the rules expected to
    fire and not to fire); every failure with file:line:col; exit 1 on a failure."""
    try:
        from tiercel.commands.rule_tests import run_tests
    except ImportError as e:
        raise _import_failed("the rules engine", e) from None
    raise typer.Exit(run_tests(paths, sys.stdout))


@app.command("list-fields")
def list_fields(
    json_out: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
    source: Annotated[str, typer.Option(
        "--source", help="the event source: syscall or k8s_audit")] = "syscall",
) -> None:
    """Every field with its type and description."""
    try:
        from tiercel.rules import list_fields_command
    except ImportError as e:
        raise _import_failed("the rules engine", e) from None
    raise typer.Exit(list_fields_command(json_out, source=source))


@app.command()
def generate(
    actions: Annotated[list[str] | None, typer.Argument(help="actions to perform (see --list)")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="list the actions and the rule each triggers")] = False,
    all_: Annotated[bool, typer.Option("--all", help="perform every action")] = False,
    sleep: Annotated[float, typer.Option("--sleep", help="seconds to wait between actions")] = 0.0,
    target: Annotated[str | None, typer.Option(
        "--target", help="HOST:PORT for outbound actions (default: a test host made for the run)")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="read the agent's JSON alerts on stdin; report whether each action alerted "
        "(tiercel run -o json_output=true | tiercel generate --all --check)")] = False,
    maturity: Annotated[str | None, typer.Option(
        "--maturity", help="only actions for stable or incubating rules")] = None,
    rules: Annotated[list[Path] | None, typer.Option(
        "-r", "--rules", help="with --check: the agent's rule file or directory, as for run")] = None,
    config: Annotated[Path | None, typer.Option(
        "-c", "--config", help="with --check: the agent's configuration file, as for run")] = None,
    option: Annotated[list[str] | None, typer.Option(
        "-o", "--option", help="with --check: the agent's config overrides, as for run")] = None,
    disable: Annotated[list[str] | None, typer.Option(
        "-D", help="with --check: the agent's -D (rules disabled by name)")] = None,
    disable_tag: Annotated[list[str] | None, typer.Option(
        "-T", help="with --check: the agent's -T (rules disabled by tag)")] = None,
    only_tag: Annotated[list[str] | None, typer.Option(
        "-t", help="with --check: the agent's -t (only rules with a tag)")] = None,
    priority: Annotated[str | None, typer.Option(
        "--priority", help="with --check: the agent's --priority")] = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", help="with --check: seconds to wait for each action's alert")] = 10.0,
    ready_timeout: Annotated[float, typer.Option(
        "--ready-timeout", help="with --check: seconds to wait for the agent's first alert")] = 60.0,
) -> None:
    """Perform suspicious actions that the default rules detect (safely; everything is undone)."""
    from tiercel.generator.runner import GeneratorError, listing, run_actions, select

    try:
        chosen = select(actions or (), all_ or (list_ and not actions), maturity)
        if list_:
            print(listing(chosen))
            raise typer.Exit(0)
        if not chosen:
            print("tiercel generate: name actions or use --all (see --list)", file=sys.stderr)
            raise typer.Exit(2)
        host_port = None
        if target:
            host, _, port = target.rpartition(":")
            host_port = (host, int(port))
        if not check:
            raise typer.Exit(run_actions(chosen, sleep=sleep, target=host_port))
        from tiercel.commands.options import RunOptions
        from tiercel.generator.check import check_stdin

        loaded = _agent_rules(RunOptions(
            rules=list(rules or ()), disable=list(disable or ()), disable_tags=list(disable_tag or ()),
            only_tags=list(only_tag or ()), priority=priority, config=config,
            overrides=list(option or ())))
        raise typer.Exit(check_stdin(chosen, loaded, timeout=timeout, ready_timeout=ready_timeout,
                                     sleep=sleep, target=host_port))
    except (GeneratorError, ValueError) as e:
        print(f"tiercel generate: {e}", file=sys.stderr)
        raise typer.Exit(2) from None


def _agent_rules(opts: RunOptions) -> set[str]:
    """The names of the rules `tiercel run` runs with these options: its own resolution (config,
    -r, `rules:` selection, -D/-T/-t, priority). Rule file errors are printed; warnings are the
    agent's to say."""
    import io

    from tiercel.commands.options import effective_config, load

    err = io.StringIO()
    try:
        ruleset = load(effective_config(opts), opts, err)
    except TiercelError as e:
        sys.stderr.write(err.getvalue())
        print(f"tiercel generate: {e}", file=sys.stderr)
        raise typer.Exit(2) from None
    return {r.name for r in ruleset.enabled_rules()}


def main() -> None:
    app()


if __name__ == "__main__":
    main()
