"""The report as one self-contained HTML file: no scripts, fonts or images fetched from
anywhere, charts drawn as inline SVG, and print CSS so a browser can save it as a PDF.

Every fragment is a MarkupSafe `Markup`: its templates are Markup literals and whatever is put
into them (`format`, `join`, `+`) is escaped unless it is Markup already, so text from a config,
a target or the ledger cannot become markup by being left unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from markupsafe import Markup

from agent.report import summary, words
from agent.report.model import Report, SystemReport, WindowLine
from agent.report.summary import Shown
from agent.text import duration, money

COLOURS = {"down": "#c0392b", "degraded": "#e08e0b", "maintenance": "#2e6da4",
           "unknown": "#999999", "voided": "#bbbbbb"}
WIDTH = 720  # the drawing width of every chart, in SVG user units

STYLE = Markup("""
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
""")
PAGE = Markup(
    "<!DOCTYPE html>\n<html lang=en>\n<head>\n<meta charset=utf-8>\n<title>{title}</title>\n"
    "<style>{style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
)
NOTHING = Markup()


def render(report: Report) -> str:
    """Given a report, return a complete HTML document: summarised past
    `summary.WINDOW_LIMIT` windows, saying so."""
    view = summary.shown(report)
    note = words.summary_note(report, view)
    body = [
        Markup("<h1>{}</h1>").format(words.title(report)),
        Markup("<p class=muted>{}</p>").format(words.as_of_text(report)),
        Markup("<p class=estimate><strong>{}</strong></p>").format(words.ESTIMATE),
        Markup("<p class=estimate>{}</p>").format(note) if note else NOTHING,
        _totals(report),
        _charts(report, view),
        Markup("<h2>Method</h2><ul>{}</ul>").format(_items(words.method(report))),
        _systems(report, view),
        *(_group(report, label, view) for label in ("supplier", "owner", "tier")),
        *(_system(report, s, view) for s in view.systems),
        _maintenance(report, view),
        _changes(report, view),
    ]
    return str(PAGE.format(title=words.title(report), style=STYLE,
                           body=Markup("\n").join(part for part in body if part)))


def _items(texts: Iterable[str]) -> Markup:
    return NOTHING.join(Markup("<li>{}</li>").format(text) for text in texts)


def table(header: Sequence[str], rows: Sequence[Sequence[object]],
          numeric: Sequence[int] = (), classes: Sequence[str] = ()) -> Markup:
    """A table; `numeric` columns are right-aligned; cells are escaped unless they are
    Markup (already HTML)."""
    thead = Markup("<thead><tr>{}</tr></thead>").format(_cells("th", header, numeric))
    lines = [Markup("<table>{}<tbody>").format(thead if any(header) else NOTHING)]
    for k, row in enumerate(rows):
        css = classes[k] if k < len(classes) else ""
        tr = Markup("<tr class={}>").format(css) if css else Markup("<tr>")
        lines.append(tr + _cells("td", row, numeric) + Markup("</tr>"))
    return NOTHING.join(lines) + Markup("</tbody></table>")


def _cells(tag: str, values: Sequence[object], numeric: Sequence[int]) -> Markup:
    """Given a row's values, return them as cells `tag` (td or th), numeric ones right-aligned."""
    cell = {False: Markup(f"<{tag}>{{}}</{tag}>"), True: Markup(f"<{tag} class=n>{{}}</{tag}>")}
    return NOTHING.join(cell[i in numeric].format(value) for i, value in enumerate(values))


def _totals(report: Report) -> Markup:
    return Markup("<h2>Organisation totals</h2>") + table(("", ""), words.totals(report))


def _verdict(s: SystemReport) -> Markup:
    if s.sla_met is None:
        return Markup("{}").format(words.sla_text(s))
    css = "met" if s.sla_met else "breached"
    return Markup("<span class={}>{}</span>").format(css, words.sla_text(s))


def _systems(report: Report, view: Shown) -> Markup:
    shown = report.pennies()
    rows = [[*words.system_cells(s, shown[s.name], report.currency), _verdict(s)]
            for s in view.systems]
    heading = (Markup("<h2>Systems: the {} that cost most</h2>").format(len(view.systems))
               if view.summarised else Markup("<h2>Systems</h2>"))
    return heading + table(words.SYSTEM_COLUMNS, rows, numeric=(1, 2, 3, 4, 5, 6, 7))


def _group(report: Report, label: str, view: Shown) -> Markup:
    groups = report.grouped(label)
    if not groups:
        return NOTHING
    parts = [Markup("<h2>By {}</h2>").format(label)]
    if view.summarised:  # a total per value: its systems are too many to list
        rows = [[value, *words.group_total_cells(report, members)] for value, members in groups]
        return parts[0] + table((label.capitalize(), *words.GROUP_TOTAL_COLUMNS), rows,
                                numeric=(1, 2, 3, 4, 5))
    for value, members in groups:
        rows = [[*words.group_cells(s), _verdict(s), money(s.cost, report.currency)]
                for s in members]
        parts.append(Markup("<h3>{}: {}</h3>").format(label.capitalize(), value)
                     + table(words.GROUP_COLUMNS, rows, numeric=(1, 2, 3, 4, 6)))
    return NOTHING.join(parts)


