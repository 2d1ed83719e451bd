"""Fixtures shared by every test directory: the upstream oracle files.

`oracles` is the oracle directory (tiercel.testing.oracles: $TIERCEL_ORACLES, else ../shared/oracles
beside the checkout). A test that asks for it is skipped, with the place it looked, when it is absent.

A test whose cases are oracle files is marked instead of parametrized at import, so that a missing
file never breaks the collection of its module:

    def _captures(oracles: Path) -> list[ParameterSet]:
        return [pytest.param(p, id=p.stem) for p in sorted(oracles.glob("**/*.scap"))]

    @pytest.mark.oracle_cases("capture", _captures)
    def test_reads(capture: Path) -> None: ...

The function is called while pytest generates the tests; when the directory is absent, or a file it
reads is missing, the test has one case, skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from tiercel.testing.oracles import find_oracles, missing_reason

CHECKOUT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def oracles() -> Path:
    path = find_oracles(CHECKOUT)
    if path is None:
        pytest.skip(missing_reason(CHECKOUT))
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("oracle_cases")
    if marker is None:
        return
    argnames: str | Sequence[str] = marker.args[0]
    cases: Callable[[Path], Sequence[Any]] = marker.args[1]
    names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
    root = find_oracles(CHECKOUT)
    reason = missing_reason(CHECKOUT) if root is None else ""
    if root is not None:
        try:
            params = list(cases(root))
        except FileNotFoundError as e:
            reason = f"oracle file missing: {e.filename}"
        else:
            metafunc.parametrize(argnames, params, **marker.kwargs)
            return
    skipped = pytest.param(*[None] * len(names), marks=pytest.mark.skip(reason=reason), id="no-oracles")
    metafunc.parametrize(argnames, [skipped])
