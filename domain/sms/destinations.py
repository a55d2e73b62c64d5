"""Which countries a client may text: a rule per client, a default for the others.

The country is the number's region as `phonenumbers` resolves it (`KE`, `TZ`; numbers
shared by several regions, such as +1, resolve per number). Non-geographic numbers
(+800, +882, ...) resolve to `001` and are allowed only where listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import phonenumbers

from domain.sms.errors import DestinationCountryNotAllowed

ANY_CLIENT = "*"


@dataclass(frozen=True)
class AllowedCountries:
    """`by_client` names each restricted client's countries; `default` applies to every
    other client (and to a sender that names no client). `None`: not restricted."""

    by_client: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default: frozenset[str] | None = None

    @classmethod
    def of(cls, rules: Mapping[str, Iterable[str]] | None) -> AllowedCountries:
        """From `{"client-a": ["KE", "TZ"], "*": ["KE"]}`; `None` allows every country."""
        if rules is None:
            return cls()
        countries = {client: frozenset(c.upper() for c in codes) for client, codes in rules.items()}
        default = countries.pop(ANY_CLIENT, None)
        return cls(by_client=countries, default=default)

    def check(self, client: str | None, phone_number: str) -> None:
        """Raise `DestinationCountryNotAllowed` unless `client` may text `phone_number`."""
        allowed = self.by_client.get(client, self.default) if client is not None else self.default
        if allowed is None:
            return
        country = country_of(phone_number)
        if country not in allowed:
            raise DestinationCountryNotAllowed(country, client)


def country_of(phone_number: str) -> str:
    """The region of an E.164 number (`ZZ` when `phonenumbers` knows none)."""
    try:
        parsed = phonenumbers.parse(phone_number, None)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return phonenumbers.region_code_for_number(parsed) or "ZZ"
