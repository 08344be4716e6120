"""Load and validate the agent's YAML configuration into the frozen dataclasses of `model`.

Every problem in a file is collected and reported at once, each with its line and key path
(`config.yaml:14: systems[1].probe.url: not a valid URL ...`), so one edit-check cycle fixes
them all. Only YAML's safe composer is used: we walk the node tree ourselves to keep line
numbers, and a budget on nodes and depth stops alias bombs and absurd nesting.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import math
import os
import re
import shlex
import zoneinfo
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import holidays as holidays_lib
import yaml

from agent.model import (
    AgentConfig,
    Check,
    CommandProbe,
    Config,
    CostConfig,
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    Maintenance,
    ProbeSpec,
    System,
    TcpProbe,
    UsersSchedule,
    UsersWindow,
)

__all__ = [
    "ConfigError",
    "Problem",
    "format_duration",
    "load_config",
    "parse_duration",
    "summary",
]

MAX_BYTES = 1024 * 1024  # a config is a few KiB; anything this big is the wrong file
MAX_NODES = 100_000  # values after alias expansion: stops "billion laughs" documents
MAX_DEPTH = 40  # the deepest real key path is about 6 levels
MAX_DURATION = 366 * 86400.0  # longer would overflow schedulers and mean a typo

LOG_LEVELS = ("debug", "info", "warning", "error")
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA")
CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


# --- problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding: where it is (file, line, key path) and what is wrong."""

    file: str
    line: int | None  # None only for problems with the file as a whole (unreadable, too big)
    path: str  # "systems[1].probe.url"; "" for the document itself
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """Raised once with every problem found, so they can all be fixed in one go."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


# --- durations --------------------------------------------------------------------------------

_DURATION = re.compile(
    r"(?:(?P<d>\d+(?:\.\d+)?)d)?(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+(?:\.\d+)?)ms)?"
)
_UNIT_SECONDS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | int | float) -> float:
    """Given "1h30m", "500ms", "30s" or a number of seconds, return seconds.

    Units run from largest to smallest, each at most once (as in Prometheus). Raise
    ValueError saying what is accepted if the text is not a duration or is negative.
    """
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a duration such as 30s, got {_kind(text)}")
    if isinstance(text, str):
        return _parse_duration_text(text)
    try:
        seconds = float(text)
    except OverflowError:
        raise ValueError("the duration is too large") from None
    if not math.isfinite(seconds):
        raise ValueError(f"a duration must be a finite number of seconds, got {text}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {text}")
    return seconds


def _parse_duration_text(text: str) -> float:
    """Given duration text, return seconds; raise ValueError if it is not one."""
    stripped = text.strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return parse_duration(float(stripped))
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None:
        raise ValueError(
            f"not a valid duration: {text!r} (use seconds or units ms, s, m, h, d "
            "from largest to smallest, e.g. 30s, 5m, 1h30m)"
        )
    seconds = sum(float(v) * _UNIT_SECONDS[unit] for unit, v in match.groupdict().items() if v)
    return parse_duration(seconds)


def format_duration(seconds: float) -> str:
    """Given seconds, return the short form used in the config ("1m30s", "500ms")."""
    if seconds < 1:
        return f"{seconds * 1000:g}ms"
    parts, rest = [], seconds
    for unit in ("d", "h", "m"):
        count, rest = divmod(rest, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{int(count)}{unit}")
    if rest or not parts:
        parts.append(f"{round(rest, 3):g}s")
    return "".join(parts)


# --- the YAML document as a tree of values with lines and paths ---------------------------------


@dataclass
class _Node:
    """A YAML value with where it came from. Mappings hold dict[str, _Node], lists list[_Node]."""

    value: Any
    line: int
    path: str
    broken: bool = False  # already reported (bad tag, unset variable): checks skip it quietly
    key_lines: dict[str, int] = field(default_factory=dict)


class _TooBig(Exception):
    """The document expands beyond the node or depth budget."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


_TAG = "tag:yaml.org,2002:"
_STR, _TIMESTAMP, _MERGE = f"{_TAG}str", f"{_TAG}timestamp", f"{_TAG}merge"
_SCALAR_TAGS = frozenset(f"{_TAG}{name}" for name in ("null", "bool", "int", "float"))
_ENV_REFERENCE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


