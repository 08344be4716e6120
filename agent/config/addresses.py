"""Why a host name, IP address, host:port or http(s) URL is not a usable one: pure functions
that return the reason as text, or None when the address is fine."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def is_ip(text: str, version: int | None = None) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or address.version == version


def host_error(host: str) -> str | None:
    """Given a host name or IP address, return why it is not one, or None."""
    if is_ip(host):
        return None
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    valid = len(name) <= 253 and all(_LABEL.fullmatch(label) for label in labels)
    if not valid or labels[-1].isdigit():
        return f"{host!r} is not a valid host name or IP address"
    return None


def host_port_error(
    text: str, port_required: bool = True, sample: str = "gateway.example.internal:443"
) -> str | None:
    """Given "host:port" or "[v6]:port" (port optional unless required), return why not, or None."""
    example = f"expected host:port, e.g. {sample} or [2001:db8::1]:443"
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
        if not is_ip(host, 6):
            return f"{host!r} in brackets is not an IPv6 address"
    elif text.count(":") > 1:
        return f"{example} (an IPv6 address goes in brackets)"
    else:
        host, colon, port = text.partition(":")
        port = port if colon else None
        if not host:
            return f"{example}: the host is missing"
        if error := host_error(host):
            return error
    if port is None:
        return example if port_required else None
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        return f"the port must be a number from 1 to 65535, got {port!r}"
    return None


def url_error(text: str) -> str | None:
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
        error = host_error(host.encode("idna").decode("ascii"))
    except UnicodeError:
        error = f"{host!r} is not a valid host name"
    return f"not a valid URL: {error}" if error else None


def has_credentials(url: str) -> bool:
    """Given a valid URL, return whether it carries a user (and password) before its host, as
    in https://user:password@host/: an http client makes an Authorization header of them."""
    return urlsplit(url).username is not None
