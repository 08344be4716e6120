"""Outage Cost Agent: probe systems, record downtime windows, export the cost of outages."""

__version__ = "0.1.0"
