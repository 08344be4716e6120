"""Numbers as YAML 1.2 reads them, for PyYAML, which reads YAML 1.1.

YAML 1.1 turns `010` into 8 (octal), `1:30:00` into 5400 (base 60), `0b11` into 3 and
`25_000` into 25000, silently. Here only the YAML 1.2 core schema's forms are numbers:
decimal integers, with an optional sign, and floats (1.5, .5, 1e5, 2.5E-3, .inf, .nan).
`1:30:00`, `0b11` and `25_000` stay text, which a number field then refuses. Three forms
YAML 1.2 reads as numbers are refused where they are read, with their line, because a reader
of the file could take them for another number: a decimal with a leading zero (010: 8 in
YAML 1.1, 10 in 1.2) and octal or hexadecimal (0o10, 0x10). Booleans and nulls are YAML
1.1's, as before (yes/no/on/off are booleans, which no number field accepts).

This is the one place that changes PyYAML's resolution (through its public
`add_implicit_resolver`, on our own subclass); tests/config/test_numbers.py fails if an
upgrade changes what it resolves.
"""

from __future__ import annotations

import math
import re

import yaml

INT, FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"

# YAML 1.2.2, 10.3.2 (core schema). Integers come first: the float form matches them too.
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_LEADING_ZERO = re.compile(r"[-+]?0[0-9]+")


class NumberRefused(ValueError):
    """A scalar YAML 1.2 reads as a number, written so a reader could take it for another."""


class CoreResolver(yaml.resolver.Resolver):
    """YAML 1.1's implicit resolvers with its int and float ones replaced by YAML 1.2's."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in rules if tag not in (INT, FLOAT)]
        for first, rules in yaml.resolver.Resolver.yaml_implicit_resolvers.items()
    }


CoreResolver.add_implicit_resolver(INT, _INT, list("-+0123456789"))
CoreResolver.add_implicit_resolver(FLOAT, _FLOAT, list("-+.0123456789"))


def core_int(text: str) -> int:
    """Given text the core schema resolves as an integer, return it; raise NumberRefused
    for a leading zero, octal or hexadecimal, saying how to write it."""
    if text.startswith(("0o", "0x")):
        value = int(text[2:], 8 if text[1] == "o" else 16)
        raise NumberRefused(f"write numbers in decimal: {value}, not {text} "
                            "(quote it if it is text)")
    if _LEADING_ZERO.fullmatch(text):
        raise NumberRefused(f"a leading 0 makes a number ambiguous (YAML 1.1 reads it as "
                            f"octal): write {int(text)}, not {text} (quote it if it is text)")
    return int(text)


def core_float(text: str) -> float:
    """Given text the core schema resolves as a float, return it (.inf and .nan too)."""
    lowered = text.lower()
    if lowered.endswith(".inf"):
        return -math.inf if lowered.startswith("-") else math.inf
    if lowered == ".nan":
        return math.nan
    return float(text)


READERS = {INT: core_int, FLOAT: core_float}  # what the safe constructor does for 1.1's
