"""Read the cost section: currency, time zone, the hourly cost per user (given, or annual
cost over working hours), and concurrent users as a number or a weekly schedule."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import holidays as holidays_lib

from agent.config.tree import Context, Node, kind, one_or_list
from agent.config.values import (
    as_list,
    did_you_mean,
    known_fields,
    non_empty,
    non_negative,
    ranged,
    string,
    validated,
)
from agent.model import CostConfig, UsersSchedule, UsersWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: i for names in (_DAYS, _FULL_DAYS) for i, name in enumerate(names)}
_COST_KEYS = (
    "currency",
    "timezone",
    "annual_cost_per_user",
    "working_hours_per_year",
    "hourly_cost_per_user",
)


def read_cost(ctx: Context, node: Node | None) -> CostConfig:
    """Given the cost section, return it; the timezone is kept for maintenance times."""
    fields = known_fields(ctx, node, ("concurrent_users",), _COST_KEYS) if node else None
    if node is None or fields is None:
        return CostConfig()
    currency = _currency(ctx, fields["currency"]) if "currency" in fields else "GBP"
    timezone = _timezone(ctx, fields["timezone"]) if "timezone" in fields else "UTC"
    ctx.timezone = zoneinfo.ZoneInfo(timezone or "UTC")
    hourly, annual, hours = _hourly_cost(ctx, node, fields)
    users = _users(ctx, fields["concurrent_users"]) if "concurrent_users" in fields else None
    return CostConfig(
        currency=currency or "GBP",
        timezone=timezone or "UTC",
        hourly_cost_per_user=hourly or 0.0,
        annual_cost_per_user=annual,
        working_hours_per_year=hours or 1924.0,
        users=users or UsersSchedule(default=0.0),
    )


def _currency_error(text: str) -> str | None:
    if re.fullmatch(r"[A-Z]{3}", text):
        return None
    return "must be a three-letter ISO 4217 code in capitals, e.g. GBP"


def _timezone_error(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(name, zoneinfo.available_timezones())
        return f"unknown time zone {name!r} (use an IANA name such as Europe/London){hint}"
    return None


_currency = validated(string, _currency_error)
_timezone = validated(non_empty, _timezone_error)


def _hourly_cost(
    ctx: Context, node: Node, fields: dict[str, Node]
) -> tuple[float | None, float | None, float | None]:
    """Return (hourly cost, annual cost, working hours): hourly is given or annual / hours."""
    annual_node = fields.get("annual_cost_per_user")
    hourly_node = fields.get("hourly_cost_per_user")
    hours_node = fields.get("working_hours_per_year")
    annual = non_negative(ctx, annual_node) if annual_node else None
    hourly = non_negative(ctx, hourly_node) if hourly_node else None
    hours = _working_hours(ctx, hours_node) if hours_node else None
    if annual_node and hourly_node:
        ctx.bad(hourly_node, "give annual_cost_per_user or hourly_cost_per_user, not both")
    elif not annual_node and not hourly_node:
        ctx.missing(node, "annual_cost_per_user", " (or give hourly_cost_per_user)")
    elif hours_node and hourly_node:
        ctx.bad(hours_node, "only used with annual_cost_per_user")
    if annual is not None and hourly_node is None:
        hourly = annual / (hours or 1924.0)
    return hourly, annual, hours


_working_hours = ranged(lambda n: 0 < n <= 8784, "must be more than 0 and at most 8784 (366 days)")


# --- concurrent users -----------------------------------------------------------------------------


def _users(ctx: Context, node: Node) -> UsersSchedule | None:
    """Given a number or a schedule mapping, return the concurrent-users schedule."""
    if isinstance(node.value, dict):
        return _schedule(ctx, node)
    if isinstance(node.value, str | list | bool | None) and not node.broken:
        got = kind(node.value)
        ctx.bad(node, f"expected a number or a schedule (default, windows...), got {got}")
        return None
    users = non_negative(ctx, node)
    return UsersSchedule(default=users) if users is not None else None


def _schedule(ctx: Context, node: Node) -> UsersSchedule | None:
    fields = known_fields(ctx, node, ("default",), ("windows", "holidays"))
    if fields is None:
        return None
    default = non_negative(ctx, fields["default"]) if "default" in fields else None
    spec = _holidays(ctx, fields["holidays"]) if "holidays" in fields else None
    items = as_list(ctx, fields["windows"]) if "windows" in fields else []
    windows = [_window(ctx, item) for item in items or ()]
    if default is None or None in windows:
        return None
    return UsersSchedule(default, tuple(w for w in windows if w is not None), spec)


def _holidays(ctx: Context, node: Node) -> str | None:
    """A holidays spec "GB-ENG" (country, then subdivision after the first '-') or "US"."""
    spec = string(ctx, node)
    if spec is None:
        return None
    supported = holidays_lib.list_supported_countries()
    country, _, subdiv = spec.partition("-")
    if country not in supported:
        hint = did_you_mean(country.upper(), supported)
        ctx.bad(node, f"no bank holidays known for country {country!r} (use e.g. GB-ENG){hint}")
        return None
    if subdiv and subdiv not in supported[country]:
        known = supported[country]
        listed = f" (known: {', '.join(known)})" if 0 < len(known) <= 20 else ""
        hint = did_you_mean(subdiv, known) or listed
        ctx.bad(node, f"no bank holidays known for subdivision {subdiv!r} of {country}{hint}")
        return None
    return spec


def _window(ctx: Context, node: Node) -> UsersWindow | None:
    fields = known_fields(ctx, node, ("days", "hours", "users"), ())
    if fields is None:
        return None
    days = _days(ctx, fields["days"]) if "days" in fields else None
    hours = _hours(ctx, fields["hours"]) if "hours" in fields else None
    users = non_negative(ctx, fields["users"]) if "users" in fields else None
    if days is None or hours is None or users is None:
        return None
    return UsersWindow(days, hours[0], hours[1], users)


def _days(ctx: Context, node: Node) -> frozenset[int] | None:
    """Given "mon-fri", "sat,sun", "fri-mon" or a list of such, return weekdays (0 = Monday)."""
    items = one_or_list(node)
    texts = [text for item in items if (text := string(ctx, item)) is not None]
    if len(texts) < len(items):
        return None
    if not texts:
        ctx.bad(node, "no days given")
        return None
    days: set[int] = set()
    for part in (part.strip().lower() for text in texts for part in text.split(",")):
        span = _day_span(part)
        if span is None:
            unknown = [word.strip() for word in part.split("-") if word.strip() not in _DAY_NAMES]
            hint = did_you_mean(unknown[0], _DAYS) if unknown else ""
            ctx.bad(node, f"unknown day or range {part!r} (use mon..sun, e.g. mon-fri){hint}")
            return None
        days |= span
    return frozenset(days)


def _day_span(text: str) -> set[int] | None:
    """Given "tue" or "fri-mon" (wrapping), return the weekdays, or None if not a day."""
    first, dash, last = (part.strip() for part in text.partition("-"))
    if first not in _DAY_NAMES or (dash and last not in _DAY_NAMES):
        return None
    start, end = _DAY_NAMES[first], _DAY_NAMES[last or first]
    return {(start + offset) % 7 for offset in range((end - start) % 7 + 1)}


_HOURS = re.compile(r"\s*(\d{1,2}):([0-5]\d)\s*-\s*(\d{1,2}):([0-5]\d)\s*")


def _hours(ctx: Context, node: Node) -> tuple[dt.time, dt.time] | None:
    """Given "08:00-18:00", "22:00-06:00" or "00:00-24:00", return (start, end) local times."""
    text = string(ctx, node)
    match = _HOURS.fullmatch(text) if text is not None else None
    start = int(match[1]) * 60 + int(match[2]) if match else -1
    end = int(match[3]) * 60 + int(match[4]) if match else -1
    if text is not None and not (0 <= start < 1440 and 0 <= end <= 1440):
        ctx.bad(node, 'expected "HH:MM-HH:MM", e.g. "08:00-18:00" or "22:00-06:00"')
    elif start == end % 1440 and (start, end) != (0, 1440):
        ctx.bad(node, 'the window starts and ends at the same time; use "00:00-24:00" for all day')
    elif match:
        return dt.time(start // 60, start % 60), dt.time(end % 1440 // 60, end % 60)
    return None
