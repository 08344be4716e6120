"""Read the cost section: currency, time zone, the hourly cost per user (given, or annual
cost over working hours), and concurrent users as a number or a weekly schedule; or, with
`groups`, a schedule and an hourly cost for each group, its cost figures inherited from the
section where the group gives none."""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo

import holidays as holidays_lib

from agent.config.tree import Context, Node, kind, one_or_list
from agent.config.values import (
    as_list,
    as_mapping,
    did_you_mean,
    known_fields,
    name_error,
    non_empty,
    non_negative,
    ranged,
    string,
    validated,
)
from agent.currency import currency_error
from agent.model import CostConfig, UserGroup, UsersSchedule, UsersSource, UsersWindow

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = {name: i for names in (_DAYS, _FULL_DAYS) for i, name in enumerate(names)}
_ANNUAL, _HOURLY = "annual_cost_per_user", "hourly_cost_per_user"
_WORKING_HOURS = "working_hours_per_year"
_FIGURES = (_ANNUAL, _HOURLY, _WORKING_HOURS)
_COST_KEYS = ("currency", "timezone", *_FIGURES, "concurrent_users", "groups")
_GROUP_KEYS = (*_FIGURES, "description")

# The cost figures given at one level (cost, or a group): key -> (its node, its value, None
# if invalid and already reported).
Figures = dict[str, tuple[Node, float | None]]


def read_cost(ctx: Context, node: Node | None) -> CostConfig:
    """Given the cost section, return it; the timezone is kept for maintenance times."""
    grouped = declared_groups(node) is not None
    required = () if grouped else ("concurrent_users",)
    fields = known_fields(ctx, node, required, _COST_KEYS) if node else None
    if node is None or fields is None:
        return CostConfig()
    currency = _currency(ctx, fields["currency"]) if "currency" in fields else "GBP"
    timezone = _timezone(ctx, fields["timezone"]) if "timezone" in fields else "UTC"
    ctx.timezone = zoneinfo.ZoneInfo(timezone or "UTC")
    figures = _figures(ctx, fields)
    hourly = _hourly(ctx, node, figures, None if grouped else " (or give hourly_cost_per_user)")
    users, source = (None, None) if grouped else _everyone(ctx, node, fields, hourly)
    return CostConfig(
        currency=currency or "GBP",
        timezone=timezone or "UTC",
        hourly_cost_per_user=hourly or 0.0,
        annual_cost_per_user=_value(figures, _ANNUAL),
        working_hours_per_year=_value(figures, _WORKING_HOURS) or 1924.0,
        users=users or UsersSchedule(default=0.0),
        groups=_groups(ctx, fields, figures) if grouped else (),
        users_source=source,
    )


def declared_groups(node: Node | None) -> list[str] | None:
    """Given the cost section, return the names of cost.groups as written (none if it is not
    a mapping), or None without cost.groups."""
    section = node.value if node is not None and not node.broken else None
    if not isinstance(section, dict) or "groups" not in section:
        return None
    groups = section["groups"].value
    return list(groups) if isinstance(groups, dict) else []


