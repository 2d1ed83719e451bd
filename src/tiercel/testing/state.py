"""The state stage, offline: nothing is read from the /proc or /etc of the machine the test runs on."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tiercel.container.docker import ContainerRegistry
from tiercel.state.enrich import Enricher
from tiercel.state.processes import ProcessTable
from tiercel.testing.users import GROUPS, USERS, StaticUserTable

NO_PROC = Path("/nonexistent/tiercel-testing/proc")  # a host /proc with nothing in it


def offline_enricher(users: Mapping[int, str] = USERS, groups: Mapping[int, str] = GROUPS,
                     containers: ContainerRegistry | None = None, host_proc: Path = NO_PROC) -> Enricher:
    """An Enricher whose process table starts empty, knows processes only from the events it is
    given (a task seen first is made up from its event), and names users from the dicts given."""
    table = ProcessTable(host_proc, users=StaticUserTable(users, groups), containers=containers)
    return Enricher(table=table)
