"""Authentication's parts: claims to a principal, the verified-token cache, the JWKS
fetched on rotation and no more often than allowed, the middleware in front of the API."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK
from jwt.algorithms import ECAlgorithm
from starlette.types import Receive, Send
from starlette.types import Scope as AsgiScope

from adapters.authentication import (
    ClaimPaths,
    InvalidToken,
    JwksKeys,
    KeysUnavailable,
    StaticKeys,
    TokenVerifier,
    TrustedIssuer,
)
from adapters.authentication.claims import InvalidClaims, principal_from
from adapters.authentication.keys import UnknownKey
from api.authentication import Authentication
from domain.access import Principal, Role, Scope
from tests.issuer import TokenIssuer

KEYCLOAK = ClaimPaths(roles="realm_access.roles", scope="scope")


# -- Claims ------------------------------------------------------------------------------


def test_a_flat_roles_claim_names_the_role_and_its_claims() -> None:
    member = uuid.uuid4()
    principal = principal_from(
        {"sub": "m-1", "roles": ["member"], "member_id": str(member)}, ClaimPaths()
    )
    assert principal == Principal(Role.MEMBER, "m-1", member_id=member)


def test_keycloaks_realm_roles_and_scope_string_are_found_by_their_paths() -> None:
    claims = {
        "sub": "5f1c",
        "realm_access": {"roles": ["default-roles-ledgerflow", "offline_access", "client"]},
        "scope": "openid profile sms:send sms:read",
    }
    principal = principal_from(claims, KEYCLOAK)
    assert principal.role is Role.CLIENT
    assert {Scope.SMS_SEND.value, Scope.SMS_READ.value} <= principal.scopes
    assert principal.subject == "5f1c"


@pytest.mark.parametrize(
    "roles",
    [[], ["offline_access"], ["system"], ["operator", "auditor"], None, "operator auditor"],
)
def test_no_platform_role_or_several_leave_the_caller_without_a_role(roles: object) -> None:
    principal = principal_from({"sub": "someone", "roles": roles}, ClaimPaths())
    assert principal.role is None
    assert not principal.sees_everything


def test_a_roles_string_is_space_separated_as_scopes_are() -> None:
    principal = principal_from({"sub": "c", "roles": "client", "scope": ["sms:send"]}, ClaimPaths())
    assert principal.role is Role.CLIENT and principal.scopes == {"sms:send"}


def test_a_malformed_role_claim_is_refused() -> None:
    with pytest.raises(InvalidClaims, match="bank_id"):
        principal_from({"sub": "a", "roles": ["bank_admin"], "bank_id": "bank-7"}, ClaimPaths())


# -- The verifier and its cache ------------------------------------------------------------


class CountingKeys:
    """Keys that count how often a full verification asked for one."""

    def __init__(self, issuer: TokenIssuer) -> None:
        self.inner = StaticKeys([issuer.issuer.verification_key()])
        self.lookups = 0

    async def key(self, kid: str | None) -> PyJWK:
        self.lookups += 1
        return await self.inner.key(kid)


class FakeTime:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier_of(
    issuer: TokenIssuer, keys: CountingKeys, now: FakeTime, cache_size: int = 100
) -> TokenVerifier:
    trusted = TrustedIssuer(issuer.issuer.issuer, issuer.issuer.audience, leeway_seconds=5)
    return TokenVerifier(trusted, keys, cache_size=cache_size, now=now)


async def test_a_token_seen_before_is_not_verified_again(issuer: TokenIssuer) -> None:
    keys, now = CountingKeys(issuer), FakeTime()
    verifier = verifier_of(issuer, keys, now)
    token = issuer.token(Role.CLIENT, subject="shop-1").encode()

    assert verifier.remembered(token) is None
    first = await verifier.principal(token)
    for _ in range(5):
        assert await verifier.principal(token) == first
    assert keys.lookups == 1
    assert first.role is Role.CLIENT and first.subject == "shop-1"


async def test_a_remembered_token_is_refused_once_it_expires(issuer: TokenIssuer) -> None:
    keys, now = CountingKeys(issuer), FakeTime()
    verifier = verifier_of(issuer, keys, now)
    token = issuer.token(ttl_seconds=60).encode()
    await verifier.principal(token)

    now.now += 60 + 5 - 1  # within the leeway: still accepted, from the cache
    assert await verifier.principal(token)
    now.now += 1
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.principal(token)
    assert keys.lookups == 1


async def test_the_cache_keeps_at_most_its_size(issuer: TokenIssuer) -> None:
    keys, now = CountingKeys(issuer), FakeTime()
    verifier = verifier_of(issuer, keys, now, cache_size=2)
    tokens = [issuer.token(subject=f"s-{i}").encode() for i in range(3)]
    for token in tokens:
        await verifier.principal(token)
    assert verifier.remembered(tokens[0]) is None  # the oldest made room
    assert verifier.remembered(tokens[2]) is not None
    await verifier.principal(tokens[0])
    assert keys.lookups == 4


async def test_an_id_token_does_not_pass_for_an_access_token(issuer: TokenIssuer) -> None:
    verifier = verifier_of(issuer, CountingKeys(issuer), FakeTime())
    now = int(time.time())
    claims = {"sub": "u", "exp": now + 60, "typ": "ID", "roles": ["operator"]}
    with pytest.raises(InvalidToken, match="not an access token"):
        await verifier.principal(issuer.issuer.sign(claims).encode())


# -- The issuer's JWKS -------------------------------------------------------------------


def _key() -> tuple[ec.EllipticCurvePrivateKey, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    public: dict[str, Any] = ECAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return private, {**public, "kid": uuid.uuid4().hex, "use": "sig", "alg": "ES256"}


class Issuer:
    """An issuer's JWKS endpoint as an httpx transport: its keys, its fetches counted."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.fetches = 0
        self.down = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        if self.down:
            return httpx.Response(503)
        encryption = {"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", "kid": "enc", "n": "x"}
        return httpx.Response(200, json={"keys": [*self.keys, encryption]})


