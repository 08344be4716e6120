"""A MkDocs hook: links from docs/ to the rest of the repository work on the site too.

The pages link to repository files relatively (`../config/example.yaml`), so they work where
GitHub shows them. The site holds docs/ only, so this hook turns each such link into a link
to the file on GitHub (`repo_url` in mkdocs.yml), and warns when the file does not exist, which
`mkdocs build --strict` makes a failure, as it does a broken link between pages.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path, PurePosixPath
from typing import Any

log = logging.getLogger("mkdocs.hooks.repository_links")
BRANCH = "main"
# An inline Markdown link or image target, up to an optional title: [text](target "title").
LINK = re.compile(r"(\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")
FENCE = re.compile(r"^[ \t]*(```|~~~)", re.MULTILINE)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Given a page's Markdown, return it with links outside docs/ pointing at GitHub."""
    docs = Path(config["docs_dir"]).resolve()
    repo_url = str(config["repo_url"]).rstrip("/")
    page_dir = (docs / page.file.src_uri).parent
    parts = FENCE.split(markdown)
    # The fences are kept as parts of their own; what lies between two is code, left alone.
    out, in_code = [], False
    for part in parts:
        if part in ("```", "~~~"):
            out.append(part)
            in_code = not in_code
            continue
        out.append(part if in_code else LINK.sub(
            lambda m: m[1] + repository_link(m[2], page_dir, docs, repo_url,
                                             page.file.src_uri) + m[3], part))
    return "".join(out)


def repository_link(target: str, page_dir: Path, docs: Path, repo_url: str, page: str) -> str:
    """Given a link's target, return it, or its GitHub URL if it leaves docs/."""
    if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
        return target
    path, hash_, fragment = target.partition("#")
    resolved = (page_dir / path).resolve()
    if resolved == docs or docs in resolved.parents:
        return target  # a page or file of the site: MkDocs checks it
    root = docs.parent
    if not resolved.exists() or root not in resolved.parents:
        log.warning("%s links to %s, which is not in the repository", page, target)
        return target
    kind = "tree" if resolved.is_dir() else "blob"
    relative = PurePosixPath(resolved.relative_to(root).as_posix())
    return f"{repo_url}/{kind}/{BRANCH}/{relative}{hash_}{fragment}"
