"""The dashboards, panel by panel: the overview (what outages cost now, and where), one system
in depth, and the organisation's (systems down at a quorum of sites, costed once)."""

from __future__ import annotations

from agent.dashboards.panels import (
    TIME_UNIT,
    Json,
    bargauge,
    dashboard,
    grid,
    heatmap,
    money_unit,
    query_variable,
    stat,
    state_mappings,
    state_timeline,
    table,
    target,
    thresholds,
    timeseries,
    variables,
)
from agent.dashboards.queries import (
    availability,
    cost_in_range,
    down_now,
    state_code,
    users_by_source,
)

OVERVIEW_UID = "outage-cost-overview"
DETAIL_UID = "outage-system-detail"
ORGANISATION_UID = "outage-cost-organisation"
# outage:system_down:quorum is 0 or 1: the organisation's verdict on a system.
QUORUM_CODES = {"up": 0, "down": 1}


def detail_link() -> list[Json]:
    return [{"title": "Open the system's detail dashboard", "url":
             f"/d/{DETAIL_UID}/{DETAIL_UID}?${{datasource:queryparam}}&${{site:queryparam}}"
             "&var-system=${__value.raw}&${__url_time_range}"}]


def overview(currency: str) -> Json:
    """Given a currency code, return the overview dashboard: what outages cost, and where."""
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'site=~"$site", system=~"$system"'
    down = down_now(sel)
    hot = thresholds((None, "green"), (0.01, "red"))
    table_columns = [
        ("A", f"sum by (system) (outage_affected_users{{{sel}}}) and on (system) ({down})",
         "Users affected", "none"),
        ("B", f"sum by (system) (outage_cost_per_hour{{{sel}}}) and on (system) ({down})",
         f"Burn rate ({code} per hour)", money),
        ("C", f"sum by (system) (outage_open_incident_cost{{{sel}}}) and on (system) ({down})",
         "Running cost of this incident", money),
        ("D", f"max by (system) (outage_open_incident_duration_seconds{{{sel}}}) "
         f"and on (system) ({down})", "Down for", TIME_UNIT),
        ("E", f"max by (system, cause) (outage_system_cause{{{sel}}})", "", "none"),
    ]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (4, stat(f"Burn rate now ({code} per hour)", "What outages are costing per hour "
                     "right now: the sum of every system's current rate.",
                     f"sum(outage_cost_per_hour{{{sel}}})", money, colour=hot)),
            (4, stat("Cost today", "Cost of outages in the current calendar day of the agent's "
                     "cost.timezone, from its ledger (survives restarts).",
                     f"sum(outage_cost_current_day{{{sel}}})", money, colour=hot)),
            (4, stat("Cost this month", "Cost of outages in the current calendar month of the "
                     "agent's cost.timezone, from its ledger.",
                     f"sum(outage_cost_current_month{{{sel}}})", money, colour=hot)),
            (4, stat("Cost, last 30 days", "Cost of outages in the rolling 30 days to now "
                     "(needs 30 days of Prometheus retention).",
                     f"sum(increase(outage_cost_total{{{sel}}}[30d]))", money, colour=hot)),
            (4, stat("Systems down now", "Systems confirmed down, including those down behind a "
                     "dependency.", f"count({down}) or vector(0)", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Users affected now", "Concurrent users who cannot work normally now, "
                     "counted once at the root cause.",
                     f"sum(outage_affected_users{{{sel}}})", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
        ]),
        (7, [(24, table("Down now: users affected and running cost per system",
                        "Each system down now: users affected, what it costs per hour, what "
                        "the open incident has cost so far, how long it has been down, and the "
                        "root cause when it is down because of a dependency. Click a system "
                        "for its detail.", table_columns, detail_link()))]),
        (8, [
            (12, timeseries("Who is losing time: share of each group's time lost", "For each "
                            "group of people (cost.groups; 'everyone' without them), the share "
                            "of their working time lost to everything down at once: 1 - the "
                            "product of (1 - share x impact). It never exceeds 100%.",
                            [target('max by (group) (outage_group_loss_ratio{site=~"$site"})',
                                    legend="{{group}}")], "percentunit", bounds=(0, 1))),
            (12, timeseries(f"Who is losing time: cost per hour by group ({code})", "What each "
                            "group of people's lost time costs per hour: its concurrent users "
                            "x their hourly cost x the share of their time lost.",
                            [target('sum by (group) (outage_group_cost_per_hour'
                                    '{site=~"$site"})', legend="{{group}}")], money,
                            stack=True, decimals=0)),
        ]),
        (8, [(24, timeseries("Concurrent users by group: measured or schedule", "Each group "
                             "of people's concurrent users as costed: measured (a reading of "
                             "its users source in force) or from its schedule (no source, or "
                             "the fallback while the source fails or its readings are stale).",
                             [target(users_by_source('site=~"$site"'),
                                     legend="{{group}} {{users}}")],
                             "none", steps=True, decimals=0))]),
        (9, [
            (12, timeseries("Cumulative cost in range, by system", "Cost accrued since the "
                            "start of the time range, stacked by system.",
                            [target(cost_in_range(sel), legend="{{system}}")], money,
                            stack=True, decimals=0)),
            (12, timeseries(f"Burn rate by system ({code} per hour)", "What each system's "
                            "outage cost per hour, over time, stacked.",
                            [target(f"sum by (system) (outage_cost_per_hour{{{sel}}})",
                                    legend="{{system}}")], money, stack=True, decimals=0)),
        ]),
        (8, [(24, state_timeline("State of every system", "Up, degraded, down, maintenance or "
                                 "unknown, for every system over the range.", state_code(sel)))]),
        (7, [(24, timeseries("Business services: members out of service", "For each service "
                             "(services: in the config), how many of its members are down or "
                             "in maintenance: the redundancy it has left, over time. Empty "
                             "without services.",
                             [target(f"sum by (system) (outage_service_members{{{sel}, "
                                     'state=~"down|maintenance"})', legend="{{system}}")],
                             "none", steps=True, decimals=0))]),
        (9, [
            (8, bargauge("Availability in range (24x7)", "Share of the range each system was "
                         "not confirmed down (24x7). Business-hours availability is in "
                         "`outage-agent report`.", availability(sel), "percentunit",
                         decimals=2, bounds=(0, 1), descending=False,
                         colour=thresholds((None, "red"), (0.99, "orange"), (0.999, "green")))),
            (8, bargauge("Top systems by cost in range", "The systems whose outages cost most "
                         "over the time range.", "topk(10, sum by (system) (increase("
                         f"outage_cost_total{{{sel}}}[$__range])))", money)),
            (8, bargauge("Incidents in range, per system", "Outages confirmed (transitions into "
                         "down) per system over the time range.", "round(sum by (system) ("
                         f"increase(outage_incidents_total{{{sel}}}[$__range])))", "none",
                         colour=thresholds((None, "green"), (1, "orange")))),
        ]),
    ]
    return dashboard(OVERVIEW_UID, "Outage cost overview", "How much outages are costing now, "
                     f"today, this month, and which systems cost most. Money in {code}.",
                     grid(rows), multi_system=True)


