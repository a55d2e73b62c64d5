"""Who is calling: bearer tokens (JWTs) verified against a trusted issuer's keys.

- `keys`: the issuer's public keys, a JWKS fetched over HTTP (`JwksKeys`) or given.
- `claims`: a verified token's claims as a `domain.access.Principal`.
- `verifier`: `TokenVerifier`, PyJWT's checks once per token, then its caller remembered.
- `development_issuer`: a signing key in a directory, for a platform run without an
  identity provider, and the tokens it signs.
"""

from adapters.authentication.claims import ClaimPaths
from adapters.authentication.development_issuer import DevelopmentIssuer, NoDevelopmentIssuer
from adapters.authentication.keys import JwksKeys, KeysUnavailable, StaticKeys
from adapters.authentication.verifier import InvalidToken, TokenVerifier, TrustedIssuer

__all__ = [
    "ClaimPaths",
    "DevelopmentIssuer",
    "InvalidToken",
    "JwksKeys",
    "KeysUnavailable",
    "NoDevelopmentIssuer",
    "StaticKeys",
    "TokenVerifier",
    "TrustedIssuer",
]
