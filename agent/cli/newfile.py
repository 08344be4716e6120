"""Writing the file a command makes (`init`, `import-systems`, `export`, `report` with -o):
never over an existing one unless --force says so, never over anything but a regular file,
and a failure is one line, not a traceback.

One rule for every command: a symlink is followed (as `backup` and `export` always did), so
--force replaces the regular file it points to and the link stays; a directory, a device, a
FIFO or a socket, or a link to one or to nothing, is refused (exit 2) and left as it was.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from agent.cli.common import abort, fail

# What a path that is not a regular file is, for the message.
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


# Other spellings of a format's extension.
_SUFFIXES = {"htm": "html", "markdown": "md"}


def format_of(output: str | None, formats: Sequence[str], default: str) -> str:
    """The format -o's extension names (`report.json`: json) if it is one of `formats`, else
    `default` (as for standard output): the rule of every command with --format and -o."""
    suffix = Path(output).suffix.lower().lstrip(".") if output else ""
    suffix = _SUFFIXES.get(suffix, suffix)
    return suffix if suffix in formats else default


def output_problem(path: str, force: bool) -> str | None:
    """Given -o's path, return why a command must not write it (one line), or None if it
    may: it is new, or (with `force`) a regular file or a symlink to one."""
    if not path:
        return "-o: empty path"
    try:
        found = os.stat(path)  # follows a symlink
    except FileNotFoundError:
        return f"{path}: a symlink to nothing; not writing through it" if os.path.islink(
            path) else None
    except OSError:
        return None  # the write says why (not a folder, no permission), exit 1
    kind = next((name for test, name in _KINDS if test(found.st_mode)), None)
    if kind is not None or not stat.S_ISREG(found.st_mode):
        return f"{path}: is {kind or 'a special file'}, not a regular file; not writing over it"
    if not force:
        return f"{path}: already exists; give --force to overwrite it"
    return None


def refuse_unwritable(path: str | None, force: bool) -> None:
    """End the command (exit 2) if -o's `path` must not be written, before any work is done;
    None (no -o: standard output) is fine."""
    if path is not None and (problem := output_problem(path, force)):
        abort(problem)


def write_new_file(path: str, text: str | Iterable[str], force: bool) -> int:
    """Write `text` (or its pieces, as they are made) to `path`; return 0, or after saying
    why, 2 if `output_problem` refuses it (a new file is opened exclusively, so nothing can
    slip in between), 1 if it cannot be written."""
    if problem := output_problem(path, force):
        return fail(problem)
    try:
        if force and os.path.lexists(path):
            _replace(Path(os.path.realpath(path)), text)
        else:
            with open(path, "x", encoding="utf-8") as file:
                file.writelines(_pieces(text))
    except FileExistsError:
        return fail(f"{path}: already exists; give --force to overwrite it")
    except OSError as exc:
        return fail(f"{path}: cannot write: {exc.strerror or exc}", code=1)
    return 0


def write_output(text: str | Iterable[str], output: str | None, force: bool) -> None:
    """Write a command's document (or its pieces, as they are made) to -o's file (as
    `write_new_file`), or to standard output when there is no -o; end the command with its
    exit code if the file is refused or cannot be written."""
    if output is None:
        sys.stdout.writelines(_pieces(text))
        return
    code = write_new_file(output, text, force)
    if code:
        abort(code=code)


def _pieces(text: str | Iterable[str]) -> Iterable[str]:
    """A document whole, or in the pieces a streaming renderer yields."""
    return (text,) if isinstance(text, str) else text


def _replace(path: Path, text: str | Iterable[str]) -> None:
    """Write a new file beside the regular file `path` (created exclusively, so a planted
    name cannot redirect it), then rename it over `path`, keeping its permissions: an
    interrupted write never leaves half a file where the old one was."""
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial",
                                       dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.writelines(_pieces(text))
            os.fchmod(file.fileno(), stat.S_IMODE(os.stat(path).st_mode))
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
