"""`tiercel capture`: the live source's events, as JSON lines, as text lines or into a .scap file.

    --json (the default without -w)   one JSON object per event on stdout (like `sysdig -j`)
    --no-json                         one text line per event on stdout (like `sysdig`)
    -w FILE.scap                      record to FILE (readable by sysdig and `run -e`); with --json,
                                      the JSON lines on stdout as well

Start-up steps: summary (printed last), stdout and the .scap writer, the stop signals, the source;
then capture until the duration is over or SIGINT/SIGTERM. Teardown stops the source (draining
the ring buffer into the sinks), flushes stdout, closes the writer and prints the counts.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

import orjson

from tiercel.commands.app import Step, on_stop_signals, run_steps
from tiercel.events.jsonview import EventView
from tiercel.events.model import Event
from tiercel.sources.base import CaptureOptions, Sink
from tiercel.sources.live import LiveSource

# sysdig's default line, with evt.time for its evt.outputtime
TEXT_LINE = "%evt.num %evt.time %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
FLUSH_EVERY_S = 0.2


def stdout_sink(stream: IO[bytes], as_json: bool) -> Sink:
    """Each event as a JSON line, or as a text line, on `stream`."""
    from tiercel.rules import FieldTable, compile_output

    table = FieldTable()
    if as_json:
        view = EventView(table)

        def json_line(ev: Event) -> None:
            stream.write(orjson.dumps(view(ev), default=str) + b"\n")
        return json_line
    text = compile_output(TEXT_LINE, table)

    def text_line(ev: Event) -> None:
        stream.write(text.render(ev).encode(errors="backslashreplace") + b"\n")
    return text_line


def fan_out(sinks: list[Sink]) -> Sink:
    if len(sinks) == 1:
        return sinks[0]

    def every(ev: Event) -> None:
        for sink in sinks:
            sink(ev)
    return every


def run_capture(opts: CaptureOptions, out: IO[bytes] | None = None, write: Path | None = None,
                json: bool | None = None, err: IO[str] | None = None) -> int:
    """`json`: None prints JSON lines unless writing a file; True always; False text lines, or
    nothing besides the file."""
    stream, err = out or sys.stdout.buffer, err or sys.stderr
    sinks: list[Sink] = []
    writer = None
    if write is not None:
        from tiercel.scap.writer import ScapWriter
        writer = ScapWriter(write)
        sinks.append(writer.write)
    if json or (write is None and json is None):
        sinks.append(stdout_sink(stream, True))
    elif write is None:
        sinks.append(stdout_sink(stream, False))
    source = LiveSource(opts, fan_out(sinks))
    stopping = threading.Event()
    started = False

    def summary() -> None:
        if started:
            print(source.counters.line(), file=err)

    def close_outputs() -> None:
        try:
            stream.flush()
        finally:
            if writer is not None:
                writer.close()  # the process and fd lists go before the events: written at the end

    def stop_signal() -> None:
        stopping.set()
        source.interrupt()

    def start_source() -> None:
        nonlocal started
        source.start()
        started = True
        print(f"tiercel: capturing ({len(source.attached)} syscalls attached, "
              f"{len(source.enricher.table)} processes known)", file=err, flush=True)

    def loop() -> None:
        while not stopping.is_set():
            source.run(FLUSH_EVERY_S if opts.duration is None else opts.duration)
            stream.flush()
            if opts.duration is not None:
                break

    steps = [Step("summary", stop=summary),            # first, so that it is printed last
             Step("outputs", stop=close_outputs),
             Step("signals", lambda: on_stop_signals(stop_signal)),
             Step("source", start_source, source.stop)]
    return 0 if run_steps(steps, loop, _logger(err)) else 1


def _logger(err: IO[str]) -> Callable[[str], None]:
    return lambda line: print(line, file=err, flush=True)
