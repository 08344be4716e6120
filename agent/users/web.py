"""The HTTP settings prometheus and http_json sources share with http probes (TLS trust,
client certificate, headers, with their secrets kept out of logs by Config.secrets), and the
one GET of JSON they make."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import aiohttp

from agent.config.probes import http_url, read_headers
from agent.config.tree import Context, Node
from agent.config.values import Parser, boolean, existing_file
from agent.probes.http import USER_AGENT, HttpProbe, _check_keys
from agent.probes.http_client import BODY_LIMIT, error_reason, read_limited, ssl_context

WEB_FIELDS: Mapping[str, Parser] = {
    "url": http_url, "headers": read_headers, "tls_verify": boolean, "ca_file": existing_file,
    "client_cert": existing_file, "client_key": existing_file,
}


def check_keys(ctx: Context, fields: dict[str, Node], values: dict[str, Any]) -> None:
    """The http probe's checks of one key against another (client_key needs client_cert;
    the url's user:password@ or an Authorization header, not both), for a source."""
    _check_keys(ctx, fields, values)


class FetchError(Exception):
    """The answer could not be had; the message says why, in a few words."""


async def get_json(tls: HttpProbe, url: str, timeout: float,
                   params: Mapping[str, str] | None = None) -> Any:
    """GET `url` with the TLS settings and headers of `tls`, and return its JSON body;
    raise FetchError for anything but a 2xx answer of JSON (a redirect too: following one
    could carry the headers' secrets to another host). A session per reading: one a
    period needs no pool, and nothing is held open between them."""
    try:
        context = ssl_context(tls)
    except (OSError, ssl.SSLError) as exc:
        raise FetchError(f"TLS setup: {getattr(exc, 'strerror', None) or exc}") from exc
    headers = {"User-Agent": USER_AGENT, **dict(tls.headers)}
    try:
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context, force_close=True),
                trust_env=False, timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(url, headers=headers, params=params,
                            allow_redirects=False) as response:
            body = await read_limited(response.content)
            if 300 <= response.status < 400:  # its headers must never go to another host
                raise FetchError(f"HTTP {response.status}: a redirect, and sources do not "
                                 "follow redirects (give the final URL)")
            if not 200 <= response.status < 300:
                raise FetchError(f"HTTP {response.status}")
    except TimeoutError as exc:
        raise FetchError(f"timeout after {timeout:g}s") from exc
    except aiohttp.ClientError as exc:
        raise FetchError(error_reason(exc)) from exc
    if len(body) >= BODY_LIMIT:
        raise FetchError("answer too large")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep to read
        raise FetchError("answer is not JSON") from exc


def tls_of(values: Mapping[str, Any]) -> HttpProbe:
    """The TLS and header settings of a source, as an http probe carries them."""
    return HttpProbe(url=values["url"], headers=values.get("headers", ()),
                     tls_verify=values.get("tls_verify", True), ca_file=values.get("ca_file"),
                     client_cert=values.get("client_cert"), client_key=values.get("client_key"))
