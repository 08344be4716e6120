"""`outage-agent import-systems`: a CMDB or spreadsheet export becomes the `systems:` list,
so nobody types 300 systems by hand.

Columns `name,type,target` and optionally `users_share,impact,depends_on,owner,supplier,tier`;
`target` goes in the key the probe type requires (url, target, name, host or command), and
`depends_on` names are separated by `;` or spaces. `rows` reads the file, keeping where each
cell is; `systems` makes each row a system and the list YAML; `check` loads that YAML with
the config loader itself, so a system is accepted or refused exactly as `check` would, and
puts each problem back on its cell as file:line:column. A file with any problem is refused
whole.
"""

from __future__ import annotations

from agent.inventory.check import loader_problems
from agent.inventory.rows import Cell, InventoryRefused, read_rows
from agent.inventory.systems import render, system_of

__all__ = ["InventoryRefused", "systems_yaml"]


def systems_yaml(text: str, name: str) -> str:
    """Given the CSV text of file `name`, return the `systems:` YAML that loads as written;
    raise InventoryRefused listing every problem, each at its line and column."""
    rows = read_rows(text, name)
    if not rows:
        raise InventoryRefused([f"{name}: no systems: the file has a header and no rows"])
    made = [system_of(row) for row in rows]
    output, starts = render([system for system, _, _ in made])
    own = [problem for _, _, problems in made for problem in problems]
    judged = {cell for cell, _ in own}  # the loader's word on these would repeat ours
    found = own + [(cell, message) for cell, message in
                   loader_problems(output, rows, [origins for _, origins, _ in made], starts)
                   if cell is None or cell not in judged]
    if found:
        raise InventoryRefused([_line(name, cell, message) for cell, message in
                                sorted(found, key=_where)])
    return output


def _where(found: tuple[Cell | None, str]) -> tuple[int, int]:
    cell = found[0]
    return (cell.line, cell.column) if cell else (0, 0)


def _line(name: str, cell: Cell | None, message: str) -> str:
    if cell is None:
        return f"{name}: {message}"
    return f"{name}:{cell.line}:{cell.column}: {cell.heading}: {message}"