def system_detail(currency: str) -> Json:
    """Given a currency code, return the detail dashboard for one system ($system)."""
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'site=~"$site", system="$system"'
    hot = thresholds((None, "green"), (0.01, "red"))
    bucket = f"outage_probe_duration_seconds_bucket{{{sel}}}[$__rate_interval]"
    quantiles = [target(f"histogram_quantile({q}, sum by (le) (rate({bucket})))", ref,
                        legend=f"p{round(q * 100)}")
                 for ref, q in (("A", 0.5), ("B", 0.9), ("C", 0.99))]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (4, stat("State now", "The system's confirmed state.", state_code(sel), "none",
                     decimals=None, mappings=state_mappings(),
                     colour=thresholds((None, "text")))),
            (4, stat("Down because of", "The root cause while this system is down because a "
                     "system it depends on is down (its users are costed there).",
                     f"max by (cause) (outage_system_cause{{{sel}}})", "none",
                     legend="{{cause}}", text_mode="name", no_value="no dependency down",
                     colour=thresholds((None, "orange")))),
            (4, stat(f"Burn rate now ({code} per hour)", "What this system's outage costs per "
                     "hour right now.", f"sum(outage_cost_per_hour{{{sel}}})", money,
                     colour=hot)),
            (4, stat("Running cost of the open incident", "Cost accrued by the open incident "
                     "(down or degraded) so far; 0 if none.",
                     f"sum(outage_open_incident_cost{{{sel}}})", money, colour=hot)),
            (4, stat("Open incident age", "How long the open incident has lasted; 0 if none.",
                     f"max(outage_open_incident_duration_seconds{{{sel}}})", TIME_UNIT,
                     colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Users affected now", "Concurrent users affected now (0 when the users "
                     "are counted at a root cause).", f"sum(outage_affected_users{{{sel}}})",
                     "none", colour=thresholds((None, "green"), (1, "red")))),
        ]),
        (4, [
            (4, stat("Cost today", "This system's outage cost in the current calendar day, "
                     "from the agent's ledger.", f"sum(outage_cost_current_day{{{sel}}})",
                     money, colour=hot)),
            (4, stat("Cost this month", "This system's outage cost in the current calendar "
                     "month, from the agent's ledger.",
                     f"sum(outage_cost_current_month{{{sel}}})", money, colour=hot)),
            (4, stat("Cost in range", "This system's outage cost over the time range.",
                     f"sum(increase(outage_cost_total{{{sel}}}[$__range]))", money,
                     colour=hot)),
            (4, stat("Incidents in range", "Outages confirmed over the time range.",
                     f"round(sum(increase(outage_incidents_total{{{sel}}}[$__range])))", "none",
                     colour=thresholds((None, "green"), (1, "orange")))),
            (4, stat("Downtime in range", "Confirmed down time over the range, including down "
                     "behind a dependency.",
                     f"sum(increase(outage_downtime_seconds_total{{{sel}}}[$__range]))",
                     TIME_UNIT, colour=thresholds((None, "green"), (1, "red")))),
            (4, stat("Availability in range (24x7)", "Share of the range the system was not "
                     "confirmed down. Business-hours availability is in `outage-agent report`.",
                     availability(sel, by=""), "percentunit", decimals=3,
                     colour=thresholds((None, "red"), (0.99, "orange"), (0.999, "green")))),
        ]),
        (5, [(24, state_timeline("State", "The system's state over the range.",
                                 state_code(sel)))]),
        (9, [
            (12, heatmap("Probe latency", "How long probes took: a histogram per interval.",
                         f"sum by (le) (increase({bucket}))")),
            (12, timeseries("Probe latency quantiles", "Median, 90th and 99th percentile probe "
                            "latency, from the histogram.", quantiles, "s")),
        ]),
        (8, [
            (6, timeseries("Probe success ratio", "Share of scrapes whose latest probe "
                           "succeeded (up or degraded).",
                           [target(f"avg(avg_over_time(outage_probe_success{{{sel}}}"
                                   "[$__rate_interval]))", legend="success")],
                           "percentunit", bounds=(0, 1))),
            (6, timeseries("Incidents (running count)", "Outages confirmed since the ledger "
                           "began: each step up is a new incident.",
                           [target(f"max(outage_incidents_total{{{sel}}})",
                                   legend="incidents")], "none", steps=True, decimals=0)),
            (6, timeseries(f"Burn rate ({code} per hour)", "What this system's outages cost "
                           "per hour, over time.",
                           [target(f"sum(outage_cost_per_hour{{{sel}}})", legend="burn rate")],
                           money, decimals=0)),
            (6, timeseries("Cumulative cost in range", "Cost accrued since the start of the "
                           "time range.", [target(cost_in_range(sel, by=""), legend="cost")],
                           money, decimals=0)),
        ]),
    ]
    return dashboard(DETAIL_UID, "Outage cost: system detail", "One system: state, probe "
                     f"latency and success, incidents, cost and cause. Money in {code}.",
                     grid(rows), multi_system=False)


