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

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="tiercel: runtime security for Linux hosts and containers (Falco rules).")


def _fail(e: TiercelError) -> None:
    print(f"tiercel: {e}", file=sys.stderr)
    raise typer.Exit(e.exit_code)


@app.command()
def capture(
    json_out: Annotated[bool, typer.Option("--json", help="print each event as a JSON line")] = True,
    duration: Annotated[float | None, typer.Option(help="stop after S seconds")] = None,
    filter_pid: Annotated[list[int] | None, typer.Option("--filter-pid",
                          help="only events of this process and its descendants")] = None,
    kernel_headers: Annotated[Path | None, typer.Option("--kernel-headers")] = None,
    host_proc: Annotated[Path, typer.Option("--host-proc")] = Path("/proc"),
) -> None:
    """Print every decoded, enriched event (like `sysdig -j`): the debugging view."""
    from tiercel.app import CaptureOptions, run_capture

    opts = CaptureOptions(duration=duration, filter_pids=set(filter_pid or ()),
                          kernel_headers=str(kernel_headers) if kernel_headers else None,
                          host_proc=host_proc)
    try:
        raise typer.Exit(run_capture(opts))
    except TiercelError as e:
        _fail(e)


@app.command()
def validate(
    rules: Annotated[list[Path], typer.Argument(help="rule files or directories")],
) -> None:
    """Check rule files; print every error and warning with file:line:col; exit 1 on error."""
    try:
        from tiercel.rules.validate import validate_command
    except ImportError:
        print("tiercel: the rules engine is not built yet", file=sys.stderr)
        raise typer.Exit(2) from None
    raise typer.Exit(validate_command(rules))


@app.command("list-fields")
def list_fields(
    json_out: Annotated[bool, typer.Option("--json", help="JSON instead of text")] = False,
) -> None:
    """Every field with its type and description."""
    try:
        from tiercel.rules.commands import list_fields_command
    except ImportError:
        print("tiercel: the rules engine is not built yet", file=sys.stderr)
        raise typer.Exit(2) from None
    raise typer.Exit(list_fields_command(json_out))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
