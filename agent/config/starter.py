"""The configuration `outage-agent init` writes: short, commented, and valid as written.

One system is on: the agent's own /healthz on loopback, so the first `run` shows a system up
while probing nothing beyond this machine. An example of each other probe type follows,
commented out, to edit and uncomment. Every other key is in config/example.yaml.
"""

from __future__ import annotations

import json

LISTEN = "127.0.0.1:9321"

# Examples are commented out a line at a time with "  # " before the system's own
# indentation, so removing those four characters from the lines that start "  #   " or
# "  # - " turns them on (tests/test_init.py does, to check they are valid).
_TEMPLATE = """\
# Outage Cost Agent configuration, written by `outage-agent init`.
# Check it after each change: outage-agent check -c THIS_FILE
# Every key is in config/example.yaml and docs/configuration.md; an unknown key is an
# error, so a typo never turns a setting off unseen.

agent:
  listen: "{listen}"  # /metrics, /healthz, the API and the status page
  ledger: outage-ledger.db  # the record of every outage; a relative path is beside this
                            # file, or in $STATE_DIRECTORY under systemd

cost:
  currency: {currency}  # ISO 4217
  timezone: {timezone}  # for the users schedule, maintenance and calendar days
  annual_cost_per_user: {annual_cost}  # salary with on-costs, per person, over...
  working_hours_per_year: 1924  # ...37 h x 52 weeks: what an hour of their time costs
  concurrent_users: {users}  # people at work at once (or a schedule: see example.yaml)

defaults:  # every system has these unless it sets its own
  interval: 30s  # between probes
  timeout: 10s  # a probe slower than this has failed
  failure_threshold: 3  # consecutive failures that confirm an outage
  success_threshold: 2  # consecutive successes that confirm the recovery

systems:
  # This agent's own web server, on loopback: `run` shows it up at once. Nobody's work stops
  # when it does, so it costs nothing. Replace it with your first system, or turn on the
  # examples below by deleting the "# " that starts each of their lines.
  - name: this-agent
    probe: {{type: http, url: "http://{listen}/healthz"}}
    users_share: 0  # share of the concurrent users who depend on it, 0 to 1
    impact: 1.0  # share of their work lost while it is down, 0 to 1

  # - name: email
  #   probe: {{type: tcp, target: "mail.example.internal:443"}}
  #   users_share: 0.9
  #   impact: 0.5

  # - name: intranet-dns
  #   probe: {{type: dns, name: "intranet.example.internal", server: "192.0.2.53"}}
  #   users_share: 1.0
  #   impact: 0.8

  # - name: core-router
  #   probe: {{type: icmp, host: "core-router.example.internal"}}
  #   users_share: 1.0

  # - name: backup-disk  # a Nagios plugin: exit 0 up, 1 degraded, 2 down
  #   depends_on: [core-router]  # its outages while core-router is down are core-router's
  #   probe:
  #     type: command
  #     command: [/usr/lib/nagios/plugins/check_disk, -w, "10%", -c, "5%", -p, /backup]
  #   interval: 5m
  #   users_share: 0.2

  # - name: payroll-export  # a heartbeat: the job pings /ping/<token> (docs/heartbeats.md)
  #   probe: {{type: heartbeat, schedule: "30 2 * * mon-fri", grace: 1h,
  #            token: "REPLACE-ME-with-openssl-rand-hex-16"}}
  #   users_share: 0.0
  #   direct_cost_per_hour: 400  # what a missed run costs while it is not put right
"""


def starter_config(users: float, annual_cost: float, currency: str, timezone: str) -> str:
    """Given init's options, return the file's text; the loader, not this, judges them."""
    return _TEMPLATE.format(listen=LISTEN, users=_number(users),
                            annual_cost=_number(annual_cost), currency=json.dumps(currency),
                            timezone=json.dumps(timezone))


def _number(value: float) -> str:
    """A figure as a person writes it: 2000, not 2000.0."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
