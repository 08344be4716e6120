"""Judging an http answer, and where a redirect leads: the same rules whichever path (aiohttp
or the lean exchange) sent the request."""

from __future__ import annotations

import codecs
import dataclasses
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from yarl import URL

from agent.model import ProbeResult, Status

if TYPE_CHECKING:
    from agent.probes.http import HttpProbe

REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHARSET = re.compile(r";\s*charset\s*=\s*\"?([^\s\";]+)", re.IGNORECASE)


def charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if it has one."""
    match = _CHARSET.search(content_type or "")
    return match.group(1) if match else None


def decode(body: bytes, charset: str | None) -> str:
    try:
        return body.decode(codecs.lookup(charset or "utf-8").name, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def status_reason(status: int, expect: tuple[int, ...]) -> str:
    """Return "" if the status is acceptable, else a reason like "HTTP 503 (expected 200)"."""
    if expect:
        shown = ", ".join(str(code) for code in expect)
        return "" if status in expect else f"HTTP {status} (expected {shown})"
    return "" if status < 400 else f"HTTP {status}"


def body_reason(text: str, spec: HttpProbe) -> str:
    """Return "" if the body matches `body_contains` and `body_regex`, else why not."""
    if spec.body_contains is not None and spec.body_contains not in text:
        return f"body does not contain {spec.body_contains!r}"
    if spec.body_regex is not None and not re.search(spec.body_regex, text):
        return f"body does not match {spec.body_regex!r}"
    return ""


def expiry_reason(not_after: float, now: float, within: float) -> str:
    """Return "" if the certificate is valid for `within` seconds or more from `now`, else
    why the probe is degraded: "certificate expires in 9 days" (or "expired 2 days ago",
    only possible without verification)."""
    left = not_after - now
    if left >= within:
        return ""
    days = int(abs(left) // 86400)
    unit = "day" if days == 1 else "days"
    if left < 0:
        return f"certificate expired {days} {unit} ago"
    return f"certificate expires in {days} {unit}"


def _checks_body(spec: HttpProbe) -> bool:
    return spec.body_contains is not None or spec.body_regex is not None


@dataclass(frozen=True)
class Redirect:
    """An answer that sends the probe on: its status and Location."""

    status: int
    location: str


def redirect_to(spec: HttpProbe, status: int, location: str | None) -> Redirect | None:
    """The redirect to follow, or None if the answer is the one to judge."""
    if spec.follow_redirects and status in REDIRECTS and location:
        return Redirect(status, location)
    return None


def wants_body(spec: HttpProbe, status: int, location: str | None) -> bool:
    """Whether the body decides the verdict: it is checked, the status passes, and the
    answer is not a redirect to follow."""
    return (_checks_body(spec) and not status_reason(status, spec.expect_status)
            and redirect_to(spec, status, location) is None)


def judge(spec: HttpProbe, status: int, content_type: str | None, body: bytes | None,
          not_after: float | None = None) -> ProbeResult:
    """Given a final answer (its body only if `wants_body`, and the certificate's expiry
    over TLS), return the verdict."""
    facts = (("tls_not_after", not_after),) if not_after is not None else ()
    reason = status_reason(status, spec.expect_status)
    if not reason and body is not None:
        reason = body_reason(decode(body, charset(content_type)), spec)
    if reason:
        return ProbeResult(Status.DOWN, 0.0, reason, facts)
    if not_after is not None and spec.tls_expiry_degraded is not None:
        reason = expiry_reason(not_after, time.time(), spec.tls_expiry_degraded)
    return ProbeResult(Status.DEGRADED if reason else Status.UP, 0.0, reason, facts)


def redirected(spec: HttpProbe, redirect: Redirect) -> HttpProbe | None:
    """The probe's next request after a redirect: to the Location; a 303 (or a 301/302
    answering a POST) becomes a GET without the body. To another origin (scheme, host or
    port) no header the config sets goes along: not Authorization, Cookie or
    Proxy-Authorization, nor an API key or token; nor do credentials in the URL. None if the
    Location is not an http(s) URL (aiohttp: an invalid URL)."""
    url = URL(spec.url)
    try:
        target = url.join(URL(redirect.location))
    except ValueError:
        return None
    if target.scheme not in ("http", "https") or not target.host:
        return None
    method, body = spec.method.upper(), spec.body
    if (redirect.status == 303 and method != "HEAD") or (
            redirect.status in (301, 302) and method == "POST"):
        method, body = "GET", None
    headers = spec.headers
    if _origin(target) != _origin(url):
        headers = ()
    elif url.user is not None and target.user is None:  # as aiohttp keeps its auth
        target = target.with_user(url.user).with_password(url.password)
    return dataclasses.replace(spec, url=str(target), method=method, body=body,
                               headers=headers)


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.host, url.port  # the port, given or the scheme's default
