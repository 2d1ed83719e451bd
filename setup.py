"""The one build step pyproject.toml cannot declare: the wheel carries the BPF probe source (probe/)
and the default rules (rules/), which live beside src/, where the installed code looks for them —
tiercel/probe/bpf/ (probe/loader.py) and tiercel/default_rules/ (config/schema.py), the same places
the Nuitka binary puts them (ci/build-binary.sh). An editable install reads them from the checkout.
Everything else about the package is in pyproject.toml; MANIFEST.in puts both folders in the sdist.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# source folder -> (folder in the package, the files it ships)
DATA = {"probe": ("tiercel/probe/bpf", ("*.c", "*.h")), "rules": ("tiercel/default_rules", ("*.yaml",))}


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        for source, (target, patterns) in DATA.items():
            for pattern in patterns:
                for path in sorted((HERE / source).rglob(pattern)):
                    dest = Path(self.build_lib, target, path.relative_to(HERE / source))
                    self.mkpath(str(dest.parent))
                    self.copy_file(str(path), str(dest))


setup(cmdclass={"build_py": BuildPyWithData})
