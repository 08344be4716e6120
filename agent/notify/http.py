"""POSTing JSON to a webhook, with errors that say whether a retry can help."""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import requests

from agent.notify.base import TransportError

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
        raise TransportError(f"{type(exc).__name__}: {_redacted(str(exc), url)}") from exc
    if 200 <= response.status_code < 300:
        return
    status = response.status_code
    retryable = status == 429 or status >= 500 or status == 408
    raise TransportError(f"HTTP {status}", permanent=not retryable,
                         retry_after=_retry_after(response.headers.get("Retry-After")))


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
