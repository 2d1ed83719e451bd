"""Config: the YAML file (`-c`) plus `-o key=value` overrides, validated once into typed sections.

    schema.py     the frozen dataclasses: each field's type is what its key accepts
    declare.py    what a field declares beyond its type (checks, inline groups), the key table
    yamlfile.py   the file as YAML nodes with positions; ConfigError
    overrides.py  `-o key=value` grafted into the nodes
    binding.py    nodes -> the schema, every problem with its key path and position
    load.py       load_config: the steps above in order

Problems are collected, not stopped at, and each is reported with its key path and position:

    tiercel.yaml:12:12: stdout_output.enabled: expected true or false, got 'maybe'
    -o file_output.keep_alive=x: file_output.keep_alive: expected true or false, got 'x'
"""

from tiercel.config.load import load_config
from tiercel.config.schema import (
    DEFAULT_QUEUE_CAPACITY,
    DEFAULT_RULES,
    FACILITIES,
    AppendMatch,
    AppendOutput,
    Config,
    Delivery,
    FileOutput,
    HttpOutput,
    OutputsQueue,
    ProgramOutput,
    RateLimit,
    StdoutOutput,
    SyscallEventDrops,
    SyslogOutput,
    Webserver,
)
from tiercel.config.yamlfile import ConfigError

__all__ = [
    "DEFAULT_QUEUE_CAPACITY", "DEFAULT_RULES", "FACILITIES", "AppendMatch", "AppendOutput", "Config",
    "ConfigError", "Delivery", "FileOutput", "HttpOutput", "OutputsQueue", "ProgramOutput", "RateLimit",
    "StdoutOutput", "SyscallEventDrops", "SyslogOutput", "Webserver", "load_config",
]
