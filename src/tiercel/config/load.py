"""load_config: the file's nodes, its `config_files` merged in, the `-o` overrides grafted in, bound to
Config, rules paths resolved."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.errors import printable
from tiercel.config.binding import bind
from tiercel.config.overrides import apply_override
from tiercel.config.schema import Config
from tiercel.config.yamlfile import ConfigError, empty_mapping, read_file, where


def load_config(path: Path | str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read, include, override, validate. Raises ConfigError listing every problem found; the Falco
    keys tiercel ignores are in the result's `warnings`."""
    errors: list[str] = []
    warnings: list[str] = []
    root = read_file(Path(path)) if path is not None else None
    if root is None:
        root = empty_mapping("defaults")
    if not isinstance(root, MappingNode):
        raise ConfigError(f"{where(root)}: the configuration must be a mapping of keys")
    base = Path(path).resolve().parent if path is not None else Path.cwd()
    _include(root, base, errors, warnings)
    for arg in overrides:
        apply_override(root, arg, errors)
    cfg = bind(Config, root, errors, warnings)
    if errors:
        raise ConfigError("invalid configuration (nothing was started):\n  "
                          + "\n  ".join(printable(e) for e in errors))
    given = {str(k.value) for k, _ in root.value}
    if cfg.rules_file is not None and "rules_files" not in given:  # Falco's older name
        old = cfg.rules_file
        cfg = dataclasses.replace(cfg, rules_files=(old,) if isinstance(old, str) else old)
    cfg = dataclasses.replace(cfg, path=str(path) if path is not None else None,
                              warnings=tuple(dict.fromkeys(warnings)))
    return _resolve_rules(cfg, base)


def _include(root: MappingNode, base: Path, errors: list[str], warnings: list[str]) -> None:
    """Falco's `config_files`: each file (a directory's files in name order) read in turn, its keys
    replacing the same keys before it. Included files' own `config_files` are not followed (as Falco)."""
    listed = _value(root, "config_files")
    if listed is None:
        return
    items = listed.value if isinstance(listed, SequenceNode) else [listed]
    for item in items:
        if not isinstance(item, ScalarNode):
            continue  # the binding reports the wrong shape
        p = Path(item.value)
        p = p if p.is_absolute() else base / p
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix in (".yaml", ".yml"))
        elif p.exists():
            files = [p]
        else:
            warnings.append(f"{where(item)}: config_files: {p} does not exist; skipped")
            continue
        for f in files:
            _merge(root, f, errors, warnings)


def _merge(root: MappingNode, file: Path, errors: list[str], warnings: list[str]) -> None:
    try:
        node = read_file(file)
    except ConfigError as e:
        errors.append(str(e))
        return
    if node is None:
        return
    if not isinstance(node, MappingNode):
        errors.append(f"{where(node)}: the configuration must be a mapping of keys")
        return
    for k, v in node.value:
        if k.value == "config_files":
            warnings.append(f"{where(k)}: config_files: not followed in an included file (as Falco)")
            continue
        for i, (rk, _) in enumerate(root.value):
            if rk.value == k.value:
                root.value[i] = (k, v)
                break
        else:
            root.value.append((k, v))


def _value(root: MappingNode, name: str) -> Node | None:
    return next((v for k, v in root.value if k.value == name), None)


def _resolve_rules(cfg: Config, base: Path) -> Config:
    """Relative rules_files are relative to the config file, so a shipped config works from anywhere."""
    files = tuple(str(p if Path(p).is_absolute() else base / p) for p in cfg.rules_files)
    return dataclasses.replace(cfg, rules_files=files)
