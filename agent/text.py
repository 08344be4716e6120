"""How money, times and durations read to people: one formatter for every message and page."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(amount: float, currency: str, pence: bool = True) -> str:
    """£1,234.56 (or 1,234.56 CHF for a currency without a symbol we know)."""
    figure = f"{amount:,.2f}" if pence else f"{amount:,.0f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{figure}" if symbol else f"{figure} {currency}"


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m 5s, 3h 20m, 2d 4h."""
    whole = max(0, round(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0s"


def plural(n: int, word: str) -> str:
    """1 window, 2 windows: a count with its noun, for every message that counts."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def iso(t: float | None) -> str | None:
    """ISO 8601 UTC with a Z, as the API and payloads give every time."""
    if t is None:
        return None
    text = dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def local(t: float, timezone: str, seconds: bool = False) -> str:
    """A time as people in the organisation read it: 2026-11-27 14:05 GMT (with `seconds`,
    14:05:07 GMT, where a minute is too coarse to tell two probes apart)."""
    from zoneinfo import ZoneInfo

    shape = "%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z"
    return dt.datetime.fromtimestamp(t, ZoneInfo(timezone)).strftime(shape)


USERINFO = re.compile(r"(?<=://)[^/@\s]+@")  # the user:password@ of a URL
SECRET_MIN_LENGTH = 4  # shorter values are no secret, and masking them would garble text
MASK = "<redacted>"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Given text for a log line, an error or an API answer, return it without the
    credentials of any URL in it and with each of `secrets` (passwords, tokens, webhook URLs:
    see `Config.secrets`) replaced by <redacted>, longest first."""
    for secret in sorted({s for s in secrets if len(s) >= SECRET_MIN_LENGTH}, key=len,
                         reverse=True):
        text = text.replace(secret, MASK)
    return USERINFO.sub("", text)
