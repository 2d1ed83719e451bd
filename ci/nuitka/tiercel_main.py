"""Entry point of the Nuitka binary: the `tiercel` console script, without rich.

typer reads TYPER_USE_RICH when it is first imported, so it is set here, before the import; rich,
pygments and markdown_it are left out of the binary (ci/build-binary.sh), and typer then prints its
plain help and plain tracebacks.
"""

import os

os.environ.setdefault("TYPER_USE_RICH", "0")

from tiercel.cli import main  # noqa: E402

main()
