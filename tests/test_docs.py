"""README.md stays a front page, and the documentation links only to what a clone of the repository holds.

Every relative link in README.md and docs/*.md must name a file or directory inside the repository,
and an anchor (`file.md#section`) one of that file's headings, as GitHub makes them; nothing may point
outside the checkout (`../shared/...` exists only beside the developers' checkouts).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 250

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)  # http:, https:, mailto:, file: ...


def prose(text: str) -> str:
    """The text without code blocks and inline code, where a `[x](y)` is not a link."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text()))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        result.add(base if n == 0 else f"{base}-{n}")
    return result


def problems(doc: Path, root: Path = ROOT) -> list[str]:
    found = []
    for target in links(doc):
        if EXTERNAL.match(target):
            if target.lower().startswith("file:"):
                found.append(f"{target}: a local file outside the repository")
            continue
        where, _, anchor = unquote(target).partition("#")
        if where.startswith("/"):
            found.append(f"{target}: an absolute path")
            continue
        dest = (doc.parent / where).resolve() if where else doc
        if not dest.is_relative_to(root):
            found.append(f"{target}: outside the repository")
        elif not dest.exists():
            found.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            found.append(f"{target}: no heading '{anchor}' in {dest.relative_to(root)}")
    return found


def test_readme_is_a_front_page() -> None:
    lines = len(README.read_text().splitlines())
    assert lines < MAX_README_LINES, f"README.md has {lines} lines: move details to docs/"


def test_docs_exist_and_the_readme_links_each_of_them() -> None:
    linked = {(README.parent / unquote(t).partition("#")[0]).resolve() for t in links(README)}
    assert DOCS, "docs/*.md"
    assert [d.name for d in DOCS if d not in linked] == []


def test_the_readme_config_example_is_an_excerpt_of_tiercel_yaml() -> None:
    """Its lines appear in the shipped tiercel.yaml, in the same order (`# ...` marks a gap)."""
    (example,) = re.findall(r"^```yaml\n(.*?)^```", README.read_text(), re.M | re.S)
    wanted = [line for line in example.splitlines() if line.strip() != "# ..."]
    shipped = iter((ROOT / "tiercel.yaml").read_text().splitlines())
    missing = [line for line in wanted if line not in shipped]  # `in` advances the iterator
    assert wanted and missing == []


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves_inside_the_repository(doc: Path) -> None:
    assert problems(doc) == []


@pytest.mark.parametrize("doc", [README, *DOCS], ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_names_the_shared_directory_beside_the_checkout(doc: Path) -> None:
    assert "../shared" not in doc.read_text()


def test_the_checker_finds_what_it_is_for(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "README.md").write_text("# tiercel\n")
    (repo / "docs" / "kernel.md").write_text("# The kernel\n\n## What the host needs\n")
    page = repo / "docs" / "page.md"
    page.write_text("# A heading: `with code`\n\n[ok](../README.md) [ok](#a-heading-with-code) "
                    "[ok](kernel.md#what-the-host-needs) [bad](../../shared/DESIGN.md) "
                    "[gone](nothing.md) [abs](/etc/passwd) [anchor](kernel.md#no-such-heading) "
                    "[web](https://falco.org/docs/) `[in inline code](nowhere.md)`\n"
                    "```\n[in a code block](nowhere.md)\n```\n")
    assert problems(page, repo.resolve()) == [
        "../../shared/DESIGN.md: outside the repository", "nothing.md: no such file",
        "/etc/passwd: an absolute path",
        "kernel.md#no-such-heading: no heading 'no-such-heading' in docs/kernel.md"]
