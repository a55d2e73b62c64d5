"""The development issuer: a signing key in a directory of its own, for a platform run
without an identity provider (`ledgerflow up`), and the tokens it signs
(`ledgerflow token`).

The directory holds `signing-key.pem` (an EC P-256 private key, readable by its owner
only) and `issuer.json` (`issuer`, `audience`, `kid`). The API trusts the key it reads
there and serves the public half as a JWKS; production refuses to run this way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm

from domain.access import Role, Scope

ALGORITHM = "ES256"
ISSUER = "ledgerflow-development"
AUDIENCE = "ledgerflow"
KEY_FILE = "signing-key.pem"
CONFIG_FILE = "issuer.json"


class NoDevelopmentIssuer(Exception):
    """The directory holds no development issuer."""


@dataclass(frozen=True)
class DevelopmentIssuer:
    directory: Path
    issuer: str
    audience: str
    kid: str
    private_key: ec.EllipticCurvePrivateKey

    @classmethod
    def ensure(cls, directory: Path) -> DevelopmentIssuer:
        """The issuer in `directory`, created with a new key on first use."""
        if not (directory / CONFIG_FILE).exists():
            _create(directory)
        return cls.load(directory)

    @classmethod
    def load(cls, directory: Path) -> DevelopmentIssuer:
        try:
            config = json.loads((directory / CONFIG_FILE).read_text())
            pem = (directory / KEY_FILE).read_bytes()
        except FileNotFoundError:
            raise NoDevelopmentIssuer(
                f"no development issuer in {directory} (`ledgerflow up` creates one)"
            ) from None
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise NoDevelopmentIssuer(f"{directory / KEY_FILE} is not an EC private key")
        return cls(directory, config["issuer"], config["audience"], config["kid"], key)

    def public_jwk(self) -> dict[str, Any]:
        return {**_public_jwk(self.private_key), "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.public_jwk()]}

    def verification_key(self) -> PyJWK:
        return PyJWK(self.public_jwk())

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(
            {"iss": self.issuer, "aud": self.audience, **claims},
            self.private_key,
            algorithm=ALGORITHM,
            headers={"kid": self.kid, "typ": "JWT"},
        )

    def token(
        self,
        role: Role,
        *,
        subject: str | None = None,
        scopes: Collection[str] | None = None,
        member_id: UUID | None = None,
        bank_id: UUID | None = None,
        administrator_id: UUID | None = None,
        ttl_seconds: float = 3600,
    ) -> str:
        """A token for `role`, valid for `ttl_seconds`. A client's scopes default to every
        client scope; the role's own claims must be given (`ValueError` otherwise)."""
        return self.sign(
            development_claims(
                role,
                subject=subject,
                scopes=scopes,
                member_id=member_id,
                bank_id=bank_id,
                administrator_id=administrator_id,
                ttl_seconds=ttl_seconds,
            )
        )


def development_claims(
    role: Role,
    *,
    subject: str | None = None,
    scopes: Collection[str] | None = None,
    member_id: UUID | None = None,
    bank_id: UUID | None = None,
    administrator_id: UUID | None = None,
    ttl_seconds: float = 3600,
) -> dict[str, Any]:
    """The claims of a development token (issuer and audience aside)."""
    if role is Role.SYSTEM:
        raise ValueError("no token is ever issued for the platform's own processes")
    if role is Role.MEMBER and member_id is None:
        raise ValueError("a member's token names its member (member_id)")
    if role is Role.BANK_ADMIN and (bank_id is None or administrator_id is None):
        raise ValueError("a bank administrator's token names its bank and administrator")
    if scopes is not None and role is not Role.CLIENT:
        raise ValueError("only a client's token carries scopes")
    unknown = set(scopes or ()) - {scope.value for scope in Scope}
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    if ttl_seconds <= 0:
        raise ValueError("a token lives for a positive number of seconds")
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject or f"dev-{role.value}",
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl_seconds),
        "jti": str(uuid.uuid4()),
        "roles": [role.value],
    }
    if role is Role.CLIENT:
        chosen = [scope.value for scope in Scope] if scopes is None else list(scopes)
        claims["scope"] = " ".join(chosen)
    for name, value in (
        ("member_id", member_id),
        ("bank_id", bank_id),
        ("administrator_id", administrator_id),
    ):
        if value is not None:
            claims[name] = str(value)
    return claims


def _create(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = directory / KEY_FILE
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    config = {"issuer": ISSUER, "audience": AUDIENCE, "kid": _thumbprint(_public_jwk(key))}
    # Written last: its presence says the directory is complete.
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")


def _public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {name: jwk[name] for name in ("kty", "crv", "x", "y")}


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638: the key's id from its required members."""
    canonical = json.dumps(dict(sorted(jwk.items())), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
