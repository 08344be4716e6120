"""The report as JSON, for other programs: the organisation's figures and each system's."""

from __future__ import annotations

import json
from typing import Any

from agent.report.model import Report, SystemReport
from agent.text import iso


def render(report: Report) -> str:
    """Given a report, return {"from", "to", "currency", "total_cost", "total_downtime_seconds",
    "systems": [...]}; money rounded to 2 places, availability a fraction (null when no time
    was counted), sla_met null for a system without an SLA."""
    document = {
        "from": iso(report.start), "to": iso(report.end), "currency": report.currency,
        "total_cost": round(report.cost, 2),
        "total_downtime_seconds": round(report.downtime, 3),
        "systems": [system(s) for s in report.systems],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def system(s: SystemReport) -> dict[str, Any]:
    return {
        "system": s.name, "incidents": s.incidents, "downtime_seconds": round(s.downtime, 3),
        "availability": None if s.availability is None else round(s.availability, 6),
        "cost": round(s.cost, 2), "staff_cost": round(s.staff, 2),
        "direct_cost": round(s.direct, 2), "sla_met": s.sla_met,
    }
