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
"""

from __future__ import annotations

import functools
from typing import Any

import httpx

from domain.outbound import OutboundError, OutcomeUnknown, ProviderRejected, ProviderUnavailable

# 4xx that mean "not now" rather than "never": refusing them for good would lose the work.
TRANSIENT_4XX = frozenset({408, 425, 429})
# The request certainly did not go out (`adapters.http_client` says which errors mean it).
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)
MAX_DETAIL = 200


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


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
    """The error a non-2xx status means (see the module's rules)."""
    if status >= 500 or status in TRANSIENT_4XX:
        return ProviderUnavailable(f"{party} answered {status} to the {what}: {detail}")
    if 400 <= status < 500:
        return ProviderRejected(f"{party} refused the {what} ({status}): {detail}")
    return OutcomeUnknown(f"{party} answered an unexpected {status} to the {what}: {detail}")


def error_text(response: httpx.Response) -> str:
    """The party's explanation: a JSON body's `error` (or the body), else the text."""
    try:
        body = response.json()
        text = str(body.get("error") or body) if isinstance(body, dict) else str(body)
    except ValueError:
        text = response.text
    return text[:MAX_DETAIL]
