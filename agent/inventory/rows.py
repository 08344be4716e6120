"""Reading an inventory: its header, then each row's cells with the line and column each
came from, so a problem with a value can be shown where the value is in the file."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from agent.config.values import did_you_mean

COLUMNS = ("name", "type", "target", "users_share", "impact", "depends_on", "owner",
           "supplier", "tier")
REQUIRED = ("name", "type", "target")


class InventoryRefused(Exception):
    """The inventory cannot be converted; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Cell:
    """One value of the file: its text, the line it starts on and its column (the field's
    number, 1 for the first, as a spreadsheet counts)."""

    text: str
    line: int
    column: int
    heading: str  # the column's name


@dataclass(frozen=True)
class Row:
    """One row: the line it starts on and its cells by heading."""

    line: int
    cells: dict[str, Cell]

    def text(self, heading: str) -> str:
        """The cell's text; "" for a column the file does not have."""
        cell = self.cells.get(heading)
        return cell.text if cell else ""


def read_rows(text: str, name: str) -> list[Row]:
    """Given CSV text, return its rows (blank ones skipped); raise InventoryRefused listing
    every problem with the header or the shape of a row."""
    reader = csv.reader(io.StringIO(text))
    problems: list[str] = []
    rows: list[Row] = []
    try:
        header = [heading.strip().lower() for heading in next(reader, [])]
        problems += _header_problems(header, name)
        usable, ended = not problems, reader.line_num
        for fields in reader:
            start, ended = ended + 1, reader.line_num
            if usable and any(field.strip() for field in fields):
                rows.append(_row(header, fields, start, name, problems))
    except csv.Error as exc:
        problems.append(f"{name}:{reader.line_num}: not CSV: {exc}")
    if problems:
        raise InventoryRefused(problems)
    return rows


def _header_problems(header: list[str], name: str) -> list[str]:
    if not header:
        return [f"{name}:1: empty file: expected a header, {','.join(COLUMNS)}"]
    problems = []
    for column, heading in enumerate(header, 1):
        if heading not in COLUMNS:
            hint = did_you_mean(heading, COLUMNS) or f" (known: {', '.join(COLUMNS)})"
            problems.append(f"{name}:1:{column}: unknown column {heading!r}{hint}")
        elif header.index(heading) != column - 1:
            problems.append(f"{name}:1:{column}: column {heading!r} given twice")
    return problems + [f"{name}:1: missing column {heading!r}" for heading in REQUIRED
                       if heading not in header]


def _row(header: list[str], fields: list[str], line: int, name: str,
         problems: list[str]) -> Row:
    """The row's cells by heading; a row of the wrong length is a problem."""
    if len(fields) != len(header):
        problems.append(f"{name}:{line}: expected {len(header)} cells ({','.join(header)}), "
                        f"got {len(fields)}")
    cells, at = {}, line
    for column, (heading, field) in enumerate(zip(header, fields, strict=False), 1):
        cells[heading] = Cell(field.strip(), at, column, heading)
        at += field.count("\n")  # a quoted value may span lines
    return Row(line, cells)
