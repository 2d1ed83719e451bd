"""Data flows one way (STYLE: layout): a lower stage never imports a higher one.

Every module of src/tiercel is read with `ast` and its `tiercel.*` imports collected, at the top and
inside functions alike (an import deferred into a function is still a dependency). FORBIDDEN says,
per package, what it must not import; add a row to hold a new layer in place.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# package (or module) -> what it must not import, a dotted name and everything under it
FORBIDDEN: dict[str, tuple[str, ...]] = {
    # the kernel side and the capture format are below the rules engine, the sources and the commands;
    # the kernel filter's tables are the probe's contract (probe.filtertables), derived in kfilter
    "tiercel.probe": ("tiercel.rules", "tiercel.kfilter", "tiercel.sources", "tiercel.commands"),
    "tiercel.scap": ("tiercel.rules", "tiercel.kfilter", "tiercel.sources", "tiercel.commands"),
    # the shared helpers import no stage of the pipeline
    "tiercel.common": ("tiercel.events", "tiercel.scap", "tiercel.probe", "tiercel.state",
                       "tiercel.container", "tiercel.rules", "tiercel.kfilter", "tiercel.sources",
                       "tiercel.outputs", "tiercel.telemetry", "tiercel.commands", "tiercel.config"),
    # the event model and the syscall table are what every stage reads: they read none of them
    "tiercel.events": ("tiercel.state", "tiercel.rules", "tiercel.kfilter", "tiercel.sources",
                       "tiercel.outputs", "tiercel.commands"),
    # the stages never import what drives them
    "tiercel.state": ("tiercel.rules", "tiercel.sources", "tiercel.outputs", "tiercel.commands"),
    "tiercel.rules": ("tiercel.sources", "tiercel.commands"),
    "tiercel.sources": ("tiercel.commands",),
    "tiercel.outputs": ("tiercel.commands", "tiercel.sources"),
    # within the kernel filter's derivation: derive -> sockets, paths -> judge
    "tiercel.kfilter.judge": ("tiercel.kfilter.derive", "tiercel.kfilter.paths", "tiercel.kfilter.sockets"),
    "tiercel.kfilter.paths": ("tiercel.kfilter.derive", "tiercel.kfilter.sockets"),
    "tiercel.kfilter.sockets": ("tiercel.kfilter.derive", "tiercel.kfilter.paths"),
}

# module -> the most lines it may have
MAX_LINES: dict[str, int] = {
    "tiercel.sources.live": 199,     # the event path only: the filter's upkeep is probe.filterkeeper
}


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, modules: set[str], root: Path = SRC) -> set[str]:
    """The dotted names a module imports: `from a.b import c` gives a.b.c when that is a module of
    `modules`, else a.b."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:      # relative: resolved against this module's package
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            out.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
    return out


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def modules_under(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted((root / "tiercel").rglob("*.py"))}


def violations(root: Path = SRC) -> list[str]:
    """`module imports name` for every import FORBIDDEN rules out under root."""
    modules = modules_under(root)
    out = []
    for mod, path in modules.items():
        banned = [b for pkg, names in FORBIDDEN.items() if within(mod, pkg) for b in names]
        out.extend(f"{mod} imports {name}" for name in sorted(imports_of(path, set(modules), root))
                   if any(within(name, b) for b in banned))
    return out


def test_the_forbidden_names_exist() -> None:
    """A renamed package would make its row hold vacuously: rename it here too."""
    names = set(modules_under(SRC))
    for name in {*FORBIDDEN, *(b for banned in FORBIDDEN.values() for b in banned), *MAX_LINES}:
        assert name in names, f"{name} is not a module of src/: update tests/test_layers.py"


def test_lower_stages_import_no_higher_one() -> None:
    assert violations() == []


@pytest.mark.parametrize("module, limit", sorted(MAX_LINES.items()))
def test_module_size(module: str, limit: int) -> None:
    path = SRC.joinpath(*module.split(".")).with_suffix(".py")
    assert len(path.read_text().splitlines()) <= limit
