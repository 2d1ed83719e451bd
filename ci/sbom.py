"""CycloneDX SBOMs of tiercel's artefacts, written by cyclonedx-python-lib (ci/build-sbom.sh runs this
in its own venv) from what the build itself recorded, not from a list kept by hand:

  python3 ci/sbom.py binary REPORT VERSION COMMIT OUT.json
      the Nuitka build (the onefile binary, and the folder the .deb and the .rpm carry): every
      Python distribution compiled in (Nuitka's compilation report names each with its version),
      and every Debian package a compiled module or a bundled library came from (dpkg -S of the
      report's source paths: the Python standard library, BCC's Python module, libssl ...)
  python3 ci/sbom.py image REPORT VERSION COMMIT STATUS OUT.json
      the image: the binary's components and the Debian packages of the image's root (its
      /var/lib/dpkg/status, which ci/image/rootfs.sh keeps for the packages it copied from)

The document is validated against the CycloneDX 1.6 schema before it is written.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from packageurl import PackageURL

SOURCE = "https://github.com/tiercel/tiercel"


def report_paths(report: ET.Element, libraries: bool) -> list[str]:
    """The source paths the report names, ${...} prefixes expanded: of the bundled shared libraries
    (`libraries`), or of everything else (compiled modules, extension modules, data)."""
    prefixes = {"sys.prefix": sys.base_prefix, "sys.real_prefix": sys.base_prefix,
                "sys.base_prefix": sys.base_prefix, "cwd": os.getcwd()}
    out = []
    for node in report.iter():
        path = node.get("source_path")
        if not path or path.startswith("{") or (node.tag == "included_dll") != libraries:
            continue
        path = re.sub(r"\$\{([^}]+)\}", lambda m: prefixes.get(m.group(1), m.group(0)), path)
        if path.startswith("/"):
            out.append(path)
    return out


def debian_packages(paths: list[str]) -> dict[str, str]:
    """The Debian packages (name -> version) that own any of `paths` (merged /usr: dpkg knows each
    file by one of its two spellings, /lib/... or /usr/lib/...)."""
    def spellings(path: str) -> tuple[str, str, str]:
        return path, re.sub(r"^/usr/lib/", "/lib/", path), re.sub(r"^/lib/", "/usr/lib/", path)
    asked = sorted({p for path in paths for p in spellings(path)})
    owners: set[str] = set()
    for i in range(0, len(asked), 500):
        out = subprocess.run(["dpkg", "-S", *asked[i:i + 500]], capture_output=True, text=True,
                             check=False).stdout
        for line in out.splitlines():
            if ": " in line and not line.startswith("diversion"):
                owners.update(p.strip() for p in line.split(": ", 1)[0].split(","))
    versions = subprocess.run(["dpkg-query", "-W", "-f", "${binary:Package} ${Version}\n", *sorted(owners)],
                              capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in versions.splitlines())


def status_packages(status: Path) -> dict[str, str]:
    """name -> version of each package in a dpkg status file."""
    out = {}
    for stanza in status.read_text().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if "Package" in fields and "Version" in fields:
            arch = fields.get("Architecture", "all")
            out[f"{fields['Package']}:{arch}"] = fields["Version"]
    return out


def deb_component(name: str, version: str, distro: str) -> Component:
    pkg, _, arch = name.partition(":")
    purl = PackageURL(type="deb", namespace="debian", name=pkg, version=version,
                      qualifiers={"arch": arch or "all", "distro": distro})
    return Component(name=pkg, version=version, type=ComponentType.LIBRARY, purl=purl, bom_ref=str(purl))


def python_components(report: ET.Element) -> list[Component]:
    comps = []
    for dist in report.iter("distribution"):
        name, version = dist.get("name"), dist.get("version")
        if not name or not version or name == "tiercel":
            continue  # tiercel itself is the SBOM's subject
        if dist.get("installer") not in ("pip", "uv", "poetry", None):
            continue  # a Debian-installed distribution is listed as its Debian package instead
        purl = PackageURL(type="pypi", name=name.lower().replace("_", "-"), version=version)
        comps.append(Component(name=name, version=version, type=ComponentType.LIBRARY, purl=purl,
                               bom_ref=str(purl)))
    return comps


def distro() -> str:
    lines = Path("/etc/os-release").read_text().splitlines()
    fields = dict(line.split("=", 1) for line in lines if "=" in line)
    return f"{fields.get('ID', 'debian')}-{fields.get('VERSION_ID', '').strip(chr(34))}"


def make_bom(what: str, version: str, commit: str, components: list[Component]) -> Bom:
    bom = Bom()
    root = Component(name="tiercel" if what == "binary" else "tiercel-image", version=version,
                     type=ComponentType.APPLICATION if what == "binary" else ComponentType.CONTAINER,
                     bom_ref=f"tiercel-{what}",
                     properties=[Property(name="tiercel:commit", value=commit)],
                     external_references=[ExternalReference(type=ExternalReferenceType.VCS,
                                                            url=XsUri(SOURCE), comment=f"commit {commit}")])
    bom.metadata.component = root
    unique = {str(c.purl): c for c in components}
    for comp in unique.values():
        bom.components.add(comp)
    bom.register_dependency(root, list(unique.values()))
    return bom


def main(argv: list[str]) -> int:
    if len(argv) < 5 or argv[0] not in ("binary", "image") or len(argv) != (5 if argv[0] == "binary" else 6):
        print(__doc__, file=sys.stderr)
        return 2
    what, report_file, version, commit = argv[:4]
    report = ET.parse(report_file).getroot()
    dist = distro()
    comps = python_components(report)
    comps += [deb_component(n, v, dist) for n, v in debian_packages(report_paths(report, False)).items()]
    bundled = debian_packages(report_paths(report, True))
    if what == "image":
        # the image links the folder's bundled libraries to its own copies (ci/image/rootfs.sh):
        # where it has the package, its version is the one in the image
        image = status_packages(Path(argv[4]))
        in_image = {k.split(":")[0] for k in image}
        bundled = {n: v for n, v in bundled.items() if n.split(":")[0] not in in_image}
        comps += [deb_component(n, v, dist) for n, v in image.items()]
    comps += [deb_component(n, v, dist) for n, v in bundled.items()]
    text = JsonV1Dot6(make_bom(what, version, commit, comps)).output_as_string(indent=2)
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    if error is not None:
        print(f"ci/sbom.py: the SBOM does not validate: {error}", file=sys.stderr)
        return 1
    Path(argv[-1]).write_text(text + "\n")
    n_py = sum(1 for c in comps if c.purl is not None and c.purl.type == "pypi")
    print(f"{argv[-1]}: {len({str(c.purl) for c in comps})} components ({n_py} Python distributions)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
