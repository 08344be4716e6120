"""What a config check finds: one Problem per finding, all raised together in a ConfigError."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One finding: where it is (file, line, key path) and what is wrong."""

    file: str
    line: int | None  # None only for problems with the file as a whole (unreadable, too big)
    path: str  # "systems[1].probe.url"; "" for the document itself
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """Raised once with every problem found, so they can all be fixed in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))