def organisation(currency: str) -> Json:
    """Given a currency code, return the organisation dashboard: systems down at a quorum of
    the sites that probe them, and their cost counted once.

    It reads only the recording rules of deploy/prometheus/quorum.yml, which the Prometheus
    that sees every site loads: never an agent's own series, which would add up across sites.
    Those series carry no `site` label, so there is no Site variable.
    """
    money, code = money_unit(currency), currency.strip().upper()
    sel = 'system=~"$system"'
    cost_rate = f"outage:cost_per_hour:quorum{{{sel}}}"
    # Cost in range: the quorum cost rate (per hour) sampled every minute over the range, a
    # minute's worth each. Exact to the minute at each change, and a minute with no series
    # (no agent scraped) adds nothing. The rate of outage_cost_total would lag a new outage.
    in_range = f"sum_over_time({cost_rate}[$__range:1m])"
    votes = f"max by (system) (outage:system_down:sites{{{sel}}})"
    probing = f"max by (system) (outage:system_probing:sites{{{sel}}})"
    quorum = f"max by (system) (outage:system_down:quorum{{{sel}}})"
    hot = thresholds((None, "green"), (0.01, "red"))
    verdict = state_mappings(QUORUM_CODES)
    link = [{"title": "Open the system's detail dashboard, every site side by side", "url":
             f"/d/{DETAIL_UID}/{DETAIL_UID}?${{datasource:queryparam}}&var-site=$__all"
             "&var-system=${__value.raw}&${__url_time_range}"}]
    table_columns = [
        ("A", quorum, "Down at quorum", "none"),
        ("B", votes, "Sites seeing it down", "none"),
        ("C", probing, "Sites probing it", "none"),
        ("D", f"sum by (system) ({cost_rate})", f"Burn rate ({code} per hour)", money),
        ("E", f"sum by (system) ({in_range}) / 60", "Cost in range", money),
    ]
    rows: list[tuple[int, list[tuple[int, Json]]]] = [
        (4, [
            (6, stat("Systems down at quorum now", "Systems that most of the sites probing "
                     "them see down: outages of the organisation, not of one site's network.",
                     f"sum(outage:system_down:quorum{{{sel}}})", "none",
                     colour=thresholds((None, "green"), (1, "red")))),
            (6, stat("Systems seen down by any site now", "Systems at least one site sees "
                     "down, at quorum or not: more than the count at quorum means a site's own "
                     "network or uplink is failing.",
                     f"count(outage:system_down:sites{{{sel}}} > 0) or vector(0)", "none",
                     colour=thresholds((None, "green"), (1, "orange")))),
            (6, stat(f"Organisation burn rate now ({code} per hour)", "What outages cost the "
                     "organisation per hour now: each system down at quorum counted once, at "
                     "the rate its sites report, never once per site.", f"sum({cost_rate})",
                     money, colour=hot)),
            (6, stat("Organisation cost in range", "What outages at quorum cost over the time "
                     "range, counted once: the burn rate at quorum taken minute by minute "
                     "(to within a minute at each change).", f"sum({in_range}) / 60", money,
                     colour=hot)),
        ]),
        (8, [
            (16, table("Systems: votes and cost at quorum", "Every system the sites probe: "
                       "whether it is down at quorum, how many sites see it down of how many "
                       "probe it, its burn rate at quorum and what it cost over the range. "
                       "Click a system for its detail, every site side by side.",
                       table_columns, link, mappings={"A": verdict})),
            (8, bargauge("Share of probing sites that see it down", "Sites seeing the system "
                         "down over sites probing it, now. Above half is a quorum: two of "
                         "three, both of two.", f"{votes} / {probing}", "percentunit",
                         decimals=0, bounds=(0, 1),
                         colour=thresholds((None, "green"), (0.01, "orange"), (0.501, "red")))),
        ]),
        (7, [(24, state_timeline("Down at quorum, by system", "When each system was down for "
                                 "the organisation (at a majority of the sites probing it) "
                                 "over the range.", quorum, mappings=verdict))]),
        (9, [
            (12, timeseries("Sites seeing each system down", "How many sites saw each system "
                            "down, over the range: one site alone is its own network, most of "
                            "them is the system.", [target(votes, legend="{{system}}")],
                            "none", steps=True, decimals=0)),
            (12, timeseries(f"Burn rate at quorum by system ({code} per hour)", "What each "
                            "system's outage cost the organisation per hour over time, counted "
                            "once, stacked.",
                            [target(f"sum by (system) ({cost_rate})", legend="{{system}}")],
                            money, stack=True, decimals=0)),
        ]),
    ]
    templating = [
        variables(multi_system=True)[0],
        query_variable("system", "System", "label_values(outage:system_probing:sites, system)",
                       True),
    ]
    return dashboard(ORGANISATION_UID, "Outage cost: organisation (quorum across sites)",
                     "Outages of the organisation: systems down at most of the sites that "
                     "probe them, costed once, from the quorum recording rules "
                     f"(deploy/prometheus/quorum.yml). Money in {code}.", grid(rows),
                     multi_system=True, templating=templating)
