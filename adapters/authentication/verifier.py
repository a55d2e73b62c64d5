"""Verifying bearer tokens (JWTs) with PyJWT, and remembering the verified ones.

A token is verified once: its signature against the issuer's published key (RS256,
ES256 or EdDSA; `none` and the HS* family are refused before any key is looked up),
its `iss`, its `aud`, its `exp` and `nbf` (with `leeway_seconds`). The caller it names
is then remembered under the token's sha256 until the token expires, so a client
sending the same token on every request costs a hash and a dictionary lookup, not a
signature check; the expiry is still checked on every request.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import jwt
from jwt import exceptions as jwt_errors

from adapters.authentication.claims import ClaimPaths, InvalidClaims, principal_from
from adapters.authentication.keys import ALGORITHMS, KeySource, UnknownKey
from domain.access import Principal

# An access token's `typ` claim where the issuer sets one (Keycloak: `Bearer`, and `ID`
# for its ID tokens, which carry the same audience and must not pass for access tokens).
ACCESS_TOKEN_TYPES = frozenset({"bearer", "at+jwt"})


class InvalidToken(Exception):
    """The token was refused; the message says why, in words fit for the caller."""


@dataclass(frozen=True)
class TrustedIssuer:
    """Whose tokens the platform accepts, for which audience, and where their claims sit."""

    issuer: str
    audience: str = "ledgerflow"
    claims: ClaimPaths = field(default_factory=ClaimPaths)
    leeway_seconds: float = 30.0


class TokenVerifier:
    """Verifies tokens of one issuer; remembers at most `cache_size` verified ones."""

    def __init__(
        self,
        trusted: TrustedIssuer,
        keys: KeySource,
        *,
        cache_size: int = 10_000,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.trusted = trusted
        self._keys = keys
        self._cache_size = cache_size
        self._now = now
        # sha256 of a token -> (its principal, when it stops being accepted)
        self._verified: dict[bytes, tuple[Principal, float]] = {}

    def remembered(self, token: bytes) -> Principal | None:
        """The caller of a token verified before (`None`: not seen, verify it); an
        expired one is forgotten and refused."""
        digest = hashlib.sha256(token).digest()
        found = self._verified.get(digest)
        if found is None:
            return None
        if self._now() < found[1]:
            return found[0]
        del self._verified[digest]
        raise InvalidToken("the token has expired")

    async def verify(self, token: bytes) -> Principal:
        """Verify `token` in full and remember its caller until it expires."""
        principal, expires_at = await self._verify(token)
        self._remember(hashlib.sha256(token).digest(), principal, expires_at)
        return principal

    async def principal(self, token: bytes) -> Principal:
        """The caller `token` names, verified (once)."""
        return self.remembered(token) or await self.verify(token)

    async def _verify(self, token: bytes) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt_errors.DecodeError:
            raise InvalidToken("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            # Not echoed: the header is the caller's, the reason goes into a header.
            raise InvalidToken("the token's signing algorithm is not accepted")
        kid = header.get("kid")
        try:
            key = await self._keys.key(kid if isinstance(kid, str) else None)
        except UnknownKey:
            raise InvalidToken("the token's key is not one its issuer publishes") from None
        trusted = self.trusted
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=trusted.audience,
                issuer=trusted.issuer,
                leeway=trusted.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt_errors.InvalidTokenError as error:
            raise InvalidToken(_reason(error)) from None
        token_type = claims.get("typ")
        if isinstance(token_type, str) and token_type.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken("the token is not an access token")
        try:
            principal = principal_from(claims, trusted.claims)
        except InvalidClaims as error:
            raise InvalidToken(str(error)) from None
        # PyJWT's own rule: expired once `exp` is `leeway` behind now.
        return principal, float(claims["exp"]) + trusted.leeway_seconds

    def _remember(self, digest: bytes, principal: Principal, expires_at: float) -> None:
        verified = self._verified
        if len(verified) >= self._cache_size:
            now = self._now()
            for stale in [d for d, (_, until) in verified.items() if until <= now]:
                del verified[stale]
            while len(verified) >= self._cache_size:  # still full: the oldest go first
                del verified[next(iter(verified))]
        verified[digest] = (principal, expires_at)


def _reason(error: jwt_errors.InvalidTokenError) -> str:
    match error:
        case jwt_errors.ExpiredSignatureError():
            return "the token has expired"
        case jwt_errors.ImmatureSignatureError():
            return "the token is not valid yet"
        case jwt_errors.InvalidAudienceError():
            return "the token is not meant for this platform (audience)"
        case jwt_errors.InvalidIssuerError():
            return "the token is not from the trusted issuer"
        case jwt_errors.MissingRequiredClaimError():
            return f"the token has no {error.claim} claim"
        case jwt_errors.InvalidSignatureError():
            return "the token's signature does not verify"
        case jwt_errors.InvalidAlgorithmError():
            return "the token's algorithm does not match its key"
        case _:
            return "the token is malformed"
