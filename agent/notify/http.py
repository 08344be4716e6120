"""POSTing JSON to a webhook, with errors that say whether a retry can help."""

from __future__ import annotations

import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests

from agent.notify.base import TransportError
from agent.probes.tcp import connect_reason

USER_AGENT = "outage-cost-agent"


def trusted(ca_file: str | None = None) -> str | bool:
    """Given a notifier's `ca_file`, return what requests verifies servers against: that file
    alone where configured, else the system's store as ssl.create_default_context() loads it
    for probes and SMTP (OpenSSL's default file, else its folder; SSL_CERT_FILE and
    SSL_CERT_DIR move them), not the certifi bundle requests would use. A path given here
    also keeps REQUESTS_CA_BUNDLE from choosing another. True (requests' own) only where the
    system has no store at all."""
    if ca_file:
        return ca_file
    system = ssl.get_default_verify_paths()
    return system.cafile or system.capath or True


def post_json(url: str, body: bytes, timeout: float,
              headers: dict[str, str] | None = None, ca_file: str | None = None) -> None:
    """POST `body`; raise TransportError unless the answer is 2xx."""
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    try:
        response = requests.post(url, data=body, headers=sent, timeout=timeout,
                                 allow_redirects=False, verify=trusted(ca_file))
    except requests.RequestException as exc:
        host = urlsplit(url).netloc.rpartition("@")[2]  # never a user and password
        raise TransportError(f"{host}: {request_reason(exc, timeout, url)}") from exc
    if 200 <= response.status_code < 300:
        return
    status = response.status_code
    retryable = status == 429 or status >= 500 or status == 408
    raise TransportError(f"HTTP {status}", permanent=not retryable,
                         retry_after=_retry_after(response.headers.get("Retry-After")))


def request_reason(exc: requests.RequestException, timeout: float, url: str) -> str:
    """Given a failed POST, return why in a few words, as a probe says it ("connection
    refused", "DNS: name or service not known", "TLS: certificate verify failed: ..."), not
    requests' repr of urllib3's pool and the error inside it."""
    root = _innermost(exc)
    if isinstance(root, ssl.SSLCertVerificationError):
        return f"TLS: certificate verify failed: {root.verify_message}"
    if isinstance(root, ssl.SSLError):
        return f"TLS: {(root.reason or str(root)).lower().replace('_', ' ')}"
    if isinstance(root, socket.gaierror):
        return f"DNS: {(root.strerror or 'lookup failed').lower()}"
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g}s"
    if isinstance(root, OSError) and root.errno is not None:
        return connect_reason(root)
    return f"{type(exc).__name__}: {_redacted(str(exc), url)}"


def _innermost(exc: BaseException) -> BaseException:
    """The error at the bottom of requests' wrapping: urllib3's, in its `reason`, wraps the
    socket's or ssl's as its cause."""
    seen = [exc]
    while len(seen) < 10:
        nxt = getattr(seen[-1], "reason", None)
        if not isinstance(nxt, BaseException):
            args = [a for a in seen[-1].args if isinstance(a, BaseException)]
            nxt = seen[-1].__cause__ or (args[0] if args else None) or seen[-1].__context__
        if nxt is None or nxt in seen:
            break
        seen.append(nxt)
    return seen[-1]


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _redacted(text: str, url: str) -> str:
    """Webhook URLs are secrets (Slack's and Teams' carry the token in the path), and HTTP
    libraries quote the path alone ("Max retries exceeded with url: /services/...")."""
    parts = urlsplit(url)
    tail = parts.path + (f"?{parts.query}" if parts.query else "")
    text = text.replace(url, "<webhook url>")
    return text.replace(tail, "<webhook path>") if len(tail) > 1 else text
