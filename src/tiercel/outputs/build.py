"""Outputs from the configuration: one per enabled `*_output` section, behind one dispatcher."""

from __future__ import annotations

import sys
from typing import IO

from tiercel.config import Config
from tiercel.outputs.base import Format, Output
from tiercel.outputs.dispatcher import Dispatcher, TokenBucket
from tiercel.outputs.file import FileOutput
from tiercel.outputs.http import HttpOutput
from tiercel.outputs.program import ProgramOutput
from tiercel.outputs.stdout import StreamOutput, TextIOOutput
from tiercel.outputs.syslog import SyslogOutput


def alert_format(cfg: Config) -> Format:
    return Format(json=cfg.json_output, include_output=cfg.json_include_output_property,
                  include_tags=cfg.json_include_tags_property,
                  falco031=cfg.json_format.lower() == "falco-0.31",
                  include_message=cfg.delivery.json_include_message_property,
                  include_output_fields=cfg.delivery.json_include_output_fields_property)


def build_outputs(cfg: Config, out: IO[str] | None = None) -> list[Output]:
    fmt = alert_format(cfg)
    outputs: list[Output] = []
    if cfg.stdout_output.enabled:
        outputs.append(_stream(cfg.stdout_output.stream, fmt, out))
    if cfg.file_output.enabled:
        outputs.append(FileOutput(cfg.file_output.filename, fmt, cfg.file_output.keep_alive))
    s = cfg.syslog_output
    if s.enabled:
        outputs.append(SyslogOutput(fmt, s.protocol, s.path, s.host, s.port, s.facility, s.app_name))
    if cfg.program_output.enabled:
        outputs.append(ProgramOutput(cfg.program_output.program, fmt, cfg.program_output.keep_alive))
    if cfg.http_output.enabled:
        outputs.append(HttpOutput(cfg.http_output, fmt))
    return outputs


def _stream(which: str, fmt: Format, out: IO[str] | None) -> Output:
    if out is not None and which == "stdout":
        try:
            return StreamOutput(out.fileno(), fmt, "stdout")
        except (OSError, ValueError, AttributeError):
            return TextIOOutput(out, fmt, "stdout")
    return StreamOutput((sys.stdout if which == "stdout" else sys.stderr).fileno(), fmt, which)


def build_dispatcher(cfg: Config, out: IO[str] | None = None) -> Dispatcher:
    rate = TokenBucket(cfg.outputs.rate, cfg.outputs.max_burst) if cfg.outputs.rate > 0 else None
    return Dispatcher(build_outputs(cfg, out), cfg.queue_capacity, rate)
