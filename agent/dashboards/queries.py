"""The PromQL the dashboards share: each system's state as one number, what is down now, and
cost and availability over the dashboard's time range."""

from __future__ import annotations

# State timeline codes: a higher code is worse, so `max` across sites shows the worst state.
STATE_CODES = {"unknown": 0, "up": 1, "maintenance": 2, "degraded": 3, "down": 4}


def state_code(sel: str) -> str:
    """The current state of each system as one number (STATE_CODES), worst across sites."""
    terms = " or ".join(f'(outage_system_state{{{sel}, state="{name}"}} == 1) * {code}'
                        for name, code in STATE_CODES.items())
    return f"max by (system) ({terms})"


def down_now(sel: str) -> str:
    """Systems confirmed down now, by system: for `... and on (system) (down_now)`."""
    return f"min by (system) (outage_system_up{{{sel}}}) == 0"


def cost_in_range(sel: str, by: str = "system") -> str:
    """Cost accrued since the start of the dashboard's range, at every step of a range query.

    `@ start()` is the counter at the range's start; a system with no sample then counts from 0.
    """
    agg = f"sum by ({by})" if by else "sum"
    now = f"{agg} (outage_cost_total{{{sel}}})"
    return f"{now} - ({agg} (outage_cost_total{{{sel}}} @ start()) or {now} * 0)"


def availability(sel: str, by: str = "system") -> str:
    """24x7 availability over the range: 1 - confirmed down time / the range."""
    agg = f"avg by ({by})" if by else "avg"
    return (f"clamp_min(1 - {agg} (increase(outage_downtime_seconds_total{{{sel}}}[$__range]))"
            f" / $__range_s, 0)")


def users_by_source(sel: str) -> str:
    """Each group's concurrent users, labelled `users="measured"` while a reading of its
    users source is in force, and `users="schedule"` while its schedule is (no source, or
    the fallback): one query, so a group never measured still shows."""
    users = f"max by (group) (outage_group_concurrent_users{{{sel}}})"
    fresh = f"max by (group) (outage_users_source_up{{{sel}}}) == 1"
    return " or ".join(
        f'label_replace({users} {op} on (group) ({fresh}), "users", "{kind}", "", "")'
        for op, kind in (("and", "measured"), ("unless", "schedule")))
