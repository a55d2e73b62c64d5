"""How every HTTP adapter turns transport errors and status codes into the ports' errors
(`domain.outbound`), by whether the request can have had its effect:

- it certainly did not go out (connection refused, connect or pool timeout, the proxy
  refused a tunnel, the party refused the TLS handshake), or the party answered "not now"
  (5xx, 408, 425, 429) -> `ProviderUnavailable`: retry;
- it went out and no whole answer came back (read timeout, connection reset or closed,
  a malformed answer, one over the size cap) -> `OutcomeUnknown`;
- the party refused this request (any other 4xx) -> `ProviderRejected`: never retried.

An adapter handles its contract's own statuses first (a 404 that means "unknown
application", a 409 that means "already placed"), then hands the rest to `status_error`.

A party's words become our text in one place, `error_text` (or `party_text` for a field
of a 2xx answer), and a transport error's in `describe`: that text is recorded on work
rows and read models, shown to operators and logged, so it is scrubbed there
(`domain.privacy.scrub`): a party may echo the applicant's name, e-mail or phone number.
"""

from __future__ import annotations

import functools
from typing import Any

import httpx

from domain.outbound import OutboundError, OutcomeUnknown, ProviderRejected, ProviderUnavailable
from domain.privacy import HIDDEN, scrub

# 4xx that mean "not now" rather than "never": refusing them for good would lose the work.
TRANSIENT_4XX = frozenset({408, 425, 429})
# The request certainly did not go out (`adapters.http_client` says which errors mean it).
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
MAX_DETAIL = 200
# The fields of a JSON error answer that explain the error, in the order they are told;
# every other field (a name, an address, the request echoed back) is left out.
ERROR_FIELDS = (
    "code",
    "error_code",
    "error",
    "title",
    "message",
    "msg",
    "detail",
    "reason",
    "error_description",
)
_MAX_DEPTH = 3
_MAX_ITEMS = 5


def describe(error: BaseException) -> str:
    """`error`'s type and message, scrubbed: a transport error may quote the answer."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return scrub(text)


async def send(
    client: httpx.AsyncClient, method: str, url: str, *, party: str, **kwargs: Any
) -> httpx.Response:
    """Make the request; a transport error becomes `ProviderUnavailable` (not sent) or
    `OutcomeUnknown` (sent, no answer)."""
    try:
        return await client.request(method, _parsed(url), **kwargs)
    except NOT_SENT as error:
        raise ProviderUnavailable(f"{party} unreachable: {describe(error)}") from error
    except httpx.TransportError as error:
        raise OutcomeUnknown(
            f"no answer from the {party} after sending: {describe(error)}"
        ) from error


@functools.lru_cache(maxsize=1024)
def _parsed(url: str) -> httpx.URL:
    """`url`, parsed once: parsing and quoting a URL cost httpx as much as the rest of
    building a request, and an adapter calls the same few URLs over and over."""
    return httpx.URL(url)


def status_error(status: int, detail: str, *, party: str, what: str = "request") -> OutboundError:
    """The error a non-2xx status means (see the module's rules). `detail` is the party's
    explanation as `error_text` reads it; scrubbed again here (scrubbing twice changes
    nothing), so a caller passing a party's raw words leaks nothing either."""
    detail = scrub(detail)
    if status >= 500 or status in TRANSIENT_4XX:
        return ProviderUnavailable(f"{party} answered {status} to the {what}: {detail}")
    if 400 <= status < 500:
        return ProviderRejected(f"{party} refused the {what} ({status}): {detail}")
    return OutcomeUnknown(f"{party} answered an unexpected {status} to the {what}: {detail}")


def error_text(response: httpx.Response) -> str:
    """The party's explanation, scrubbed and capped: a JSON body's `ERROR_FIELDS` (in an
    `error` object or a list of errors too), else the text."""
    try:
        body = response.json()
    except ValueError:
        return party_text(response.text)
    return party_text(_explanation(body, 0) or _shape(body))


def party_text(text: str) -> str:
    """A party's words as our text: scrubbed, on one line, at most `MAX_DETAIL` long.
    Scrubbed before it is cut, so a cut never leaves half an address unrecognised."""
    text = " ".join(scrub(text).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + HIDDEN


def _explanation(value: object, depth: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    if depth >= _MAX_DEPTH:
        return ""
    if isinstance(value, dict):
        parts = (_explanation(value.get(field), depth + 1) for field in ERROR_FIELDS)
        return ": ".join(part for part in parts if part)
    if isinstance(value, list):
        parts = (_explanation(item, depth + 1) for item in value[:_MAX_ITEMS])
        return "; ".join(part for part in parts if part)
    return ""


def _shape(body: object) -> str:
    """What a JSON answer without an explanation holds: its fields' names, not values."""
    if isinstance(body, dict) and body:
        return f"no explanation (fields: {', '.join(sorted(map(str, body))[: _MAX_ITEMS * 2])})"
    return "no explanation"
