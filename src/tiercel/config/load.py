"""load_config: the file's nodes, the `-o` overrides grafted in, bound to Config, rules paths resolved."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yaml.nodes import MappingNode

from tiercel.config.binding import bind
from tiercel.config.overrides import apply_override
from tiercel.config.schema import Config
from tiercel.config.yamlfile import ConfigError, empty_mapping, read_file, where


def load_config(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, override, validate. Raises ConfigError listing every problem found."""
    errors: list[str] = []
    root = read_file(Path(path)) if path is not None else None
    if root is None:
        root = empty_mapping("defaults")
    if not isinstance(root, MappingNode):
        raise ConfigError(f"{where(root)}: the configuration must be a mapping of keys")
    for arg in overrides:
        apply_override(root, arg, errors)
    cfg = bind(Config, root, errors)
    if errors:
        raise ConfigError("invalid configuration (nothing was started):\n  " + "\n  ".join(errors))
    cfg = dataclasses.replace(cfg, path=str(path) if path is not None else None)
    return _resolve_rules(cfg, Path(path).resolve().parent if path is not None else Path.cwd())


def _resolve_rules(cfg: Config, base: Path) -> Config:
    """Relative rules_files are relative to the config file, so a shipped config works from anywhere."""
    files = tuple(str(p if Path(p).is_absolute() else base / p) for p in cfg.rules_files)
    return dataclasses.replace(cfg, rules_files=files)
