"""load_config: the file's nodes, its `config_files` merged in, the `-o` overrides grafted in, bound to
Config, rules paths resolved."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tiercel.common.errors import printable
from tiercel.config.binding import bind
from tiercel.config.overrides import apply_overrides
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
    included = [arg for arg in overrides if _sets_config_files(arg)]
    # as Falco: `-o config_files=...` is applied before the files are included, the rest after
    apply_overrides(root, included, errors)
    _include(root, base, errors, warnings)
    apply_overrides(root, [arg for arg in overrides if not _sets_config_files(arg)], errors)
    cfg = bind(Config, root, errors, warnings)
    if errors:
        raise ConfigError("invalid configuration (nothing was started):\n  "
                          + "\n  ".join(printable(e) for e in errors))
    given = {str(k.value) for k, _ in root.value}
    if cfg.rules_file is not None and "rules_files" not in given:  # Falco's older name
        old = cfg.rules_file
        cfg = dataclasses.replace(cfg, rules_files=(old,) if isinstance(old, str) else old)
    cfg = dataclasses.replace(cfg, path=str(path) if path is not None else None,
                              warnings=tuple(dict.fromkeys(map(printable, warnings))))
    return _resolve_rules(cfg, base)


MAX_INCLUDED = 1000   # files merged from config_files in all (a directory of 100,000 is refused)


def _include(root: MappingNode, base: Path, errors: list[str], warnings: list[str]) -> None:
    """Falco's `config_files`: each file (a directory's .yaml/.yml files in name order) read in turn,
    its keys replacing the same keys before it. Included files' own `config_files` are not followed
    (as Falco). A path that does not exist is skipped with a warning; one that cannot be read (a
    loop of links, too long a name, a FIFO) is an error."""
    listed = _value(root, "config_files")
    if listed is None:
        return
    items = listed.value if isinstance(listed, SequenceNode) else [listed]
    files: list[Path] = []
    for item in items:
        if not isinstance(item, ScalarNode) or item.tag.endswith(":null"):
            continue  # the binding reports the wrong shape
        if not item.value:
            errors.append(f"{where(item)}: config_files: an empty path (it would name the directory "
                          "of the configuration file itself)")
            continue
        p = Path(item.value)
        p = p if p.is_absolute() else base / p
        try:
            is_dir = stat.S_ISDIR(os.stat(p).st_mode)
        except FileNotFoundError:
            warnings.append(f"{where(item)}: config_files: {p} does not exist; skipped")
            continue
        except (OSError, ValueError) as e:   # ValueError: a NUL byte in the name
            errors.append(f"{where(item)}: config_files: cannot read {p}: {_why(e)}")
            continue
        files += _directory_files(p, item, errors) if is_dir else [p]
    if len(files) > MAX_INCLUDED:
        errors.append(f"{where(listed)}: config_files: more than {MAX_INCLUDED} files to include")
        return
    for f in files:
        _merge(root, f, errors, warnings)


def _directory_files(d: Path, item: Node, errors: list[str]) -> list[Path]:
    found: list[Path] = []
    try:
        with os.scandir(d) as entries:
            for e in entries:
                if e.name.endswith((".yaml", ".yml")) and e.is_file():
                    found.append(Path(e.path))
                    if len(found) > MAX_INCLUDED:
                        break
    except OSError as e:
        errors.append(f"{where(item)}: config_files: cannot read the directory {d}: {_why(e)}")
        return []
    return sorted(found)


def _why(e: Exception) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or str(e)


def _merge(root: MappingNode, file: Path, errors: list[str], warnings: list[str]) -> None:
    try:
        node = read_file(file)
    except ConfigError as e:  # its problems one a line, as the main file's (not one escaped line)
        lines = str(e).splitlines()
        errors += [line.strip() for line in lines[1:]] if len(lines) > 1 else lines
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


def _sets_config_files(arg: str) -> bool:
    key = arg.partition("=")[0]
    return key == "config_files" or key.startswith(("config_files[", "config_files."))


def _value(root: MappingNode, name: str) -> Node | None:
    return next((v for k, v in root.value if k.value == name), None)


def _resolve_rules(cfg: Config, base: Path) -> Config:
    """Relative rules_files are relative to the config file, so a shipped config works from anywhere."""
    files = tuple(str(p if Path(p).is_absolute() else base / p) for p in cfg.rules_files)
    return dataclasses.replace(cfg, rules_files=files)
