"""Maintainers' tools: the documentation's pictures and the docs site's link checks.

Not part of the installed package.
"""
