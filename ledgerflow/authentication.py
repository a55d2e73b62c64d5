"""Whose tokens the API accepts, from the settings: an identity provider's
(`LEDGERFLOW_AUTH_ISSUER`, `_JWKS_URL`, `_AUDIENCE`, `_ROLES_CLAIM`, `_SCOPE_CLAIM`), or
the development issuer's (`LEDGERFLOW_AUTH_DEVELOPMENT_ISSUER_DIR`, as `ledgerflow up`
runs the platform), whose keys the API then serves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.authentication import (
    ClaimPaths,
    DevelopmentIssuer,
    JwksKeys,
    StaticKeys,
    TokenVerifier,
    TrustedIssuer,
)
from ledgerflow.settings import Settings


def development_issuer_dir(data_dir: Path) -> Path:
    """Where `ledgerflow up` keeps its development issuer, in its data dir."""
    return data_dir / "issuer"


class NoTrustedIssuer(RuntimeError):
    """The API would accept no token at all."""


@dataclass(frozen=True)
class Trust:
    verifier: TokenVerifier
    jwks: dict[str, Any] | None  # the keys the API serves, as the issuer it runs as


def trust(settings: Settings) -> Trust:
    claims = ClaimPaths(roles=settings.auth_roles_claim, scope=settings.auth_scope_claim)
    if settings.auth_development_issuer_dir is not None:
        issuer = DevelopmentIssuer.load(settings.auth_development_issuer_dir)
        trusted = TrustedIssuer(
            issuer.issuer, issuer.audience, claims, settings.auth_leeway_seconds
        )
        keys = StaticKeys([issuer.verification_key()])
        return Trust(TokenVerifier(trusted, keys), issuer.jwks())
    if settings.auth_issuer and settings.auth_jwks_url:
        trusted = TrustedIssuer(
            settings.auth_issuer, settings.auth_audience, claims, settings.auth_leeway_seconds
        )
        jwks = JwksKeys(
            settings.auth_jwks_url, min_refetch_seconds=settings.auth_jwks_refetch_seconds
        )
        return Trust(TokenVerifier(trusted, jwks), None)
    raise NoTrustedIssuer(
        "the API trusts no token issuer: set LEDGERFLOW_AUTH_ISSUER and"
        " LEDGERFLOW_AUTH_JWKS_URL (an identity provider), or run it under `ledgerflow up`"
        " (the development issuer)"
    )