def _short_tag(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(value: object) -> str:
    """Given a YAML value, return how a person would name its type in a message."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else "a mapping"


class _Builder:
    """Turn a composed YAML node graph into _Node trees, expanding aliases under a budget."""

    def __init__(self, ctx: _Context) -> None:
        self.ctx = ctx
        self.count = 0
        self.constructor = yaml.constructor.SafeConstructor()
        self.resolver = yaml.resolver.Resolver()

    def build(self, node: yaml.Node, path: str, depth: int = 0) -> _Node:
        self._spend(node, depth)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            items = [
                self.build(item, f"{path}[{index}]", depth + 1)
                for index, item in enumerate(node.value)
            ]
            return self._tagged(_Node(items, _line(node), path), node, f"{_TAG}seq")
        return self._scalar(cast(yaml.ScalarNode, node), path)  # the only other kind

    def _spend(self, node: yaml.Node, depth: int) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            message = f"the document expands to more than {MAX_NODES:,} values (alias bomb?)"
            raise _TooBig(_line(node), message)
        if depth > MAX_DEPTH:
            raise _TooBig(_line(node), f"values are nested more than {MAX_DEPTH} levels deep")

    def _tagged(self, result: _Node, node: yaml.Node, expected: str) -> _Node:
        if node.tag != expected:
            self.ctx.bad(result, f"unsupported YAML tag {_short_tag(node.tag)}")
            result.broken = True
        return result

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> _Node:
        result = _Node({}, _line(node), path)
        for key_node, value_node in self._entries(node, path, depth):
            if not isinstance(key_node, yaml.ScalarNode):
                self.ctx.report(_line(key_node), path, "keys must be plain strings")
                continue
            key, line = str(key_node.value), _line(key_node)
            if key in result.value:
                first = result.key_lines[key]
                self.ctx.report(line, _join(path, key), f"duplicate key (first on line {first})")
                continue
            result.key_lines[key] = line
            result.value[key] = self.build(value_node, _join(path, key), depth + 1)
        return self._tagged(result, node, f"{_TAG}map")

    def _entries(self, node: yaml.MappingNode, path: str, depth: int) -> list[tuple[Any, Any]]:
        """Given a mapping, return its pairs with `<<: *anchor` merges applied (own keys win)."""
        own, merged = [], []
        for key, value in node.value:
            if key.tag != _MERGE:
                own.append((key, value))
                continue
            for source in value.value if isinstance(value, yaml.SequenceNode) else [value]:
                self._spend(source, depth + 1)
                if isinstance(source, yaml.MappingNode):
                    merged.extend(self._entries(source, path, depth + 1))
                else:
                    self.ctx.report(_line(source), path, "a merge key (<<) must name a mapping")
        seen = {key.value for key, _ in own if isinstance(key, yaml.ScalarNode)}
        for key, value in merged:
            if isinstance(key, yaml.ScalarNode) and key.value not in seen:
                seen.add(key.value)
                own.append((key, value))
        return own

    def _scalar(self, node: yaml.ScalarNode, path: str) -> _Node:
        result = _Node(None, _line(node), path)
        if node.tag in (_STR, _TIMESTAMP):  # a timestamp stays text; maintenance parses it
            result.value = node.value
            if "$" in node.value:
                self._substitute(result, plain=node.style is None)
        elif node.tag in _SCALAR_TAGS:
            self._construct(result, node)
        else:
            self.ctx.bad(result, f"unsupported YAML tag {_short_tag(node.tag)}")
            result.broken = True
        return result

    def _construct(self, result: _Node, node: yaml.ScalarNode) -> None:
        try:
            result.value = self.constructor.construct_object(node)
        except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError):
            kind = node.tag.rpartition(":")[2]
            self.ctx.bad(result, f"cannot read {node.value[:40]!r} as {kind}")
            result.broken = True

    def _substitute(self, result: _Node, plain: bool) -> None:
        """Replace ${VAR} from the environment; a plain scalar is then re-read as YAML would."""
        text, errors = _substitute(result.value, self.ctx.env)
        for message in errors:
            self.ctx.bad(result, message)
        changed = text != result.value
        result.value, result.broken = text, bool(errors)
        if changed and plain and not errors:
            tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))
            if tag in _SCALAR_TAGS:
                self._construct(result, yaml.ScalarNode(tag, text))


def _substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Given text with ${VAR} references, return it expanded and any errors ($${ is a `${`)."""
    errors: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if match.group(0) == "$${":
            return "${"
        if name is None:
            errors.append("'${' must start a reference like ${NAME} (write '$${' for a literal)")
        elif name not in env:
            errors.append(f"environment variable {name} is not set")
        else:
            return env[name]
        return ""

    return _ENV_REFERENCE.sub(replace, text), errors


# --- reading the file ---------------------------------------------------------------------------


@dataclass
class _Context:
    """What every check needs: where problems go, the environment and paths to resolve against."""

    file: str
    env: Mapping[str, str]
    config_dir: Path
    problems: list[Problem] = field(default_factory=list)
    timezone: dt.tzinfo = dt.UTC  # cost.timezone, for naive maintenance times

    def report(self, line: int | None, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, line, path, message))

    def bad(self, node: _Node, message: str) -> None:
        self.report(node.line, node.path, message)


