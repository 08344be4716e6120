"""Read a probe mapping: one parser per key of each probe type, looked up by `type` in a
table, and turn a probe with its merged settings into the System that runs it."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from typing import Any, NamedTuple, cast

from agent.config.addresses import (
    has_credentials,
    host_error,
    host_port_error,
    is_ip,
    url_error,
)
from agent.config.timing import PROBE_SETTINGS, Setting, read_settings
from agent.config.tree import Context, Node, one_or_list
from agent.config.values import (
    Parser,
    as_list,
    as_mapping,
    boolean,
    choice,
    did_you_mean,
    existing_file,
    expect,
    integer,
    known_fields,
    non_empty,
    positive_duration,
    string,
    typed_mapping,
    validated,
)
from agent.model import (
    Check,
    CommandProbe,
    DnsProbe,
    HttpProbe,
    IcmpProbe,
    ProbeSpec,
    System,
    TcpProbe,
)

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA")


def _method(ctx: Context, node: Node) -> str | None:
    text = string(ctx, node)
    if text is not None and not re.fullmatch(r"[A-Za-z]+", text):
        ctx.bad(node, "not an HTTP method (e.g. GET, HEAD, POST)")
        return None
    return text.upper() if text is not None else None


def read_headers(ctx: Context, node: Node) -> tuple[tuple[str, str], ...] | None:
    mapping = as_mapping(ctx, node)
    if mapping is None:
        return None
    headers = []
    for name, child in mapping.items():
        value = string(ctx, child)
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            ctx.report(node.key_lines[name], child.path, "not a valid HTTP header name")
        elif value is not None and ("\r" in value or "\n" in value):
            ctx.bad(child, "a header value must be on one line")
        elif value is not None:
            headers.append((name, value))
    return tuple(headers) if len(headers) == len(mapping) else None


def _one_or_more(ctx: Context, node: Node, parse: Parser) -> tuple[Any, ...] | None:
    """Given one value or a list of them, return a tuple of parsed values."""
    items = one_or_list(node)
    values = [parse(ctx, item) for item in items]
    if not values:
        ctx.bad(node, "must not be empty")
    return tuple(values) if values and None not in values else None


def _statuses(ctx: Context, node: Node) -> tuple[int, ...] | None:
    return _one_or_more(ctx, node, lambda c, n: integer(c, n, 100, 599))


def _regex_error(text: str) -> str | None:
    try:
        re.compile(text)
    except (re.error, OverflowError, RecursionError) as err:
        return f"not a valid regular expression: {err}"
    return None


def _ip_version(ctx: Context, node: Node) -> int | None:
    version = expect(ctx, node, (int,), "4 or 6")
    if version is not None and version not in (4, 6):
        ctx.bad(node, "must be 4 or 6")
        return None
    return cast(int | None, version)


def _dns_name_error(text: str) -> str | None:
    return f"{text!r} is not a DNS name" if is_ip(text) or host_error(text) else None


def _argv(ctx: Context, node: Node) -> tuple[str, ...] | None:
    if isinstance(node.value, str) and not node.broken:
        try:
            example = repr(shlex.split(node.value)).replace("'", '"')
        except ValueError:
            example = '["/path/to/check", "-w", "10%"]'
        ctx.bad(node, f"the command runs without a shell, so give it as a list: {example}")
        return None
    items = as_list(ctx, node)
    if items is None:
        return None
    argv = [string(ctx, item) for item in items]
    if not argv or argv[0] == "":
        ctx.bad(node, "the command must name a program to run")
    elif any(arg is not None and "\0" in arg for arg in argv):
        ctx.bad(node, "arguments must not contain NUL characters")
    elif None not in argv:
        return tuple(arg for arg in argv if arg is not None)
    return None


_regex = validated(string, _regex_error)
_dns_name = validated(string, _dns_name_error)
_url = validated(string, url_error)
_host_port = validated(string, host_port_error)
_host = validated(string, host_error)
_server = validated(string, lambda text: None if is_ip(text, 6) else host_port_error(text, False))


def _check_http(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    if "client_key" in fields and "client_cert" not in fields:
        ctx.bad(fields["client_key"], "client_key needs client_cert")
    url = values.get("url")
    if "tls_expiry_degraded" in fields and url and not url.lower().startswith("https:"):
        ctx.bad(fields["tls_expiry_degraded"], "needs an https:// url: there is no certificate")
    names = [name for name, _ in values.get("headers", ()) if name.lower() == "authorization"]
    if names and url and has_credentials(url):
        ctx.bad(fields["headers"].value[names[0]], "the url's user:password@ is sent as an "
                "Authorization header of its own: give one or the other")


def _check_dns(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    version = {"A": 4, "AAAA": 6}.get(values.get("record_type", "A"))
    for value in values.get("expect", ()) if version else ():
        if not is_ip(value, version):
            ctx.bad(fields["expect"], f"{value!r} is not an IPv{version} address")


class _ProbeType(NamedTuple):
    """How to read one probe type: its dataclass, required keys, a parser per key."""

    cls: Callable[..., ProbeSpec]
    required: tuple[str, ...]
    fields: dict[str, Parser]
    check: Callable[[Context, dict[str, Node], dict[str, Any]], None] | None = None


_PROBE_TYPES: dict[str, _ProbeType] = {
    "http": _ProbeType(
        HttpProbe,
        ("url",),
        {
            "url": _url,
            "method": _method,
            "headers": read_headers,
            "body": string,
            "expect_status": _statuses,
            "body_contains": string,
            "body_regex": _regex,
            "tls_verify": boolean,
            "ca_file": existing_file,
            "client_cert": existing_file,
            "client_key": existing_file,
            "proxy": _url,
            "ip_version": _ip_version,
            "follow_redirects": boolean,
            "max_redirects": lambda ctx, node: integer(ctx, node, 0, 30),
            "tls_expiry_degraded": positive_duration,
        },
        _check_http,
    ),
    "tcp": _ProbeType(TcpProbe, ("target",), {"target": _host_port, "ip_version": _ip_version}),
    "dns": _ProbeType(
        DnsProbe,
        ("name",),
        {
            "name": _dns_name,
            "record_type": lambda ctx, node: choice(ctx, node, RECORD_TYPES, fold=True),
            "expect": lambda ctx, node: _one_or_more(ctx, node, non_empty),
            "server": _server,
        },
        _check_dns,
    ),
    "icmp": _ProbeType(
        IcmpProbe,
        ("host",),
        {
            "host": _host,
            "count": lambda ctx, node: integer(ctx, node, 1, 10),
            "ip_version": _ip_version,
        },
    ),
    "command": _ProbeType(CommandProbe, ("command",), {"command": _argv}),
}


class Probe(NamedTuple):
    spec: ProbeSpec
    settings: dict[str, Setting]


def read_probe(ctx: Context, node: Node) -> Probe | None:
    """Given a probe mapping, return its spec and its own timeout/degraded_after settings."""
    kind = _probe_type(ctx, node)
    if kind is None:
        return None
    what = f" for probe type {node.value['type'].value}"
    fields = known_fields(
        ctx, node, ("type", *kind.required), [*kind.fields, *PROBE_SETTINGS], what
    )
    if fields is None:
        return None
    values = {key: parse(ctx, fields[key]) for key, parse in kind.fields.items() if key in fields}
    settings = read_settings(ctx, fields, PROBE_SETTINGS, level=3)
    if None in values.values() or any(key not in fields for key in kind.required):
        return None
    if kind.check:
        kind.check(ctx, fields, values)
    return Probe(kind.cls(**values), settings)


def _probe_type(ctx: Context, node: Node) -> _ProbeType | None:
    mapping = typed_mapping(ctx, node, _PROBE_TYPES)
    if mapping is None:
        return None
    name = string(ctx, mapping["type"])
    if name is not None and name not in _PROBE_TYPES:
        hint = did_you_mean(name, _PROBE_TYPES) or f" (known: {', '.join(_PROBE_TYPES)})"
        ctx.bad(mapping["type"], f"unknown probe type {name!r}{hint}")
        return None
    return _PROBE_TYPES[name] if name is not None else None


def make_system(name: str, probe: Probe, merged: dict[str, Setting], **extra: Any) -> System:
    """Given a probe and the merged settings, return the System that runs it."""
    value = {key: setting.value for key, setting in merged.items()}
    check = Check(probe.spec, value["timeout"], value.get("degraded_after"))
    return System(
        name=name,
        check=check,
        interval=value["interval"],
        retry_interval=value["retry_interval"],
        down_interval=value.get("down_interval"),
        failure_threshold=int(value["failure_threshold"]),
        success_threshold=int(value["success_threshold"]),
        flap_threshold=int(value.get("flap_threshold", 5)),
        flap_window=value.get("flap_window", 600.0),
        **extra,
    )