def _timezone_error(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = did_you_mean(name, zoneinfo.available_timezones())
        return f"unknown time zone {name!r} (use an IANA name such as Europe/London){hint}"
    return None


_currency = validated(string, currency_error)
_timezone = validated(non_empty, _timezone_error)


# --- what an hour of a user's time costs -------------------------------------------------------


def _figures(ctx: Context, fields: dict[str, Node]) -> Figures:
    """Given the keys of one level (cost, or a group), return the cost figures it gives."""
    parsers = {_ANNUAL: non_negative, _HOURLY: non_negative, _WORKING_HOURS: _working_hours}
    return {key: (fields[key], parsers[key](ctx, fields[key])) for key in _FIGURES if key in fields}


def _inherit(own: Figures, inherited: Figures) -> Figures:
    """A group's figures over those of cost: an hourly cost given at one level replaces an
    annual one given at the other (and its working hours), and the reverse."""
    if _HOURLY in own:
        return own
    if _ANNUAL in own:
        return {**{key: v for key, v in inherited.items() if key == _WORKING_HOURS}, **own}
    return {**inherited, **own}


def _value(figures: Figures, key: str) -> float | None:
    return figures[key][1] if key in figures else None


def _hourly(ctx: Context, node: Node, figures: Figures, missing: str | None) -> float | None:
    """Given the figures that apply at `node` (cost, or a group), return the hourly cost per
    user: given, or annual cost over working hours (default 1924). Report figures that
    contradict each other, and, with a `missing` hint, the lack of both costs."""
    if _ANNUAL in figures and _HOURLY in figures:
        ctx.bad(figures[_HOURLY][0], "give annual_cost_per_user or hourly_cost_per_user, not both")
    elif _WORKING_HOURS in figures and _HOURLY in figures:
        ctx.bad(figures[_WORKING_HOURS][0], "only used with annual_cost_per_user")
    elif _ANNUAL not in figures and _HOURLY not in figures:
        if missing is not None:
            ctx.missing(node, _ANNUAL, missing)
        return None
    if _HOURLY in figures:
        return figures[_HOURLY][1]
    annual = _value(figures, _ANNUAL)
    hours = _value(figures, _WORKING_HOURS) if _WORKING_HOURS in figures else 1924.0
    if annual is None or hours is None:
        return None
    return _finite(ctx, node, annual / hours, f"{_ANNUAL} / {_WORKING_HOURS}")


_working_hours = ranged(lambda n: 0 < n <= 8784, "must be more than 0 and at most 8784 (366 days)")


def peak(users: UsersSchedule, hourly: float) -> tuple[float, float]:
    """Given a users schedule and the hourly cost per user, return (users, hourly cost) where
    they cost most per hour, a window's shift rate included; the most users among equals."""
    spans = [(users.default, hourly)]
    for window in users.windows:
        rate = window.hourly_cost_per_user
        spans.append((window.users, hourly if rate is None else rate))
    return max(spans, key=lambda span: (span[0] * span[1], span[0]))


def peak_cost(users: UsersSchedule, hourly: float) -> float:
    """Given a users schedule and the hourly cost per user, return the most their time costs
    in an hour (users x hourly cost at the peak)."""
    return math.prod(peak(users, hourly))


def group_peak(group: UserGroup) -> tuple[float, float] | None:
    """Given a group, return (users, hourly cost) where it costs most per hour: its
    schedule's peak, or for a measured group its source's `max` if that costs more; None
    for a group measured without a `max` (its peak is whatever is measured)."""
    fallback = peak(group.users, group.hourly_cost_per_user)
    if group.source is None:
        return fallback
    if group.source.max is None:
        return None
    measured = (group.source.max, group.hourly_cost_per_user)
    return max(fallback, measured, key=lambda span: (span[0] * span[1], span[0]))


def _finite(ctx: Context, node: Node, value: float, what: str) -> float | None:
    """Return `value` if it is finite, else None after reporting at `node` that `what` is not."""
    if math.isfinite(value):
        return value
    ctx.bad(node, f"{what} is not a finite number")
    return None


def _peak_is_finite(ctx: Context, node: Node, users: UsersSchedule, hourly: float) -> bool:
    cost = peak_cost(users, hourly)
    return _finite(ctx, node, cost, "the peak cost per hour (users x hourly cost)") is not None


# --- who is costed: everyone, or each group -----------------------------------------------------


def _everyone(
    ctx: Context, node: Node, fields: dict[str, Node], hourly: float | None
) -> tuple[UsersSchedule | None, UsersSource | None]:
    """Without groups: the concurrent users of cost (and their source, if measured), their
    peak cost per hour checked."""
    found = _concurrent(ctx, fields["concurrent_users"]) if "concurrent_users" in fields else None
    if found is None:
        return None, None
    users, source = found
    if hourly is not None and not _peak_is_finite(ctx, node, users, hourly):
        return None, None
    return users, source


def _groups(ctx: Context, fields: dict[str, Node], inherited: Figures) -> tuple[UserGroup, ...]:
    """Given cost's keys (groups among them), return the groups; report concurrent_users
    given to cost rather than to each group."""
    node = fields["groups"]
    if node.value in (None, {}) and not node.broken:
        ctx.bad(node, "no groups configured; without groups, give concurrent_users in cost")
        return ()
    if "concurrent_users" in fields:
        ctx.bad(fields["concurrent_users"], "with groups, give concurrent_users to each group")
    mapping = as_mapping(ctx, node) or {}
    found = [_group(ctx, node.key_lines[name], name, child, inherited)
             for name, child in mapping.items()]
    groups = tuple(group for group in found if group is not None)
    total = sum(peak_cost(group.users, group.hourly_cost_per_user) for group in groups)
    _finite(ctx, node, total, "the peak cost per hour summed over the groups")
    return groups


def _group(
    ctx: Context, line: int, name: str, node: Node, inherited: Figures
) -> UserGroup | None:
    """Given one group (its key's line, its name, its spec) and the figures of cost, return
    it; the description is only for people reading the file."""
    if (error := name_error(name)) is not None:
        ctx.report(line, node.path, error)
    fields = known_fields(ctx, node, ("concurrent_users",), _GROUP_KEYS)
    if fields is None:
        return None
    if "description" in fields:
        string(ctx, fields["description"])
    figures = _inherit(_figures(ctx, fields), inherited)
    hourly = _hourly(ctx, node, figures, " here and in cost (or give hourly_cost_per_user)")
    found = _concurrent(ctx, fields["concurrent_users"]) if "concurrent_users" in fields else None
    if error or hourly is None or found is None:
        return None
    users, source = found
    if not _peak_is_finite(ctx, node, users, hourly):
        return None
    hours = _value(figures, _WORKING_HOURS) or 1924.0
    return UserGroup(name, users, hourly, _value(figures, _ANNUAL), hours, source)


# --- concurrent users -----------------------------------------------------------------------------


def _concurrent(ctx: Context, node: Node) -> tuple[UsersSchedule, UsersSource | None] | None:
    """Given concurrent_users, return its schedule and, if it is measured (`source` with a
    `fallback`), its source; the schedule is then the fallback."""
    if not (isinstance(node.value, dict) and {"source", "fallback"} & set(node.value)):
        users = _users(ctx, node)
        return None if users is None else (users, None)
    # Imported when first used, as probe types are: each source module imports agent.config.
    from agent.users.sources import read_source

    fields = known_fields(ctx, node, ("source", "fallback"), ())
    if fields is None:
        return None
    source = read_source(ctx, fields["source"]) if "source" in fields else None
    fallback = _users(ctx, fields["fallback"]) if "fallback" in fields else None
    if source is None or fallback is None:
        return None
    return fallback, source


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
    fields = known_fields(ctx, node, ("days", "hours", "users"), (_HOURLY,))
    if fields is None:
        return None
    days = _days(ctx, fields["days"]) if "days" in fields else None
    hours = _hours(ctx, fields["hours"]) if "hours" in fields else None
    users = non_negative(ctx, fields["users"]) if "users" in fields else None
    rate = non_negative(ctx, fields[_HOURLY]) if _HOURLY in fields else None
    if days is None or hours is None or users is None or (rate is None and _HOURLY in fields):
        return None
    return UsersWindow(days, hours[0], hours[1], users, rate)


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
