"""The report as one self-contained HTML file: no scripts, fonts or images fetched from
anywhere, charts drawn as inline SVG, and print CSS so a browser can save it as a PDF."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from agent.report import words
from agent.report.model import Report, SystemReport, WindowLine
from agent.text import duration, money

COLOURS = {"down": "#c0392b", "degraded": "#e08e0b", "maintenance": "#2e6da4",
           "unknown": "#999999", "voided": "#bbbbbb"}
WIDTH = 720  # the drawing width of every chart, in SVG user units

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Arial, sans-serif; color: #222;
       max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { margin-top: 2rem; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: .25rem .4rem; text-align: left; vertical-align: top; }
td.n, th.n { text-align: right; white-space: nowrap; }
.estimate { background: #fff6dd; border-left: 4px solid #e0a800; padding: .6rem .8rem; }
.breached { color: #b00020; font-weight: bold; } .met { color: #1b7a30; }
tr.voided td { text-decoration: line-through; color: #777; }
tr.voided td:last-child { text-decoration: none; }
figure { margin: 1rem 0; }
.muted { color: #666; } svg { max-width: 100%; height: auto; }
svg text { font: 11px system-ui, Arial, sans-serif; fill: #333; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; } table, figure, section.system { break-inside: avoid; }
  @page { size: A4; margin: 15mm; }
}
"""


def render(report: Report) -> str:
    """Given a report, return a complete HTML document."""
    body = [
        f"<h1>{escape(words.title(report))}</h1>",
        f"<p class=muted>{escape(words.as_of_text(report))}</p>",
        f"<p class=estimate><strong>{escape(words.ESTIMATE)}</strong></p>",
        _totals(report),
        _charts(report),
        "<h2>Method</h2><ul>" + "".join(f"<li>{escape(m)}</li>" for m in words.method(report))
        + "</ul>",
        _systems(report),
        *(_group(report, label) for label in ("supplier", "owner", "tier")),
        *(_system(report, s) for s in report.systems),
        _maintenance(report),
        _changes(report),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n"
        f"<title>{escape(words.title(report))}</title>\n<style>{STYLE}</style>\n</head>\n"
        "<body>\n" + "\n".join(part for part in body if part) + "\n</body>\n</html>\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[object]],
          numeric: Sequence[int] = (), classes: Sequence[str] = ()) -> str:
    """A table; `numeric` columns are right-aligned; cells are escaped unless they are
    _Raw (already HTML)."""
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{escape(h)}</th>"
                   for i, h in enumerate(header))
    thead = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    lines = [f"<table>{thead}<tbody>"]
    for k, row in enumerate(rows):
        css = f" class={classes[k]}" if k < len(classes) and classes[k] else ""
        cells = "".join(f"<td{' class=n' if i in numeric else ''}>{_html(c)}</td>"
                        for i, c in enumerate(row))
        lines.append(f"<tr{css}>{cells}</tr>")
    return "".join(lines) + "</tbody></table>"


class _Raw(str):
    """Text that is already HTML."""


def _html(value: object) -> str:
    return value if isinstance(value, _Raw) else escape(str(value))


def _totals(report: Report) -> str:
    return "<h2>Organisation totals</h2>" + table(("", ""), words.totals(report))


def _verdict(s: SystemReport) -> _Raw:
    if s.sla_met is None:
        return _Raw(escape(words.sla_text(s)))
    css = "met" if s.sla_met else "breached"
    return _Raw(f"<span class={css}>{escape(words.sla_text(s))}</span>")


def _systems(report: Report) -> str:
    shown = report.pennies()
    rows = [[*words.system_cells(s, shown[s.name], report.currency), _verdict(s)]
            for s in report.systems]
    return "<h2>Systems</h2>" + table(words.SYSTEM_COLUMNS, rows, numeric=(1, 2, 3, 4, 5, 6, 7))


def _group(report: Report, label: str) -> str:
    groups = report.grouped(label)
    if not groups:
        return ""
    parts = [f"<h2>By {escape(label)}</h2>"]
    for value, members in groups:
        rows = [[*words.group_cells(s), _verdict(s), money(s.cost, report.currency)]
                for s in members]
        parts.append(f"<h3>{escape(label.capitalize())}: {escape(value)}</h3>"
                     + table(words.GROUP_COLUMNS, rows, numeric=(1, 2, 3, 4, 6)))
    return "".join(parts)


def _system(report: Report, s: SystemReport) -> str:
    labels = " · ".join(words.labels(s))
    facts = words.facts(s, report)
    parts = [f"<section class=system><h3>{escape(s.name)}</h3>"]
    if s.description:
        parts.append(f"<p>{escape(s.description)}</p>")
    if labels:
        parts.append(f"<p class=muted>{escape(labels)}</p>")
    parts.append("<ul>" + "".join(f"<li>{escape(f)}</li>" for f in facts) + "</ul>")
    listed = [w for w in s.windows if w.state != "unknown"]
    if listed:
        parts.append(_windows(report, listed))
    return "".join(parts) + "</section>"


