"""Benchmarks: the agent against a loopback target farm, beside blackbox_exporter.

Not tests: `python -m benchmarks.run --help`. Everything they touch is on 127.0.0.0/8, and
every loop is bounded in count and time. See docs/performance.md for the latest figures.
"""
