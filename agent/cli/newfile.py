"""Writing a file a command makes (`init`, `import-systems -o`): never over an existing one
unless --force says so, and a failure is one line, not a traceback."""

from __future__ import annotations

import os
from pathlib import Path

from agent.cli.common import fail


def write_new_file(path: str, text: str, force: bool) -> int:
    """Write `text` to `path`; return 0, or after saying why, 2 if the file exists and `force`
    is off (checked as the file is opened, so nothing can slip in between), 1 if it cannot be
    written."""
    try:
        if force:
            _replace(Path(path), text)
        else:
            with open(path, "x", encoding="utf-8") as file:
                file.write(text)
    except FileExistsError:
        return fail(f"{path}: already exists; give --force to overwrite it")
    except OSError as exc:
        return fail(f"{path}: cannot write: {exc.strerror or exc}", code=1)
    return 0


def _replace(path: Path, text: str) -> None:
    """Write beside `path`, then rename over it: an interrupted write never leaves half a
    file where the old one was."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
