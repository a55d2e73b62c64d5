"""The platform against an identity provider it knows only by settings: a separate HTTP
server publishes the JWKS, and the tokens are shaped as Keycloak issues them (RS256, a
`kid` in the header, `realm_access.roles`, `azp`, `aud` a list, `scope`, `typ`). The
keys rotate: a token of a new key fetches the JWKS again, no more often than allowed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from jwt.algorithms import RSAAlgorithm

from domain.access import Principal
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running

REALM_PATH = "/realms/ledgerflow"
CERTS_PATH = f"{REALM_PATH}/protocol/openid-connect/certs"


@dataclass
class SigningKey:
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class IdentityProvider:
    """A Keycloak realm as far as the platform sees it: its keys and its tokens."""

    url: str
    keys: list[SigningKey]
    fetches: int = 0

    @property
    def issuer(self) -> str:
        return f"{self.url}{REALM_PATH}"

    def token(self, key: SigningKey, *roles: str, **changes: Any) -> str:
        now = int(time.time())
        claims = {
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": ["ledgerflow", "account"],
            "sub": str(uuid.uuid4()),
            "typ": "Bearer",
            "azp": "ledgerflow",
            "sid": str(uuid.uuid4()),
            "acr": "1",
            "realm_access": {
                "roles": ["default-roles-ledgerflow", "offline_access", "uma_authorization", *roles]
            },
            "resource_access": {"account": {"roles": ["manage-account", "view-profile"]}},
            "scope": "openid profile email",
            "email_verified": True,
            "preferred_username": "someone",
            **changes,
        }
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})


def _provider_app(provider: list[IdentityProvider]) -> FastAPI:
    app = FastAPI()

    @app.get(CERTS_PATH)
    async def certs() -> JSONResponse:
        provider[0].fetches += 1
        encryption = {"kid": "enc-1", "kty": "RSA", "alg": "RSA-OAEP", "use": "enc", "n": "AQ"}
        return JSONResponse({"keys": [key.jwk() for key in provider[0].keys] + [encryption]})

    return app


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    holder: list[IdentityProvider] = []
    with running(_provider_app(holder)) as url:
        holder.append(IdentityProvider(url, [SigningKey()]))
        yield holder[0]


def _principal_route(app: FastAPI) -> FastAPI:
    """A route of this test's own, behind the same middleware: who the API says calls."""

    @app.get("/__test/principal")
    async def principal(request: Request) -> JSONResponse:
        caller: Principal = request.state.principal
        return JSONResponse(
            {
                "role": caller.role,
                "subject": caller.subject,
                "scopes": sorted(caller.scopes),
                "member_id": str(caller.member_id) if caller.member_id else None,
            }
        )

    return app


@pytest.fixture()
def platform(
    database_url: str, provider: IdentityProvider, request: pytest.FixtureRequest
) -> Iterator[str]:
    """The API trusting the provider, the JWKS refetched at most every `param` seconds."""
    provider.keys, provider.fetches = [SigningKey()], 0
    settings = Settings(
        database_url=database_url,
        auth_issuer=provider.issuer,
        auth_jwks_url=provider.url + CERTS_PATH,
        auth_roles_claim="realm_access.roles",
        auth_jwks_refetch_seconds=getattr(request, "param", 30.0),
    )
    with running(_principal_route(create_app(settings, only=()))) as url:
        yield url


def _who(api: str, token: str) -> httpx.Response:
    return httpx.get(f"{api}/__test/principal", headers={"Authorization": f"Bearer {token}"})


def test_keycloak_tokens_say_who_calls_by_realm_role_scope_and_attributes(
    platform: str, provider: IdentityProvider
) -> None:
    key = provider.keys[0]
    member = uuid.uuid4()
    client = provider.token(key, "client", scope="openid profile sms:send sms:read")
    assert _who(platform, client).json() | {"subject": None} == {
        "role": "client",
        "subject": None,
        "scopes": ["openid", "profile", "sms:read", "sms:send"],
        "member_id": None,
    }
    as_member = _who(platform, provider.token(key, "member", member_id=str(member))).json()
    assert (as_member["role"], as_member["member_id"]) == ("member", str(member))
    # Authenticated, with no platform role: it may do nothing, but it is no 401.
    nobody = _who(platform, provider.token(key))
    assert nobody.status_code == 200 and nobody.json()["role"] is None
    # The platform's routes let a valid token through too.
    operator = provider.token(key, "operator")
    listed = httpx.get(f"{platform}/status", headers={"Authorization": f"Bearer {operator}"})
    assert listed.status_code == 200
    assert provider.fetches == 1  # one fetch for every token of a known key

    refused = {
        "an ID token": provider.token(key, "operator", typ="ID"),
        "another client's token": provider.token(key, "operator", aud=["account"]),
        "another realm's token": provider.token(key, "operator", iss=f"{provider.url}/realms/x"),
        "an expired token": provider.token(key, "operator", exp=int(time.time()) - 120),
    }
    for why, token in refused.items():
        answer = _who(platform, token)
        assert answer.status_code == 401, why
        assert answer.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


@pytest.mark.parametrize("platform", [0.0], indirect=True)
def test_a_rotated_key_is_fetched_when_its_first_token_arrives(
    platform: str, provider: IdentityProvider
) -> None:
    old = provider.keys[0]
    old_token = provider.token(old, "operator")
    assert _who(platform, old_token).status_code == 200
    assert provider.fetches == 1

    new = SigningKey()
    provider.keys = [new]  # rotated: the old key is no longer published
    assert _who(platform, provider.token(new, "auditor")).json()["role"] == "auditor"
    assert provider.fetches == 2
    # A token verified before stays accepted until it expires; a new one of the old key
    # is not (its key is no longer published).
    assert _who(platform, old_token).status_code == 200
    assert _who(platform, provider.token(old, "operator")).status_code == 401


@pytest.mark.parametrize("platform", [3600.0], indirect=True)
def test_unknown_key_ids_fetch_the_jwks_at_most_once_per_interval(
    platform: str, provider: IdentityProvider
) -> None:
    known = provider.keys[0]
    assert _who(platform, provider.token(known, "operator")).status_code == 200
    assert provider.fetches == 1

    provider.keys = [known, SigningKey()]
    for _ in range(5):  # the new key and made-up ones: refused, the provider not asked
        forged = SigningKey()
        assert _who(platform, provider.token(forged, "operator")).status_code == 401
    assert _who(platform, provider.token(provider.keys[1], "operator")).status_code == 401
    assert provider.fetches == 1
    assert _who(platform, provider.token(known, "client")).status_code == 200
