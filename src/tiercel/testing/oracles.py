"""Where the upstream oracle files are: Falco's regression suite and rules, libsinsp's filter vectors,
sample captures and sysdig's dumps of them (../shared/oracles beside a checkout; README there).

They are not part of the repository. $TIERCEL_ORACLES names another place; without it, the directory
beside the checkout is used if it exists. Tests that need them skip when they are absent
(tests/conftest.py); the benchmarks say so and stop.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "TIERCEL_ORACLES"


def expected_location(checkout: Path, environ: Mapping[str, str] = os.environ) -> Path:
    """$TIERCEL_ORACLES, else <checkout>/../shared/oracles; it may not exist."""
    override = environ.get(ENV)
    return Path(override) if override else checkout.resolve().parent / "shared" / "oracles"


def find_oracles(checkout: Path, environ: Mapping[str, str] = os.environ) -> Path | None:
    """The oracle directory, or None when it is not there."""
    path = expected_location(checkout, environ)
    return path if path.is_dir() else None


def missing_reason(checkout: Path, environ: Mapping[str, str] = os.environ) -> str:
    """Why find_oracles() found nothing, in one line (a skip reason)."""
    path = expected_location(checkout, environ)
    how = f"${ENV}" if environ.get(ENV) else f"beside the checkout (set ${ENV} to use another place)"
    return f"oracle files not found at {path} ({how})"
