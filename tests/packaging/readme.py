"""The README's install lines (its `## Install` block): one per way in, each run by the packaging test
of that artefact, so the README cannot drift from what is built and tested."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def install_line(program: str) -> list[str]:
    """The install line that runs `program` (apt-get, dnf, docker, ./tiercel, kubectl), as argv."""
    section = README.read_text().split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    lines = [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]
    (argv,) = [a for a in lines if a and a[0] == program]
    return argv