def _system(report: Report, s: SystemReport, view: Shown) -> Markup:
    labels = " · ".join(words.labels(s))
    parts = [Markup("<section class=system><h3>{}</h3>").format(s.name)]
    if s.description:
        parts.append(Markup("<p>{}</p>").format(s.description))
    if labels:
        parts.append(Markup("<p class=muted>{}</p>").format(labels))
    parts.append(Markup("<ul>{}</ul>").format(_items(words.facts(s, report))))
    listed = [w for w in s.windows if view.lists(w)]
    if listed:
        parts.append(_windows(report, listed))
    return NOTHING.join(parts) + Markup("</section>")


def _windows(report: Report, lines: Sequence[WindowLine]) -> Markup:
    shown = report.window_pennies()
    rows = [[*words.window_cells(w, shown[w.id], report),
             "; ".join(filter(None, [words.notes_text(w), words.evidence_text(w, report)]))]
            for w in lines]
    classes = ["voided" if w.voided is not None else "" for w in lines]
    return table(words.WINDOW_COLUMNS, rows, numeric=(0, 5, 6), classes=classes)


def _maintenance(report: Report, view: Shown) -> Markup:
    rows = words.maintenance_rows(report, view)
    if not rows:
        return NOTHING
    return Markup("<h2>Planned maintenance excluded</h2>") + table(
        words.MAINTENANCE_COLUMNS, rows, numeric=(3,))


def _changes(report: Report, view: Shown) -> Markup:
    rows = words.change_rows(report, view)
    if not rows:
        return NOTHING
    return Markup("<h2>Corrections (audit trail)</h2>") + table(
        words.CHANGE_COLUMNS, rows, numeric=(2,))


# --- charts ----------------------------------------------------------------------------------


def _charts(report: Report, view: Shown) -> Markup:
    systems = view.systems  # a summary draws the systems it shows
    return Markup(
        "<h2>Charts</h2>"
        "<figure>{}<figcaption>Cost per day</figcaption></figure>"
        "<figure>{}<figcaption>Downtime by system</figcaption></figure>"
        "<figure>{}<figcaption>Timeline of incidents (red down, amber degraded, blue "
        "maintenance, grey voided)</figcaption></figure>"
    ).format(cost_per_day(report), downtime_by_system(report, systems),
             timeline(report, systems, view))


def _svg(height: float, label: str, content: Sequence[Markup]) -> Markup:
    return Markup('<svg viewBox="0 0 {0} {1:.0f}" width="{0}" height="{1:.0f}" role="img" '
                  'aria-label="{2}">{3}</svg>').format(WIDTH, height, label, NOTHING.join(content))


def _text(x: float, y: float, text: str, anchor: str = "start") -> Markup:
    return Markup('<text x="{:.1f}" y="{:.1f}" text-anchor="{}">{}</text>').format(
        x, y, anchor, text)


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str) -> Markup:
    return Markup('<rect x="{:.2f}" y="{:.2f}" width="{:.2f}" height="{:.2f}" fill="{}">'
                  "<title>{}</title></rect>").format(x, y, max(w, 0.0), h, fill, tip)


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str) -> Markup:
    return Markup('<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}"/>').format(
        x1, y1, x2, y2, stroke)


def cost_per_day(report: Report) -> Markup:
    """A bar per day of the range, labelled with the largest day's cost."""
    days = report.days
    left, top, plot_w, plot_h = 80.0, 10.0, WIDTH - 90.0, 160.0
    peak = max((cost for _, cost in days), default=0.0)
    step = plot_w / max(len(days), 1)
    out = [_line(left, top + plot_h, left + plot_w, top + plot_h, "#888"),
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


def downtime_by_system(report: Report, systems: Sequence[SystemReport]) -> Markup:
    """A horizontal bar per system, its length the downtime."""
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


def timeline(report: Report, systems: Sequence[SystemReport], view: Shown) -> Markup:
    """A row per system over the range, with a bar for each window it lists (voided ones
    grey)."""
    left, row, plot_w = 160.0, 22.0, WIDTH - 170.0
    span = max(report.end - report.start, 1.0)

    def x(t: float) -> float:
        return left + plot_w * (min(max(t, report.start), report.end) - report.start) / span

    out = [_text(left, 12, words.when(report.start, report)),
           _text(left + plot_w, 12, words.when(report.end, report), "end")]
    for k, s in enumerate(systems):
        y = 20 + k * row
        out += [_text(left - 6, y + 14, s.name, "end"),
                _line(left, round(y + row / 2, 1), left + plot_w, round(y + row / 2, 1), "#ddd")]
        for w in s.windows:
            if not view.lists(w) or w.shown_end <= w.shown_start:
                continue
            colour = COLOURS["voided" if w.voided is not None else w.state]
            tip = (f"#{w.id} {w.state} {words.when(w.shown_start, report)}, "
                   f"{duration(w.shown_end - w.shown_start)}, {money(w.cost, report.currency)}")
            out.append(_rect(x(w.shown_start), y + 4, max(x(w.shown_end) - x(w.shown_start),
                                                            1.5), row - 8, colour, tip))
    return _svg(26 + row * len(systems), "Timeline of incidents", out)
