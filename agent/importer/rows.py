"""Reading an import file: its header and rows, every bad field named by line and column.

A file with any bad row is refused whole (ImportRefused lists every problem), so nothing of it
is written.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from agent.config.values import did_you_mean
from agent.importer.causes import not_a_dependency
from agent.model import Config
from agent.report.period import parse_moment

REQUIRED = ("system", "start", "end")
OPTIONAL = ("state", "cause", "impact", "note", "ticket")
SEVERITY = {"maintenance": 0, "degraded": 1, "down": 2}  # a merged window takes the worst

_Bad = Callable[[str, str], None]  # reports a problem: (column, message)


class ImportRefused(Exception):
    """The file cannot be imported; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Row:
    """One window read from the file (slots: a file may hold 100,000)."""

    line: int
    system: str
    start: float
    end: float
    state: str = "down"
    cause: str | None = None
    impact: float | None = None  # None: the system's configured impact for the state
    note: str | None = None
    ticket: str | None = None
    cause_at: str = ""  # "windows.csv:3: cause (column 5)", to name a cause found wanting


def read_rows(text: str, name: str, config: Config, now: float) -> list[Row]:
    """Given CSV text, return its windows; raise ImportRefused listing every problem."""
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRefused([f"{name}:1: empty file: expected a header such as "
                             "system,start,end"]) from None
    except csv.Error as exc:
        raise ImportRefused([f"{name}:1: {exc}"]) from None
    columns = [column.strip().lower() for column in header]
    _check_header(columns, name)
    problems: list[str] = []
    rows: list[Row] = []
    checker = _RowChecker(config, now)
    try:
        for fields in reader:
            if not any(f.strip() for f in fields):
                continue
            where = f"{name}:{reader.line_num}"
            if len(fields) != len(columns):
                problems.append(f"{where}: expected {len(columns)} fields "
                                f"({','.join(columns)}), got {len(fields)}")
                continue
            row = checker.row(reader.line_num, dict(zip(columns, fields, strict=True)),
                              columns, where, problems)
            if row is not None:
                rows.append(row)
    except csv.Error as exc:
        problems.append(f"{name}:{reader.line_num}: {exc}")
    if problems:
        raise ImportRefused(problems)
    return rows


def _check_header(columns: list[str], name: str) -> None:
    problems = []
    known = (*REQUIRED, *OPTIONAL)
    for number, column in enumerate(columns, 1):
        if column not in known:
            problems.append(f"{name}:1: column {number} {column!r}: unknown column (known: "
                            f"{', '.join(known)}){did_you_mean(column, known)}")
        elif columns.index(column) != number - 1:
            problems.append(f"{name}:1: column {number} {column!r}: given twice")
    problems += [f"{name}:1: missing column {column!r}" for column in REQUIRED
                 if column not in columns]
    if problems:
        raise ImportRefused(problems)


class _RowChecker:
    """Checks one row at a time, adding a problem per bad field."""

    def __init__(self, config: Config, now: float) -> None:
        self.systems = {s.name: s for s in config.systems}
        self.zone = zoneinfo.ZoneInfo(config.cost.timezone)
        self.now = now

    def row(self, line: int, values: dict[str, str], columns: list[str], where: str,
            problems: list[str]) -> Row | None:
        found: list[str] = []

        def bad(column: str, message: str) -> None:
            found.append(f"{where}: {column} (column {columns.index(column) + 1}): {message}")

        system = self._system(values["system"].strip(), bad)
        start = self._time(values["start"], "start", bad)
        end = self._time(values["end"], "end", bad)
        if start is not None and end is not None and end <= start:
            bad("end", f"must be after start ({values['start'].strip()})")
        if end is not None and end > self.now:
            bad("end", "is in the future: only past windows can be imported")
        state = values.get("state", "").strip().lower() or "down"
        if state not in SEVERITY:
            bad("state", f"expected down, degraded or maintenance, got {state!r}")
        cause = self._cause(values.get("cause", "").strip(), system, bad)
        impact = self._impact(values.get("impact", "").strip(), bad)
        problems += found
        if found or system is None or start is None or end is None:
            return None
        cause_at = (f"{where}: cause (column {columns.index('cause') + 1})"
                    if "cause" in columns else "")
        return Row(line=line, system=system, start=start, end=end, state=state, cause=cause,
                   impact=impact, note=values.get("note", "").strip() or None,
                   ticket=values.get("ticket", "").strip() or None, cause_at=cause_at)

    def _system(self, name: str, bad: _Bad) -> str | None:
        if not name:
            bad("system", "empty")
            return None
        if name not in self.systems:
            bad("system", f"no system named {name!r} in the configuration"
                          f"{did_you_mean(name, self.systems)}")
            return None
        return name

    def _time(self, text: str, column: str, bad: _Bad) -> float | None:
        if not text.strip():
            bad(column, "empty")
            return None
        try:
            return parse_moment(text, self.zone)
        except ValueError as exc:
            bad(column, str(exc))
            return None

    def _cause(self, name: str, system: str | None, bad: _Bad) -> str | None:
        if not name or name == system:
            return None  # its own root cause
        if name not in self.systems:
            bad("cause", f"the root cause must be a configured system, not {name!r}"
                         f"{did_you_mean(name, self.systems)}")
            return None
        problem = system is not None and not_a_dependency(self.systems, system, name)
        if problem:
            bad("cause", problem)
            return None
        return name

    def _impact(self, text: str, bad: _Bad) -> float | None:
        if not text:
            return None
        try:
            impact = float(text)
        except ValueError:
            impact = -1.0
        if not 0.0 <= impact <= 1.0:
            bad("impact", f"expected a number from 0 to 1, got {text!r}")
            return None
        return impact

