"""Currency codes: ISO 4217's list as pycountry keeps it (updated with each amendment), so a
code that merely looks like one (`XYZ`) is refused wherever a currency is given: the config,
`init`, `dashboards` and `estimate` all ask `currency_error`, so one rule holds everywhere.
A code is written in capitals, as ISO writes it; `gbp` is refused with the code to write."""

from __future__ import annotations

import pycountry

# ISO 4217 codes that are not money an organisation pays people in: its "no currency" and
# testing codes, precious metals, and units of account. The X-codes of real currencies (XAF,
# XOF, XPF, XCD, XCG) are not here. pycountry lists these among the currencies unmarked.
NOT_MONEY = {
    "XXX": "no currency at all", "XTS": "testing",
    **dict.fromkeys(("XAU", "XAG", "XPD", "XPT"), "a precious metal"),
    **dict.fromkeys(("XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA", "XAD"),
                    "a unit of account"),
}


def currency_error(code: str) -> str | None:
    """Why `code` is not an ISO 4217 currency code in capitals (GBP, not gbp), or None."""
    if not (code.isascii() and code.isalpha() and len(code) == 3):
        return "must be a three-letter ISO 4217 code in capitals, e.g. GBP"
    if pycountry.currencies.get(alpha_3=code.upper()) is None:
        return f"{code!r} is not an ISO 4217 currency code"
    if not code.isupper():
        return f"{code!r}: write the code in capitals, {code.upper()}"
    if code in NOT_MONEY:
        return f"{code!r} is ISO 4217's code for {NOT_MONEY[code]}, not a currency"
    return None
