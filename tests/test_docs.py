"""README is a front page into docs/, and the docs site's navigation holds every page.

`mkdocs build --strict` (make docs, in CI) fails on a broken link between pages, a missing
anchor or a page left out of the nav. These tests cover what it does not see: README, which is
not part of the site, and the promises README makes as the front page.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def nav_pages(nav: list) -> list[str]:
    """Every page the mkdocs.yml nav lists, however deeply nested."""
    pages = []
    for entry in nav:
        for value in entry.values() if isinstance(entry, dict) else [entry]:
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def slugs(page: Path) -> set[str]:
    """The anchors of a Markdown page's headings, as GitHub and MkDocs make them."""
    headings = re.findall(r"^#+ (.+)$", FENCED.sub("", page.read_text()), re.MULTILINE)
    return {re.sub(r"[-\s]+", "-", re.sub(r"[^\w\s-]", "", h.lower()).strip())
            for h in headings}


def local_links(text: str) -> list[str]:
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z]+:|^#", t)]


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


def test_the_site_navigation_lists_every_page_and_only_pages_that_exist() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    pages = nav_pages(config["nav"])
    assert len(pages) == len(set(pages))
    assert sorted(pages) == sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))


def test_readme_links_to_files_and_anchors_that_exist(readme: str) -> None:
    broken = []
    for target in local_links(readme):
        path, _, anchor = target.partition("#")
        file = ROOT / path
        if not file.exists() or (anchor and anchor not in slugs(file)):
            broken.append(target)
    assert broken == []


def unlinked_pages(text: str, base: Path) -> list[str]:
    """The docs pages (but the site's home, index.md) that a page in `base` never links."""
    linked = {(base / t.partition("#")[0]).resolve() for t in local_links(text)}
    return [p.name for p in sorted(DOCS.glob("*.md"))
            if p.name != "index.md" and p.resolve() not in linked]


def test_readme_is_a_front_page_with_a_table_of_contents_of_every_docs_page(readme) -> None:
    assert len(readme.splitlines()) <= 250
    assert unlinked_pages(readme, ROOT) == []


def test_the_site_home_links_every_page() -> None:
    assert unlinked_pages((DOCS / "index.md").read_text(encoding="utf-8"), DOCS) == []


def test_readme_states_the_python_version_the_package_requires(readme: str) -> None:
    required = re.search(r'requires-python = ">=([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert required and f"Python >= {required[1]}" in readme


def test_the_quick_start_is_the_demo_then_the_command_ci_runs(readme: str) -> None:
    start = readme.index("## Quick start\n")
    demo = readme.index("```sh\npip install . && outage-agent demo\n```", start)
    tests = readme.index("```sh\nmake test\n```", demo)
    assert "Debian" not in readme[demo:tests] and "apt" not in readme[demo:tests]
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), re.MULTILINE)


def test_the_pictures_are_real_pngs_made_by_the_screenshot_script(readme: str) -> None:
    pictures = re.findall(r"\]\((docs/images/[^)]+\.png)\)", readme)
    assert {"docs/images/status-page.png", "docs/images/report.png"} <= set(pictures)
    for picture in pictures:
        assert (ROOT / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    assert "python -m tools.screenshots" in readme


def test_readme_walks_through_init_check_run_and_the_scrape_config(readme: str) -> None:
    section = readme.partition("## Monitor your own estate in ten minutes\n")[2]
    for step in ("outage-agent init", "outage-agent check", "outage-agent run",
                 "scrape_configs:", "job_name: outage-agent"):
        assert step in section, step
