"""The public keys tokens are verified with: an issuer's JWKS fetched over HTTP, or keys
given at start (the development issuer's, read from its directory).

A JWKS is fetched on the first token and again when a token names a key id not seen yet
(the issuer rotated its keys), at most once per `min_refetch_seconds`: a flood of tokens
with made-up key ids costs the issuer one request per interval, not one each. Fetching
is asynchronous (httpx), so the event loop never waits on the issuer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import httpx
from jwt import PyJWK
from jwt.exceptions import PyJWKError

log = logging.getLogger(__name__)

# The signing algorithms accepted: asymmetric only (`none` and HS* never).
ALGORITHMS: frozenset[str] = frozenset({"RS256", "ES256", "EdDSA"})


class UnknownKey(Exception):
    """The token names a key the issuer does not publish (or no key, among several)."""


class KeysUnavailable(Exception):
    """The issuer's keys could not be fetched: no token can be verified meanwhile."""


class KeySource(Protocol):
    async def key(self, kid: str | None) -> PyJWK:
        """The public key of id `kid` (`None`: the token names none)."""
        ...


def signing_keys(jwks: Mapping[str, Any]) -> dict[str | None, PyJWK]:
    """The keys of a JWKS that can verify an accepted algorithm, by key id; the others
    (encryption keys, unknown types and algorithms) are left out."""
    keys: dict[str | None, PyJWK] = {}
    for data in jwks.get("keys", ()):
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        try:
            key = PyJWK(data)
        except PyJWKError:
            continue
        if key.algorithm_name in ALGORITHMS:
            keys[key.key_id] = key
    return keys


def _find(keys: Mapping[str | None, PyJWK], kid: str | None) -> PyJWK | None:
    if kid is None:  # a token without a key id is verifiable only against a lone key
        return next(iter(keys.values())) if len(keys) == 1 else None
    return keys.get(kid)


class StaticKeys:
    """Keys known at start (the development issuer's own)."""

    def __init__(self, keys: Iterable[PyJWK]) -> None:
        self._keys = {key.key_id: key for key in keys}

    async def key(self, kid: str | None) -> PyJWK:
        found = _find(self._keys, kid)
        if found is None:
            raise UnknownKey(kid)
        return found


class JwksKeys:
    """An issuer's JWKS at `url`, fetched when first needed and when an unknown key id
    arrives, at most once per `min_refetch_seconds` (failed fetches included)."""

    def __init__(
        self,
        url: str,
        *,
        min_refetch_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self._min_refetch = min_refetch_seconds
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._transport = transport
        self._keys: dict[str | None, PyJWK] = {}
        self._fetched_at: float | None = None
        self._last_fetch_failed = False
        self._lock = asyncio.Lock()

    async def key(self, kid: str | None) -> PyJWK:
        found = _find(self._keys, kid)
        if found is not None:
            return found
        async with self._lock:  # one fetch at a time; those waiting see its keys
            found = _find(self._keys, kid)
            if found is not None:
                return found
            if self._may_fetch():
                await self._fetch()
                found = _find(self._keys, kid)
                if found is not None:
                    return found
            if self._last_fetch_failed:
                raise KeysUnavailable(self.url)
            raise UnknownKey(kid)

    def _may_fetch(self) -> bool:
        return self._fetched_at is None or self._monotonic() - self._fetched_at >= self._min_refetch

    async def _fetch(self) -> None:
        self._fetched_at = self._monotonic()
        try:
            async with httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport
            ) as client:
                response = await client.get(self.url, headers={"accept": "application/json"})
                response.raise_for_status()
                jwks = response.json()
                if not isinstance(jwks, dict):
                    raise ValueError("the answer is not a JWKS")
        except (httpx.HTTPError, ValueError) as error:
            self._last_fetch_failed = True
            log.warning("the issuer's keys could not be fetched from %s: %s", self.url, error)
            return
        self._last_fetch_failed = False
        self._keys = signing_keys(jwks)
        log.info("fetched %d signing keys from %s", len(self._keys), self.url)
