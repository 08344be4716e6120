"""Currency codes: ISO 4217's list as pycountry keeps it (updated with each amendment), so a
code that merely looks like one (`XYZ`) is refused wherever a currency is given."""

from __future__ import annotations

import pycountry


def currency_error(code: str) -> str | None:
    """Why `code` is not an ISO 4217 currency code in capitals (GBP, not gbp), or None."""
    if not (code.isascii() and code.isalpha() and len(code) == 3 and code.isupper()):
        return "must be a three-letter ISO 4217 code in capitals, e.g. GBP"
    if pycountry.currencies.get(alpha_3=code) is None:
        return f"{code!r} is not an ISO 4217 currency code"
    return None
