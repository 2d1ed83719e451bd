"""Command line: thin. Each command builds its inputs and hands them to the stage that does the work.

Short flags mean what they mean for `falco`, so Falco users (and Falco's regression suite) can
drive tiercel directly.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tiercel.errors import TiercelError
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
    from tiercel.errors import EnvironmentProblem
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
        from tiercel.capture import run_capture
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
    host_proc: Annotated[Path, typer.Option("--host-proc")] = Path("/proc"),
) -> None:
    """Watch the host live (or replay a capture with -e) and print an alert for each rule match."""
    try:
        from tiercel.agent import RunOptions, run_agent
    except ImportError as e:
        raise _import_failed("the agent", e) from None

    # -A is accepted for Falco's command lines: tiercel never drops the high-volume I/O events
    # Falco skips by default, because it does not capture them yet.
    del all_events
    capture_opts = CaptureOptions(duration=duration, host_proc=host_proc,
                                  kernel_headers=str(kernel_headers) if kernel_headers else None)
    opts = RunOptions(rules=list(rules or ()), disable=list(disable or ()),
                      disable_tags=list(disable_tag or ()), only_tags=list(only_tag or ()),
                      priority=priority, json=json_out, stats=stats, match_all=match_all,
                      trace=trace, capture=capture_opts, config=config, overrides=list(option or ()))
    try:
        raise typer.Exit(run_agent(opts))
    except TiercelError as e:
        _fail(e)


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


@app.command("list-fields")
def list_fields(
    json_out: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
) -> None:
    """Every field with its type and description."""
    try:
        from tiercel.rules import list_fields_command
    except ImportError as e:
        raise _import_failed("the rules engine", e) from None
    raise typer.Exit(list_fields_command(json_out))


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
        "--check", help="read the agent's JSON alerts on stdin; report whether each action alerted")] = False,
    maturity: Annotated[str | None, typer.Option(
        "--maturity", help="only actions for stable or incubating rules")] = None,
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
        raise typer.Exit(run_actions(chosen, sleep=sleep, target=host_port, check=check))
    except (GeneratorError, ValueError) as e:
        print(f"tiercel generate: {e}", file=sys.stderr)
        raise typer.Exit(2) from None


def main() -> None:
    app()


if __name__ == "__main__":
    main()