def _read_text(ctx: _Context) -> str | None:
    """Return the file's text, or None after reporting why it cannot be used."""
    try:
        with open(ctx.file, "rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as err:
        ctx.report(None, "", f"cannot read the file: {err.strerror or err}")
        return None
    if len(data) > MAX_BYTES:
        ctx.report(None, "", "the file is larger than 1 MiB; is it the right file?")
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        ctx.report(line, "", f"not UTF-8 text (byte 0x{data[err.start]:02x})")
        return None


class _Loader(yaml.SafeLoader):
    """The safe loader, refusing deep nesting as it composes: PyYAML's composer recurses,
    and its scanner slows quadratically with depth."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1
                raise _TooBig(line, f"values are nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _compose(ctx: _Context, text: str) -> yaml.Node | None:
    """Return the document's YAML node graph, or None after reporting a syntax error."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except _TooBig as err:
        ctx.report(err.line, "", str(err))
        return None
    except yaml.MarkedYAMLError as err:
        ctx.report(*_yaml_error(err))
        return None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        ctx.report(line, "", f"invalid YAML: {err.reason} character {err.character!r}")
        return None
    if node is None:
        ctx.report(1, "", "the file is empty")
    return node


def _yaml_error(err: yaml.MarkedYAMLError) -> tuple[int | None, str, str]:
    """Given a YAML syntax error, return its line and a message naming where the context began."""
    mark = err.problem_mark or err.context_mark
    line = mark.line + 1 if mark else None
    message = f"invalid YAML: {err.problem or err.context}"
    if err.problem and err.context:
        start = err.context_mark.line + 1 if err.context_mark else line
        message += f" ({err.context}" + (f" from line {start})" if start != line else ")")
    return line, "", message


def _read_tree(ctx: _Context) -> _Node | None:
    """Return the file as a _Node tree, or None after reporting why it cannot be read."""
    text = _read_text(ctx)
    document = _compose(ctx, text) if text is not None else None
    if document is None:
        return None
    try:
        root = _Builder(ctx).build(document, "")
    except _TooBig as err:
        ctx.report(err.line, "", str(err))
        return None
    if not isinstance(root.value, dict):
        kind = _kind(root.value)
        ctx.bad(root, f"the top level must be a mapping (agent, cost, systems...), got {kind}")
        return None
    return root


# --- checking values ------------------------------------------------------------------------------


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _expect(ctx: _Context, node: _Node, types: tuple[type, ...], what: str) -> Any:
    """Return the node's value if it is one of `types` (a bool is no number), else report."""
    if node.broken:
        return None
    value = node.value
    if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
        return value
    ctx.bad(node, f"expected {what}, got {_kind(value)}")
    return None


def _mapping(ctx: _Context, node: _Node) -> dict[str, _Node] | None:
    result: dict[str, _Node] | None = _expect(ctx, node, (dict,), "a mapping")
    return result


def _list(ctx: _Context, node: _Node) -> list[_Node] | None:
    result: list[_Node] | None = _expect(ctx, node, (list,), "a list")
    return result


def _fields(
    ctx: _Context,
    node: _Node,
    required: Iterable[str],
    optional: Iterable[str],
    what: str = "",
) -> dict[str, _Node] | None:
    """Given a mapping node, report unknown and missing keys; return the known ones."""
    mapping = _mapping(ctx, node)
    if mapping is None:
        return None
    required = list(required)
    allowed = list(dict.fromkeys([*required, *optional]))
    for key, child in mapping.items():
        if key not in allowed:
            hint = _did_you_mean(key, allowed) or f" (known: {', '.join(sorted(allowed))})"
            ctx.report(node.key_lines[key], child.path, f"unknown key{what}{hint}")
    for key in required:
        if key not in mapping:
            ctx.report(node.line, _join(node.path, key), "required key is missing")
    return {key: child for key, child in mapping.items() if key in allowed}


_QUOTE_IT = "expected a string, got a boolean (quote it: YAML reads bare yes/no/on/off as booleans)"


def _string(ctx: _Context, node: _Node) -> str | None:
    if isinstance(node.value, bool) and not node.broken:  # `holidays: NO` is Norway, or false
        ctx.bad(node, _QUOTE_IT)
        return None
    result: str | None = _expect(ctx, node, (str,), "a string")
    return result


def _text(ctx: _Context, node: _Node) -> str | None:
    """A non-empty string."""
    text = _string(ctx, node)
    if text is not None and not text.strip():
        ctx.bad(node, "must not be empty")
        return None
    return text


def _boolean(ctx: _Context, node: _Node) -> bool | None:
    result: bool | None = _expect(ctx, node, (bool,), "true or false")
    return result


def _number(ctx: _Context, node: _Node) -> float | None:
    value = _expect(ctx, node, (int, float), "a number")
    if value is None:
        return None
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        ctx.bad(node, "must be a finite number")
        return None
    return number


def _ranged(
    check: Callable[[float], bool], message: str
) -> Callable[[_Context, _Node], float | None]:
    """Return a number parser that reports `message` when `check` fails."""

    def parse(ctx: _Context, node: _Node) -> float | None:
        number = _number(ctx, node)
        if number is not None and not check(number):
            ctx.bad(node, message)
            return None
        return number

    return parse


_non_negative = _ranged(lambda n: n >= 0, "must not be negative")
_fraction = _ranged(lambda n: 0 <= n <= 1, "must be between 0 and 1")


def _integer(ctx: _Context, node: _Node, low: int, high: int) -> int | None:
    value: int | None = _expect(ctx, node, (int, float), "a whole number")
    if value is None:
        return None
    if isinstance(value, float) or not low <= value <= high:
        ctx.bad(node, f"must be a whole number from {low} to {high}")
        return None
    return value


def _choice(ctx: _Context, node: _Node, choices: Iterable[str], fold: bool = False) -> str | None:
    """A string from a fixed set (compared upper-cased when `fold`)."""
    text = _string(ctx, node)
    choices = list(choices)
    if text is None:
        return None
    if fold:
        text = text.upper()
    if text not in choices:
        ctx.bad(node, f"must be one of {', '.join(choices)}{_did_you_mean(text, choices)}")
        return None
    return text


def _duration(ctx: _Context, node: _Node) -> float | None:
    if node.broken:
        return None
    try:
        seconds = parse_duration(node.value)
    except ValueError as err:
        ctx.bad(node, str(err))
        return None
    if seconds > MAX_DURATION:
        ctx.bad(node, f"must not be longer than {format_duration(MAX_DURATION)}")
        return None
    return seconds


def _positive_duration(ctx: _Context, node: _Node) -> float | None:
    seconds = _duration(ctx, node)
    if seconds == 0:
        ctx.bad(node, "must be greater than zero")
        return None
    return seconds


def _threshold(ctx: _Context, node: _Node) -> int | None:
    return _integer(ctx, node, 1, 1000)


# --- hosts, ports and URLs ---------------------------------------------------------------------

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def _is_ip(text: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def _host_error(host: str) -> str | None:
    """Given a host name or IP address, return why it is not one, or None."""
    if _is_ip(host):
        return None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    valid = len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
    if not valid or labels[-1].isdigit():
        return f"{host!r} is not a valid host name or IP address"
    return None


def _host_port_error(
    text: str, port_required: bool = True, sample: str = "gateway.example.internal:443"
) -> str | None:
    """Given "host:port" or "[v6]:port" (port optional unless required), return why not, or None."""
    example = f"expected host:port, e.g. {sample} or [2001:db8::1]:443"
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
        if not _is_ip(host, 6):
            return f"{host!r} in brackets is not an IPv6 address"
    elif text.count(":") > 1:
        return f"{example} (an IPv6 address goes in brackets)"
    else:
        host, colon, port = text.partition(":")
        port = port if colon else None
        if not host:
            return f"{example}: the host is missing"
        if error := _host_error(host):
            return error
    if port is None:
        return example if port_required else None
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"the port must be a number from 1 to 65535, got {port!r}"
    return None


def _url_error(text: str) -> str | None:
    """Given an http(s) URL, return why it is not a usable one, or None."""
    if not text or any(char.isspace() for char in text):
        return "not a valid URL: it is empty or contains spaces"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError as err:
        return f"not a valid URL: {err}"
    if not parts.scheme:
        return f"not a valid URL: it needs a scheme, e.g. https://{text.lstrip('/')}"
    if parts.scheme not in ("http", "https"):
        return f"not a valid URL: the scheme must be http or https, not {parts.scheme!r}"
    if not host:
        return "not a valid URL: it has no host"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "not a valid URL: the port must be a number from 1 to 65535"
    try:
        error = _host_error(host.encode("idna").decode("ascii"))
    except UnicodeError:
        error = f"{host!r} is not a valid host name"
    return f"not a valid URL: {error}" if error else None


def _validated(
    parse: Callable[[_Context, _Node], str | None], why: Callable[[str], str | None]
) -> Callable[[_Context, _Node], str | None]:
    """Return a parser that reads a string with `parse`, then reports `why` it is invalid."""

    def check(ctx: _Context, node: _Node) -> str | None:
        text = parse(ctx, node)
        error = why(text) if text is not None else None
        if error:
            ctx.bad(node, error)
            return None
        return text

    return check


_url = _validated(_string, _url_error)
_host_port = _validated(_string, _host_port_error)
_host = _validated(_string, _host_error)
_server = _validated(
    _string, lambda text: None if _is_ip(text, 6) else _host_port_error(text, False)
)


# --- probes -------------------------------------------------------------------------------------


def _method(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    if text is not None and not re.fullmatch(r"[A-Za-z]+", text):
        ctx.bad(node, "not an HTTP method (e.g. GET, HEAD, POST)")
        return None
    return text.upper() if text is not None else None


def _headers(ctx: _Context, node: _Node) -> tuple[tuple[str, str], ...] | None:
    mapping = _mapping(ctx, node)
    if mapping is None:
        return None
    headers = []
    for name, child in mapping.items():
        value = _string(ctx, child)
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            ctx.report(node.key_lines[name], child.path, "not a valid HTTP header name")
        elif value is not None and ("\r" in value or "\n" in value):
            ctx.bad(child, "a header value must be on one line")
        elif value is not None:
            headers.append((name, value))
    return tuple(headers) if len(headers) == len(mapping) else None


def _one_or_more(
    ctx: _Context, node: _Node, parse: Callable[[_Context, _Node], Any]
) -> tuple[Any, ...] | None:
    """Given one value or a list of them, return a tuple of parsed values."""
    items = node.value if isinstance(node.value, list) and not node.broken else [node]
    values = [parse(ctx, item) for item in items]
    if not values:
        ctx.bad(node, "must not be empty")
    return tuple(values) if values and None not in values else None


def _statuses(ctx: _Context, node: _Node) -> tuple[int, ...] | None:
    return _one_or_more(ctx, node, lambda c, n: _integer(c, n, 100, 599))


def _regex(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    if text is None:
        return None
    try:
        re.compile(text)
    except (re.error, OverflowError, RecursionError) as err:
        ctx.bad(node, f"not a valid regular expression: {err}")
        return None
    return text


def _file(ctx: _Context, node: _Node) -> str | None:
    """A path to an existing file; a relative one is against the config file's folder."""
    text = _path(ctx, node)
    if text is None:
        return None
    path = os.path.abspath(ctx.config_dir / text)
    if not os.path.isfile(path):
        ctx.bad(node, f"no such file: {path}")
        return None
    return path


def _ip_version(ctx: _Context, node: _Node) -> int | None:
    version = _expect(ctx, node, (int,), "4 or 6")
    if version is not None and version not in (4, 6):
        ctx.bad(node, "must be 4 or 6")
        return None
    return cast(int | None, version)


def _dns_name(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    if text is not None and (_is_ip(text) or _host_error(text)):
        ctx.bad(node, f"{text!r} is not a DNS name")
        return None
    return text


def _argv(ctx: _Context, node: _Node) -> tuple[str, ...] | None:
    if isinstance(node.value, str) and not node.broken:
        try:
            example = repr(shlex.split(node.value)).replace("'", '"')
        except ValueError:
            example = '["/path/to/check", "-w", "10%"]'
        ctx.bad(node, f"the command runs without a shell, so give it as a list: {example}")
        return None
    items = _list(ctx, node)
    if items is None:
        return None
    argv = [_string(ctx, item) for item in items]
    if not argv or argv[0] == "":
        ctx.bad(node, "the command must name a program to run")
    elif any(arg is not None and "\0" in arg for arg in argv):
        ctx.bad(node, "arguments must not contain NUL characters")
    elif None not in argv:
        return tuple(arg for arg in argv if arg is not None)
    return None


def _check_http(ctx: _Context, fields: dict[str, _Node], values: dict[str, Any]) -> None:
    if "client_key" in fields and "client_cert" not in fields:
        ctx.bad(fields["client_key"], "client_key needs client_cert")


def _check_dns(ctx: _Context, fields: dict[str, _Node], values: dict[str, Any]) -> None:
    version = {"A": 4, "AAAA": 6}.get(values.get("record_type", "A"))
    for value in values.get("expect", ()) if version else ():
        if not _is_ip(value, version):
            ctx.bad(fields["expect"], f"{value!r} is not an IPv{version} address")


_Parser = Callable[[_Context, _Node], Any]


class _ProbeType(NamedTuple):
    """How to read one probe type: its dataclass, required keys, a parser per key."""

    cls: Callable[..., ProbeSpec]
    required: tuple[str, ...]
    fields: dict[str, _Parser]
    check: Callable[[_Context, dict[str, _Node], dict[str, Any]], None] | None = None


_PROBE_TYPES: dict[str, _ProbeType] = {
    "http": _ProbeType(
        HttpProbe,
        ("url",),
        {
            "url": _url,
            "method": _method,
            "headers": _headers,
            "body": _string,
            "expect_status": _statuses,
            "body_contains": _string,
            "body_regex": _regex,
            "tls_verify": _boolean,
            "ca_file": _file,
            "client_cert": _file,
            "client_key": _file,
            "proxy": _url,
            "ip_version": _ip_version,
            "follow_redirects": _boolean,
            "max_redirects": lambda ctx, node: _integer(ctx, node, 0, 30),
        },
        _check_http,
    ),
    "tcp": _ProbeType(TcpProbe, ("target",), {"target": _host_port, "ip_version": _ip_version}),
    "dns": _ProbeType(
        DnsProbe,
        ("name",),
        {
            "name": _dns_name,
            "record_type": lambda ctx, node: _choice(ctx, node, RECORD_TYPES, fold=True),
            "expect": lambda ctx, node: _one_or_more(ctx, node, _text),
            "server": _server,
        },
        _check_dns,
    ),
    "icmp": _ProbeType(
        IcmpProbe,
        ("host",),
        {
            "host": _host,
            "count": lambda ctx, node: _integer(ctx, node, 1, 10),
            "ip_version": _ip_version,
        },
    ),
    "command": _ProbeType(CommandProbe, ("command",), {"command": _argv}),
}


# --- timing and share settings, inherited from `defaults` ---------------------------------------


class _Setting(NamedTuple):
    value: float
    node: _Node | None  # None: the built-in default
    level: int  # 0 built in, 1 defaults, 2 system, 3 probe: the most specific is blamed


_SETTINGS: dict[str, _Parser] = {
    "interval": _positive_duration,
    "retry_interval": _positive_duration,
    "timeout": _positive_duration,
    "failure_threshold": _threshold,
    "success_threshold": _threshold,
    "degraded_after": _positive_duration,
    "users_share": _fraction,
    "impact": _fraction,
    "degraded_impact": _fraction,
    "direct_cost_per_hour": _non_negative,
}
_BUILT_IN = {
    key: _Setting(value, None, 0)
    for key, value in {
        "interval": 30.0,
        "retry_interval": 5.0,
        "timeout": 10.0,
        "failure_threshold": 3,
        "success_threshold": 2,
        "users_share": 1.0,
        "impact": 1.0,
        "degraded_impact": 0.0,
        "direct_cost_per_hour": 0.0,
    }.items()
}
_SYSTEM_SETTINGS = tuple(key for key in _SETTINGS if key != "degraded_after")
_PROBE_SETTINGS = ("timeout", "degraded_after")


def _settings(
    ctx: _Context, fields: dict[str, _Node], keys: Iterable[str], level: int
) -> dict[str, _Setting]:
    """Return the settings among `keys` that are present and valid."""
    found = {}
    for key in keys:
        if key in fields and (value := _SETTINGS[key](ctx, fields[key])) is not None:
            found[key] = _Setting(value, fields[key], level)
    return found


_TIMING_RULES = (  # (shorter, longer, may they be equal?)
    ("timeout", "interval", False),
    ("retry_interval", "interval", True),
    ("degraded_after", "timeout", False),
)


def _check_timing(ctx: _Context, merged: dict[str, _Setting], owner: _Node) -> None:
    """Report timings that contradict each other, at the most specific setting involved."""
    for short, long, may_equal in _TIMING_RULES:
        if short not in merged:
            continue
        a, b = merged[short], merged[long]
        if a.value > b.value or (a.value == b.value and not may_equal):
            relation = "no longer than" if may_equal else "shorter than"
            message = (
                f"{short} ({format_duration(a.value)}) must be {relation} "
                f"{long} ({format_duration(b.value)})"
            )
            blamed = a if a.level >= b.level else b  # the one set closest to the system
            ctx.bad(blamed.node or owner, message)


class _Probe(NamedTuple):
    spec: ProbeSpec
    settings: dict[str, _Setting]


def _probe(ctx: _Context, node: _Node) -> _Probe | None:
    """Given a probe mapping, return its spec and its own timeout/degraded_after settings."""
    kind = _probe_type(ctx, node)
    if kind is None:
        return None
    what = f" for probe type {node.value['type'].value}"
    fields = _fields(ctx, node, ("type", *kind.required), [*kind.fields, *_PROBE_SETTINGS], what)
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in kind.fields.items() if key in fields}
    settings = _settings(ctx, fields, _PROBE_SETTINGS, level=3)
    if None in values.values() or any(key not in fields for key in kind.required):
        return None
    if kind.check:
        kind.check(ctx, fields, values)
    return _Probe(kind.cls(**values), settings)


def _probe_type(ctx: _Context, node: _Node) -> _ProbeType | None:
    mapping = _mapping(ctx, node)
    if mapping is None:
        return None
    if "type" not in mapping:
        known = ", ".join(_PROBE_TYPES)
        ctx.report(node.line, _join(node.path, "type"), f"required key is missing (one of {known})")
        return None
    name = _string(ctx, mapping["type"])
    if name is not None and name not in _PROBE_TYPES:
        hint = _did_you_mean(name, _PROBE_TYPES) or f" (known: {', '.join(_PROBE_TYPES)})"
        ctx.bad(mapping["type"], f"unknown probe type {name!r}{hint}")
        return None
    return _PROBE_TYPES[name] if name is not None else None


def _make_system(name: str, probe: _Probe, merged: dict[str, _Setting], **extra: Any) -> System:
    """Given a probe and the merged settings, return the System that runs it."""
    value = {key: setting.value for key, setting in merged.items()}
    check = Check(probe.spec, value["timeout"], value.get("degraded_after"))
    return System(
        name=name,
        check=check,
        interval=value["interval"],
        retry_interval=value["retry_interval"],
        failure_threshold=int(value["failure_threshold"]),
        success_threshold=int(value["success_threshold"]),
        **extra,
    )


# --- cost ---------------------------------------------------------------------------------------

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


def _cost(ctx: _Context, node: _Node | None) -> CostConfig:
    """Given the cost section, return it; the timezone is kept for maintenance times."""
    fields = _fields(ctx, node, ("concurrent_users",), _COST_KEYS) if node else None
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


def _currency(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    if text is not None and not re.fullmatch(r"[A-Z]{3}", text):
        ctx.bad(node, "must be a three-letter ISO 4217 code in capitals, e.g. GBP")
        return None
    return text


def _timezone(ctx: _Context, node: _Node) -> str | None:
    name = _text(ctx, node)
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = _did_you_mean(name, zoneinfo.available_timezones())
        ctx.bad(node, f"unknown time zone {name!r} (use an IANA name such as Europe/London){hint}")
        return None
    return name


def _hourly_cost(
    ctx: _Context, node: _Node, fields: dict[str, _Node]
) -> tuple[float | None, float | None, float | None]:
    """Return (hourly cost, annual cost, working hours): hourly is given or annual / hours."""
    annual_node = fields.get("annual_cost_per_user")
    hourly_node = fields.get("hourly_cost_per_user")
    hours_node = fields.get("working_hours_per_year")
    annual = _non_negative(ctx, annual_node) if annual_node else None
    hourly = _non_negative(ctx, hourly_node) if hourly_node else None
    hours = _working_hours(ctx, hours_node) if hours_node else None
    if annual_node and hourly_node:
        ctx.bad(hourly_node, "give annual_cost_per_user or hourly_cost_per_user, not both")
    elif not annual_node and not hourly_node:
        path = _join(node.path, "annual_cost_per_user")
        ctx.report(node.line, path, "required key is missing (or give hourly_cost_per_user)")
    elif hours_node and hourly_node:
        ctx.bad(hours_node, "only used with annual_cost_per_user")
    if annual is not None and hourly_node is None:
        hourly = annual / (hours or 1924.0)
    return hourly, annual, hours


_working_hours = _ranged(lambda n: 0 < n <= 8784, "must be more than 0 and at most 8784 (366 days)")


def _users(ctx: _Context, node: _Node) -> UsersSchedule | None:
    """Given a number or a schedule mapping, return the concurrent-users schedule."""
    if isinstance(node.value, dict):
        return _schedule(ctx, node)
    if isinstance(node.value, str | list | bool | None) and not node.broken:
        kind = _kind(node.value)
        ctx.bad(node, f"expected a number or a schedule (default, windows...), got {kind}")
        return None
    users = _non_negative(ctx, node)
    return UsersSchedule(default=users) if users is not None else None


def _schedule(ctx: _Context, node: _Node) -> UsersSchedule | None:
    fields = _fields(ctx, node, ("default",), ("windows", "holidays"))
    if fields is None:
        return None
    default = _non_negative(ctx, fields["default"]) if "default" in fields else None
    spec = _holidays(ctx, fields["holidays"]) if "holidays" in fields else None
    items = _list(ctx, fields["windows"]) if "windows" in fields else []
    windows = [_window(ctx, item) for item in items or ()]
    if default is None or None in windows:
        return None
    return UsersSchedule(default, tuple(w for w in windows if w is not None), spec)


def _holidays(ctx: _Context, node: _Node) -> str | None:
    """A holidays spec "GB-ENG" (country, then subdivision after the first '-') or "US"."""
    spec = _string(ctx, node)
    if spec is None:
        return None
    supported = holidays_lib.list_supported_countries()
    country, _, subdiv = spec.partition("-")
    if country not in supported:
        hint = _did_you_mean(country.upper(), supported)
        ctx.bad(node, f"no bank holidays known for country {country!r} (use e.g. GB-ENG){hint}")
        return None
    if subdiv and subdiv not in supported[country]:
        known = supported[country]
        listed = f" (known: {', '.join(known)})" if 0 < len(known) <= 20 else ""
        hint = _did_you_mean(subdiv, known) or listed
        ctx.bad(node, f"no bank holidays known for subdivision {subdiv!r} of {country}{hint}")
        return None
    return spec


def _window(ctx: _Context, node: _Node) -> UsersWindow | None:
    fields = _fields(ctx, node, ("days", "hours", "users"), ())
    if fields is None:
        return None
    days = _days(ctx, fields["days"]) if "days" in fields else None
    hours = _hours(ctx, fields["hours"]) if "hours" in fields else None
    users = _non_negative(ctx, fields["users"]) if "users" in fields else None
    if days is None or hours is None or users is None:
        return None
    return UsersWindow(days, hours[0], hours[1], users)


def _days(ctx: _Context, node: _Node) -> frozenset[int] | None:
    """Given "mon-fri", "sat,sun", "fri-mon" or a list of such, return weekdays (0 = Monday)."""
    items = node.value if isinstance(node.value, list) and not node.broken else [node]
    texts = [text for item in items if (text := _string(ctx, item)) is not None]
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
            hint = _did_you_mean(unknown[0], _DAYS) if unknown else ""
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


def _hours(ctx: _Context, node: _Node) -> tuple[dt.time, dt.time] | None:
    """Given "08:00-18:00", "22:00-06:00" or "00:00-24:00", return (start, end) local times."""
    text = _string(ctx, node)
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


# --- agent --------------------------------------------------------------------------------------

_AGENT_KEYS = ("listen", "ledger", "site", "max_unobserved_gap", "log_level", "canaries")


def _agent(
    ctx: _Context, node: _Node | None, defaults: dict[str, _Setting], state_directory: str | None
) -> AgentConfig:
    fields = (_fields(ctx, node, (), _AGENT_KEYS) if node else None) or {}
    listen = _listen(ctx, fields["listen"]) if "listen" in fields else None
    ledger = _path(ctx, fields["ledger"]) if "ledger" in fields else None
    site = _string(ctx, fields["site"]) if "site" in fields else None
    gap_node = fields.get("max_unobserved_gap")
    gap = _positive_duration(ctx, gap_node) if gap_node else None
    level = _choice(ctx, fields["log_level"], LOG_LEVELS) if "log_level" in fields else None
    canaries = _canaries(ctx, fields["canaries"], defaults) if "canaries" in fields else ()
    return AgentConfig(
        listen=listen or "127.0.0.1:9321",
        ledger=_ledger_path(ledger or "outage-ledger.db", ctx.config_dir, state_directory),
        site=site or "",
        canaries=canaries,
        max_unobserved_gap=gap or 300.0,
        log_level=level or "info",
    )


def _path(ctx: _Context, node: _Node) -> str | None:
    text = _text(ctx, node)
    if text is not None and "\0" in text:
        ctx.bad(node, "a path cannot contain a NUL character")
        return None
    return text


def _listen(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    error = _host_port_error(text, sample="127.0.0.1:9321") if text is not None else None
    if text is not None and text.startswith(":"):
        error = "give a host: 127.0.0.1:9321 for this machine, 0.0.0.0:9321 for every interface"
    if error:
        ctx.bad(node, error)
        return None
    return text


def _ledger_path(text: str, config_dir: Path, state_directory: str | None) -> Path:
    """Resolve a relative path against $STATE_DIRECTORY (its first entry) or the config's folder."""
    base = Path(state_directory.split(":")[0]) if state_directory else config_dir
    return Path(os.path.abspath(base / text))


def _canaries(ctx: _Context, node: _Node, defaults: dict[str, _Setting]) -> tuple[System, ...]:
    """Given probe specs, return systems named canary-1, canary-2... that cost nothing."""
    canaries = []
    for index, item in enumerate(_list(ctx, node) or ()):
        probe = _probe(ctx, item)
        if probe is None:
            continue
        merged = {**defaults, **probe.settings}
        _check_timing(ctx, merged, item)
        name = f"canary-{index + 1}"
        canaries.append(_make_system(name, probe, merged, users_share=0.0, impact=0.0))
    return tuple(canaries)


# --- systems ------------------------------------------------------------------------------------

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_LABELS = ("description", "owner", "supplier", "tier")
_COSTING = ("users_share", "impact", "degraded_impact", "direct_cost_per_hour")
_SYSTEM_KEYS = ("depends_on", *_LABELS, "sla", "maintenance", *_SYSTEM_SETTINGS)


def _systems(
    ctx: _Context, node: _Node | None, defaults: dict[str, _Setting]
) -> tuple[System, ...]:
    if node is None:
        return ()  # reported as a missing key
    if node.value in (None, []) and not node.broken:
        ctx.bad(node, "no systems configured")
        return ()
    items = _list(ctx, node) or []
    systems = [_system(ctx, item, defaults) for item in items]
    _check_dependencies(ctx, _check_names(ctx, items))
    return tuple(system for system in systems if system is not None)


def _system(ctx: _Context, node: _Node, defaults: dict[str, _Setting]) -> System | None:
    fields = _fields(ctx, node, ("name", "probe"), _SYSTEM_KEYS)
    if fields is None:
        return None
    name = _system_name(ctx, fields["name"]) if "name" in fields else None
    probe = _probe(ctx, fields["probe"]) if "probe" in fields else None
    labels = {key: _string(ctx, fields[key]) or "" for key in _LABELS if key in fields}
    sla = _sla(ctx, fields["sla"]) if "sla" in fields else None
    depends_on = _depends_on(ctx, fields["depends_on"]) if "depends_on" in fields else ()
    windows = _maintenance(ctx, fields["maintenance"]) if "maintenance" in fields else ()
    settings = _settings(ctx, fields, _SYSTEM_SETTINGS, level=2)
    if name is None or probe is None:
        return None
    merged = {**defaults, **settings, **probe.settings}
    _check_timing(ctx, merged, node)
    costing = {key: merged[key].value for key in _COSTING}
    extra = {"depends_on": depends_on, "maintenance": windows, "sla": sla, **costing, **labels}
    return _make_system(name, probe, merged, **extra)


def _system_name(ctx: _Context, node: _Node) -> str | None:
    name = _string(ctx, node)
    if name is not None and not _NAME.fullmatch(name):
        ctx.bad(node, "a name may only contain letters, digits, '_', '.' and '-'")
        return None
    return name


def _sla(ctx: _Context, node: _Node) -> float | None:
    """Given "99.9%" or 0.999, return the availability target as a fraction."""
    value = node.value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", value) if isinstance(value, str) else None
    if match:
        fraction: float | None = float(match[1]) / 100
    elif isinstance(value, int | float) and not isinstance(value, bool):
        fraction = _number(ctx, node)
        if fraction is not None and fraction > 1:
            ctx.bad(node, f"as a number, sla is a fraction such as 0.999; write '{value}%' instead")
            return None
    else:
        if not node.broken:
            kind = _kind(value)
            ctx.bad(node, f'expected a percentage such as "99.9%" or a fraction, got {kind}')
        return None
    if fraction is not None and not 0 < fraction <= 1:
        ctx.bad(node, "must be more than 0% and at most 100%")
        return None
    return fraction


def _depends_on(ctx: _Context, node: _Node) -> tuple[str, ...]:
    names = [name for item in _list(ctx, node) or () if (name := _string(ctx, item)) is not None]
    return tuple(dict.fromkeys(names))


def _items(node: _Node | None) -> list[_Node]:
    """The node's list items, or none if it is not a list (reported elsewhere)."""
    return node.value if node is not None and isinstance(node.value, list) else []


def _raw_string(node: _Node | None) -> str | None:
    """The node's string value if it has one (its type problems are reported elsewhere)."""
    if node is None or node.broken or not isinstance(node.value, str):
        return None
    return node.value


_Graph = dict[str, list[tuple[str, _Node]]]


def _check_names(ctx: _Context, items: list[_Node]) -> _Graph:
    """Report duplicate names (at the second); return name -> [(dependency, its node)]."""
    graph: _Graph = {}
    first_line: dict[str, int] = {}
    for item in items:
        fields = item.value if isinstance(item.value, dict) and not item.broken else {}
        name = _raw_string(fields.get("name"))
        if name is None:
            continue
        if name in graph:
            first = first_line[name]
            ctx.bad(fields["name"], f"duplicate system name {name!r} (first on line {first})")
            continue
        first_line[name] = fields["name"].line
        deps = _items(fields.get("depends_on"))
        graph[name] = [(dep, child) for child in deps if (dep := _raw_string(child)) is not None]
    return graph


def _check_dependencies(ctx: _Context, graph: _Graph) -> None:
    """Report dependencies on unknown systems, on the system itself, and cycles."""
    for name, deps in graph.items():
        seen: set[str] = set()
        for dep, node in deps:
            if dep == name:
                ctx.bad(node, "a system cannot depend on itself")
            elif dep not in graph:
                ctx.bad(node, f"unknown system {dep!r}{_did_you_mean(dep, graph)}")
            elif dep in seen:
                ctx.bad(node, f"{dep!r} is listed twice")
            seen.add(dep)
    for cycle, node in _find_cycles(graph):
        ctx.bad(node, f"dependency cycle: {' -> '.join(cycle)}")


def _find_cycles(graph: _Graph) -> list[tuple[list[str], _Node]]:
    """Given the dependency graph, return each cycle found by depth-first search with the
    dependency entry that closes it. Iterative, so a long chain cannot exhaust the stack."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    found = []
    for root in graph:
        if root in state:
            continue
        path, stack = [root], [(root, iter(graph[root]))]
        state[root] = 1
        while stack:
            name, edges = stack[-1]
            for dep, node in edges:
                if dep == name or dep not in graph:
                    continue
                if state.get(dep) == 1:
                    found.append(([*path[path.index(dep) :], dep], node))
                elif dep not in state:
                    state[dep] = 1
                    path.append(dep)
                    stack.append((dep, iter(graph[dep])))
                    break
            else:
                state[name] = 2
                path.pop()
                stack.pop()
    return found


# --- maintenance --------------------------------------------------------------------------------


def _maintenance(ctx: _Context, node: _Node) -> tuple[Maintenance, ...]:
    windows = [_maintenance_window(ctx, item) for item in _list(ctx, node) or ()]
    return tuple(window for window in windows if window is not None)


def _maintenance_window(ctx: _Context, node: _Node) -> Maintenance | None:
    """Given {cron, duration} or {from, to}, return the planned window."""
    fields = _fields(ctx, node, (), ("cron", "duration", "from", "to"))
    if fields is None:
        return None
    recurring = "cron" in fields or "duration" in fields
    one_off = "from" in fields or "to" in fields
    if recurring and one_off:
        ctx.bad(node, "give either cron with duration or from with to, not both")
    elif not recurring and not one_off:
        ctx.bad(node, "give either cron with duration (recurring) or from with to (one-off)")
    elif recurring:
        return _recurring(ctx, node, fields)
    else:
        return _one_off(ctx, node, fields)
    return None


def _require(
    ctx: _Context, node: _Node, fields: dict[str, _Node], keys: Iterable[str], why: str
) -> bool:
    missing = [key for key in keys if key not in fields]
    for key in missing:
        ctx.report(node.line, _join(node.path, key), f"required key is missing ({why})")
    return not missing


def _recurring(ctx: _Context, node: _Node, fields: dict[str, _Node]) -> Maintenance | None:
    if not _require(ctx, node, fields, ("cron", "duration"), "cron goes with duration"):
        return None
    cron = _cron(ctx, fields["cron"])
    duration = _positive_duration(ctx, fields["duration"])
    if cron is None or duration is None:
        return None
    return Maintenance(cron=cron, duration=duration)


def _cron(ctx: _Context, node: _Node) -> str | None:
    text = _string(ctx, node)
    if text is None:
        return None
    from agent.maintenance import cron_error  # late: config need not load the calendar code

    error = cron_error(text)
    if error:
        ctx.bad(node, error.removeprefix("cron: "))
        return None
    return text


def _one_off(ctx: _Context, node: _Node, fields: dict[str, _Node]) -> Maintenance | None:
    if not _require(ctx, node, fields, ("from", "to"), "from goes with to"):
        return None
    start = _datetime(ctx, fields["from"])
    end = _datetime(ctx, fields["to"])
    if start is None or end is None:
        return None
    if end <= start:
        ctx.bad(fields["to"], "must be later than from")
        return None
    return Maintenance(start=start, end=end)


_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)


def _datetime(ctx: _Context, node: _Node) -> dt.datetime | None:
    """Given ISO 8601 text, return an aware UTC datetime; a naive time is in cost.timezone."""
    text = _string(ctx, node)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ctx.timezone)
        moment = moment.astimezone(dt.UTC)
    except (ValueError, OverflowError):
        ctx.bad(node, "not an ISO 8601 date and time, e.g. 2026-12-24T18:00:00Z")
        return None
    if not _EARLIEST <= moment <= _LATEST:  # far dates overflow date arithmetic elsewhere
        ctx.bad(node, "must be between the years 1970 and 2999")
        return None
    return moment


# --- the whole file -------------------------------------------------------------------------------


def _config(ctx: _Context, root: _Node, state_directory: str | None) -> Config:
    fields = _fields(ctx, root, ("cost", "systems"), ("agent", "defaults")) or {}
    cost = _cost(ctx, fields.get("cost"))
    defaults = _defaults(ctx, fields.get("defaults"))
    agent = _agent(ctx, _optional_section(fields.get("agent")), defaults, state_directory)
    systems = _systems(ctx, fields.get("systems"), defaults)
    _check_canary_names(ctx, agent, fields.get("systems"))
    return Config(agent=agent, cost=cost, systems=systems, source=Path(os.path.abspath(ctx.file)))


def _optional_section(node: _Node | None) -> _Node | None:
    """An empty section (every line commented out) reads as null: treat it as absent."""
    return None if node is None or (node.value is None and not node.broken) else node


def _defaults(ctx: _Context, node: _Node | None) -> dict[str, _Setting]:
    """Given the defaults section, return the built-in settings overridden by it."""
    node = _optional_section(node)
    fields = (_fields(ctx, node, (), _SETTINGS) if node else None) or {}
    merged = {**_BUILT_IN, **_settings(ctx, fields, _SETTINGS, level=1)}
    if node is not None:
        _check_timing(ctx, merged, node)
    return merged


def _check_canary_names(ctx: _Context, agent: AgentConfig, node: _Node | None) -> None:
    """A system may not take a canary's generated name: they share metric labels."""
    reserved = {canary.name for canary in agent.canaries}
    for item in _items(node):
        name = _raw_string(item.value.get("name")) if isinstance(item.value, dict) else None
        if name in reserved:
            ctx.bad(item.value["name"], f"the name {name!r} is taken by one of agent.canaries")


def _tidy(problems: list[Problem]) -> list[Problem]:
    """Return problems without repeats (a bad default shows once, not per system), by line."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda problem: problem.line or 0)


def load_config(
    path: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    state_directory: str | None = None,
) -> Config:
    """Given a YAML file, return the validated Config; raise ConfigError listing every problem.

    `env` (default os.environ) supplies ${VAR}; `state_directory` (default $STATE_DIRECTORY,
    as systemd sets it) is where a relative ledger path goes, else the config file's folder.
    """
    env = os.environ if env is None else env
    state_directory = env.get("STATE_DIRECTORY") if state_directory is None else state_directory
    name = os.fsdecode(path)
    ctx = _Context(file=name, env=env, config_dir=Path(os.path.abspath(name)).parent)
    root = _read_tree(ctx)
    config = _config(ctx, root, state_directory) if root is not None else None
    if ctx.problems or config is None:
        raise ConfigError(_tidy(ctx.problems) or [Problem(name, None, "", "invalid configuration")])
    return config


# --- summary for `outage-agent check` ---------------------------------------------------------


def _figure(value: float) -> str:
    """A count or amount with thousands separators, without ".00" when it is whole."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _money(text: str, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def _cost_basis(cost: CostConfig) -> str:
    hourly = _money(f"{cost.hourly_cost_per_user:,.2f}", cost.currency)
    if cost.annual_cost_per_user is None:
        return f"{hourly} per user-hour (given)"
    annual = _money(_figure(cost.annual_cost_per_user), cost.currency)
    return f"{annual} / {_figure(cost.working_hours_per_year)} h = {hourly} per user-hour"


def summary(config: Config) -> str:
    """Given a loaded config, return a few lines saying what it will monitor and at what cost."""
    cost, canaries = config.cost, len(config.agent.canaries)
    peak = max([cost.users.default, *(window.users for window in cost.users.windows)])
    rate = f"{cost.hourly_cost_per_user:,.4f}".rstrip("0").rstrip(".")
    full = _money(f"{peak * cost.hourly_cost_per_user:,.2f}", cost.currency)
    systems = f"Systems: {len(config.systems)}"
    if canaries:
        systems += f" (and {canaries} {'canary' if canaries == 1 else 'canaries'})"
    return "\n".join(
        [
            systems,
            f"Currency: {cost.currency}; time zone: {cost.timezone}",
            f"Cost per user-hour: {_cost_basis(cost)}",
            f"Peak concurrent users: {_figure(peak)}",
            f"Peak cost of a full outage: {_figure(peak)} \N{MULTIPLICATION SIGN} "
            f"{_money(rate, cost.currency)} = {full} per hour",
        ]
    )