def _jwks(issuer: Issuer, clock: FakeTime) -> JwksKeys:
    return JwksKeys(
        "http://issuer.test/certs",
        min_refetch_seconds=30,
        monotonic=clock,
        transport=httpx.MockTransport(issuer.handle),
    )


async def test_a_new_key_id_refetches_the_jwks_at_most_every_30_seconds() -> None:
    issuer, clock = Issuer(), FakeTime()
    keys = _jwks(issuer, clock)
    _, first = _key()
    issuer.keys = [first]
    assert (await keys.key(first["kid"])).key_id == first["kid"]
    assert (await keys.key(first["kid"])).key_id == first["kid"]
    assert issuer.fetches == 1

    _, rotated = _key()
    issuer.keys = [first, rotated]
    clock.now += 10
    for _ in range(3):  # too soon: the unknown key stays unknown, the issuer is not asked
        with pytest.raises(UnknownKey):
            await keys.key(rotated["kid"])
    assert issuer.fetches == 1

    clock.now += 20
    assert (await keys.key(rotated["kid"])).key_id == rotated["kid"]
    assert issuer.fetches == 2
    with pytest.raises(UnknownKey):
        await keys.key("made-up")
    assert issuer.fetches == 2


async def test_an_issuer_that_cannot_be_reached_is_asked_again_after_the_interval() -> None:
    issuer, clock = Issuer(), FakeTime()
    keys = _jwks(issuer, clock)
    _, key = _key()
    issuer.keys, issuer.down = [key], True
    for _ in range(2):
        with pytest.raises(KeysUnavailable):
            await keys.key(key["kid"])
    assert issuer.fetches == 1
    issuer.down = False
    clock.now += 30
    assert (await keys.key(key["kid"])).key_id == key["kid"]


async def test_a_token_without_a_key_id_is_verified_only_against_a_lone_key() -> None:
    (_, first), (_, second) = _key(), _key()
    assert (await StaticKeys([PyJWK(first)]).key(None)).key_id == first["kid"]
    with pytest.raises(UnknownKey):
        await StaticKeys([PyJWK(first), PyJWK(second)]).key(None)


# -- The middleware ------------------------------------------------------------------------


class Echo:
    """An inner app answering the principal it was handed."""

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        body = json.dumps({"subject": principal.subject if principal else None}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def test_the_middleware_hands_the_principal_on_and_lets_public_gets_pass(
    issuer: TokenIssuer,
) -> None:
    verifier = verifier_of(issuer, CountingKeys(issuer), FakeTime())
    app = Authentication(Echo(), verifier, public_paths={"/health"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as api:
        assert (await api.get("/health")).json() == {"subject": None}
        refused = await api.post("/health")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json() == {
            "message": "a bearer token is required",
            "code": "unauthenticated",
        }
        basic = await api.get("/sms", headers={"Authorization": "Basic dXNlcjpwdw=="})
        assert basic.status_code == 401 and basic.headers["www-authenticate"] == "Bearer"
        token = issuer.token(subject="ops-1")
        answer = await api.get("/sms", headers={"Authorization": f"bearer  {token}"})
        assert answer.json() == {"subject": "ops-1"}
        other = jwt.encode({"sub": "x"}, "a-shared-secret-of-32-bytes-or-more", algorithm="HS256")
        refused = await api.get("/sms", headers={"Authorization": f"Bearer {other}"})
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_token"
        assert refused.headers["www-authenticate"].startswith('Bearer error="invalid_token"')


async def test_paths_under_a_public_prefix_pass_and_the_prefix_alone_does_not(
    issuer: TokenIssuer,
) -> None:
    verifier = verifier_of(issuer, CountingKeys(issuer), FakeTime())
    app = Authentication(
        Echo(), verifier, public_paths={"/docs"}, public_prefixes=["/docs-assets/"]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as api:
        assert (await api.get("/docs-assets/swagger-ui.css")).status_code == 200
        assert (await api.head("/docs-assets/redoc.standalone.js")).status_code == 200
        assert (await api.post("/docs-assets/swagger-ui.css")).status_code == 401
        assert (await api.get("/docs-assets")).status_code == 401
        assert (await api.get("/docs-assetsx/a.js")).status_code == 401
        assert (await api.get("/docs/extra")).status_code == 401
