"""Measured concurrent users: sources that read how many people are logged on (one module
per source type), the duty that reads them on their own schedule, and the users in force at
any time (readings, or the schedule where none is fresh)."""