def _windows(report: Report, lines: Sequence[WindowLine]) -> str:
    shown = report.window_pennies()
    rows = [[*words.window_cells(w, shown[w.id], report), words.notes_text(w)] for w in lines]
    classes = ["voided" if w.voided is not None else "" for w in lines]
    return table(words.WINDOW_COLUMNS, rows, numeric=(0, 5, 6), classes=classes)


def _maintenance(report: Report) -> str:
    if not report.maintenance:
        return ""
    return "<h2>Planned maintenance excluded</h2>" + table(
        words.MAINTENANCE_COLUMNS, words.maintenance_rows(report), numeric=(3,))


def _changes(report: Report) -> str:
    if not report.changes:
        return ""
    return "<h2>Corrections (audit trail)</h2>" + table(words.CHANGE_COLUMNS,
                                                        words.change_rows(report), numeric=(2,))


# --- charts ----------------------------------------------------------------------------------


def _charts(report: Report) -> str:
    return (
        "<h2>Charts</h2>"
        f"<figure>{cost_per_day(report)}<figcaption>Cost per day</figcaption></figure>"
        f"<figure>{downtime_by_system(report)}<figcaption>Downtime by system</figcaption>"
        "</figure>"
        f"<figure>{timeline(report)}<figcaption>Timeline of incidents (red down, amber "
        "degraded, blue maintenance, grey voided)</figcaption></figure>"
    )


def _svg(height: float, label: str, content: Sequence[str]) -> str:
    return (f'<svg viewBox="0 0 {WIDTH} {height:.0f}" width="{WIDTH}" height="{height:.0f}" '
            f'role="img" aria-label="{escape(label)}">' + "".join(content) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> str:
    return (f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0.0):.2f}" height="{h:.2f}" '
            f'fill="{fill}"><title>{escape(tip)}</title></rect>')


def cost_per_day(report: Report) -> str:
    """A bar per day of the range, labelled with the largest day's cost."""
    days = report.days
    left, top, plot_w, plot_h = 80.0, 10.0, WIDTH - 90.0, 160.0
    peak = max((cost for _, cost in days), default=0.0)
    step = plot_w / max(len(days), 1)
    out = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
           'stroke="#888"/>',
           _text(left - 6, top + 10, money(peak, report.currency, pence=False), "end"),
           _text(left - 6, top + plot_h, money(0, report.currency, pence=False), "end")]
    for k, (day, cost) in enumerate(days):
        height = plot_h * cost / peak if peak > 0 else 0.0
        out.append(_rect(left + k * step + step * 0.1, top + plot_h - height, step * 0.8, height,
                         COLOURS["down"], f"{day}: {money(cost, report.currency)}"))
    every = max(1, len(days) // 8)
    out += [_text(left + k * step + step / 2, top + plot_h + 16, day[5:], "middle")
            for k, (day, _) in enumerate(days) if k % every == 0]
    return _svg(top + plot_h + 26, "Cost per day", out)


def downtime_by_system(report: Report) -> str:
    """A horizontal bar per system, its length the downtime."""
    systems = report.systems
    left, row, plot_w = 160.0, 22.0, WIDTH - 160.0 - 90.0
    peak = max((s.downtime for s in systems), default=0.0)
    out = []
    for k, s in enumerate(systems):
        y = 6 + k * row
        width = plot_w * s.downtime / peak if peak > 0 else 0.0
        out += [_text(left - 6, y + 13, s.name, "end"),
                _rect(left, y + 2, width, row - 8, COLOURS["down"],
                      f"{s.name}: {duration(s.downtime)}"),
                _text(left + width + 6, y + 13, duration(s.downtime))]
    return _svg(12 + row * len(systems), "Downtime by system", out)


def timeline(report: Report) -> str:
    """A row per system over the range, with a bar for each window (voided ones grey)."""
    systems = report.systems
    left, row, plot_w = 160.0, 22.0, WIDTH - 170.0
    span = max(report.end - report.start, 1.0)

    def x(t: float) -> float:
        return left + plot_w * (min(max(t, report.start), report.end) - report.start) / span

    out = [_text(left, 12, words.when(report.start, report)),
           _text(left + plot_w, 12, words.when(report.end, report), "end")]
    for k, s in enumerate(systems):
        y = 20 + k * row
        out += [_text(left - 6, y + 14, s.name, "end"),
                f'<line x1="{left}" y1="{y + row / 2:.1f}" x2="{left + plot_w}" '
                f'y2="{y + row / 2:.1f}" stroke="#ddd"/>']
        for w in s.windows:
            if w.state == "unknown" or w.shown_end <= w.shown_start:
                continue
            colour = COLOURS["voided" if w.voided is not None else w.state]
            tip = (f"#{w.id} {w.state} {words.when(w.shown_start, report)}, "
                   f"{duration(w.shown_end - w.shown_start)}, {money(w.cost, report.currency)}")
            out.append(_rect(x(w.shown_start), y + 4, max(x(w.shown_end) - x(w.shown_start),
                                                            1.5), row - 8, colour, tip))
    return _svg(26 + row * len(systems), "Timeline of incidents", out)
