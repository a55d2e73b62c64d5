"""What may be shown of personal data in logs and error details.

`scrub` is for text the platform did not write: a third party's error answer, an SMTP
server's reply, a log line. It finds what a pattern can find: e-mail addresses and phone
numbers (and any long digit run: an account or card number). Names cannot be found by a
pattern, so whoever reads a third party's answer keeps only the fields that explain the
error (`adapters.outbound_http.error_text`) and caps their length.
"""

from __future__ import annotations

import re

# The characters of an address's local part (RFC 5322's atext, the dot and any letter),
# at most 64 of them (RFC 5321): the bound keeps the search linear on long text. In a
# URL (`%40` for `@`) the local part's `/?&=` would be encoded too, so there they end it:
# an address in a query string loses its local part, not the rest of the URL. The
# domain needs a dot, so a Message-ID (`<reimbursement-...@ledgerflow>`) is not one.
_LOCAL = r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@"
_LOCAL_IN_URL = r"[\w.!#$%'*+^`{|}~-]{1,64}%40"
_DOMAIN = r"[\w-]+(?:\.[\w-]+)+|\[[^\]\s]{1,64}\]"
_EMAIL = re.compile(rf"(?:{_LOCAL}|{_LOCAL_IN_URL})(?P<domain>{_DOMAIN})")
HIDDEN = "…"

# Our own ids stay readable: a UUID's groups are not a phone number.
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# An international number: `+` or `00`, or `(+44)`, then digit groups with at most one
# separator between them (`+44 (0)20 7946 0958`, `+1-202-555-0143`, `0045 20123456`).
_GROUP = r"(?:\(\d{1,4}\)|\d+)"
_INTERNATIONAL = (
    rf"(?:\(\s?(?:\+|00)\d{{1,4}}\s?\)|(?:\+|(?<!\d)00){_GROUP})(?:[ .\-\u00a0]?{_GROUP})*"
)
_NUMBERS = re.compile(
    rf"(?P<uuid>(?<![\w-]){_UUID}(?![\w-]))"
    rf"|(?P<international>{_INTERNATIONAL})"
    r"|(?P<digits>\d{8,})"
)
# Fewer digits than this after a `+` is not a phone number (`+1 day`, `+00:00`).
_MIN_PHONE_DIGITS = 7


def mask_phone_number(number: str) -> str:
    """Keep the country prefix and the last two digits: enough to correlate, not to dial."""
    if len(number) <= 6:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 6) + number[-2:]


def mask_email(match: re.Match[str]) -> str:
    """`…@example.com`: the domain says which mail system answered (one provider refusing
    every address is its outage, not the members'); the local part is the person."""
    return f"{HIDDEN}@{match.group('domain')}"


def _mask_number(match: re.Match[str]) -> str:
    if match.group("uuid"):
        return match.group()
    international = match.group("international")
    if international is None:
        return mask_phone_number(match.group())
    digits = re.sub(r"\D", "", international)
    if international.lstrip("( ").startswith("00"):
        digits = digits[2:]
    if len(digits) < _MIN_PHONE_DIGITS:
        return international
    # The number as E.164 would write it, masked as every phone number is.
    return mask_phone_number("+" + digits)


def scrub(text: str) -> str:
    """`text` with every e-mail address's local part hidden (`…@example.com`) and every
    phone number, in E.164 or a common international form, or run of 8 or more digits
    masked like `mask_phone_number` (`+254*******78`). UUIDs stay. Scrubbing twice
    changes nothing more."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(mask_email, text)
    return _NUMBERS.sub(_mask_number, text)
