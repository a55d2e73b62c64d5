"""Every route of the API, as its OpenAPI lists them, answers 401 to a request without a
token or with one that must be refused, and lets a valid token of a role it admits
through (neither 401 nor 403); the public routes answer without one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.routing import APIRoute, iter_route_contexts

from adapters.authentication import DevelopmentIssuer
from api.access import Rule, rule_of
from domain.access import Role
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.issuer import TokenIssuer

PUBLIC = [
    "/health",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/docs-assets/swagger-ui-bundle.js",  # the docs' own scripts and styles
    "/docs-assets/swagger-ui.css",
    "/docs-assets/redoc.standalone.js",
]


@pytest.fixture(scope="module")
def settings(database_url: str, issuer: TokenIssuer) -> Settings:
    return Settings(database_url=database_url, **issuer.trusted)


@pytest.fixture(scope="module")
def api_url(settings: Settings) -> Iterator[str]:
    with running(create_app(settings)) as url:
        yield url


def _dummy(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    return "dummy"


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Every (method, path, path template) the OpenAPI lists, its path parameters filled
    with dummies."""
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            filled = path
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path":
                    filled = filled.replace("{" + parameter["name"] + "}", _dummy(parameter))
            found.append((method.upper(), filled, path))
    return found


def _admitted_token(issuer: TokenIssuer, rule: Rule) -> str:
    """A token of a role `rule` admits (a client's with the scope it names)."""
    role = min(rule.roles, key=list(Role).index)
    claims: dict[str, Any] = {
        Role.CLIENT: {"subject": "shop", "scopes": [str(rule.scope)]},
        Role.MEMBER: {"member_id": uuid.uuid4()},
        Role.BANK_ADMIN: {"bank_id": uuid.uuid4(), "administrator_id": uuid.uuid4()},
    }.get(role, {})
    return issuer.token(role, **claims)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(issuer: TokenIssuer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": issuer.issuer.issuer,
        "aud": issuer.issuer.audience,
        "sub": "intruder",
        "iat": now,
        "exp": now + 600,
        "roles": ["operator"],
    }
    return {**claims, **changes}


def refused_tokens(issuer: TokenIssuer, other_key_dir: Path) -> dict[str, tuple[str, str]]:
    """A token for each way a token must be refused, and the reason the refusal gives."""
    kid = issuer.issuer.kid
    other = DevelopmentIssuer.ensure(other_key_dir)
    public_pem = issuer.issuer.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    hs256 = _unsigned({"alg": "HS256", "typ": "JWT", "kid": kid}, _claims(issuer))
    hs256_signature = hmac.new(public_pem, hs256.encode(), hashlib.sha256).digest()
    expired = _claims(issuer, iat=0, exp=int(time.time()) - 3600)
    return {
        "expired": (issuer.issuer.sign(expired), "expired"),
        "another key": (
            jwt.encode(_claims(issuer), other.private_key, algorithm="ES256", headers={"kid": kid}),
            "signature",
        ),
        "another issuer's key": (other.sign(_claims(issuer)), "key"),
        "alg none": (_unsigned({"alg": "none", "typ": "JWT"}, _claims(issuer)) + ".", "algorithm"),
        "HS256 keyed with the public key": (f"{hs256}.{_b64(hs256_signature)}", "algorithm"),
        "wrong audience": (issuer.issuer.sign(_claims(issuer, aud="elsewhere")), "audience"),
        "wrong issuer": (issuer.issuer.sign(_claims(issuer, iss="https://id.example")), "issuer"),
        "not a JWT": ("not-a-token", "not a JWT"),
    }


def test_every_route_refuses_a_missing_or_bad_token_and_accepts_a_valid_one(
    api_url: str, settings: Settings, issuer: TokenIssuer, tmp_path: Path
) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as api:
        spec = api.get("/openapi.json").json()
        operations = _operations(spec)
        public = {("GET", "/health"), ("GET", "/.well-known/jwks.json")}
        rules = {
            (method, route.path_format): rule_of(route.original_route)
            for route in iter_route_contexts(create_app(settings).routes)
            # The console's pages are no API operations (tests/integration/test_console.py).
            if isinstance(route.original_route, APIRoute) and route.original_route.include_in_schema
            for method in route.methods or ()
        }
        served = set(rules)
        listed = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
        assert served == listed  # the walk reaches every route
        assert len(operations) > 40

        bad = refused_tokens(issuer, tmp_path / "other")
        for method, path, template in operations:
            if (method, path) in public:
                continue
            anonymous = api.request(method, path)
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["www-authenticate"] == "Bearer"
            assert anonymous.json()["code"] == "unauthenticated"
            for why, (token, reason) in bad.items():
                refused = api.request(method, path, headers={"Authorization": f"Bearer {token}"})
                assert refused.status_code == 401, (method, path, why, refused.text)
                challenge = refused.headers["www-authenticate"]
                assert challenge.startswith('Bearer error="invalid_token"'), (why, challenge)
                assert refused.json()["code"] == "invalid_token"
                assert reason in refused.json()["message"], (why, refused.json())
            # Every other route declares who may call it, and lets them through.
            rule = rules[(method, template)]
            assert rule is not None, (method, template)
            valid = _admitted_token(issuer, rule)
            accepted = api.request(method, path, headers={"Authorization": f"Bearer {valid}"})
            assert accepted.status_code not in (401, 403), (method, path, accepted.text)


def test_the_public_routes_answer_without_a_token(api_url: str, issuer: TokenIssuer) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as api:
        for path in PUBLIC:
            assert api.get(path).status_code == 200, path
        keys = api.get("/.well-known/jwks.json").json()["keys"]
        assert [key["kid"] for key in keys] == [issuer.issuer.kid]
        # Public to read, and to nothing else.
        assert api.post("/health").status_code == 401
        assert api.get("/health/").status_code == 401
        assert api.get("/docs/extra").status_code == 401
        assert api.post("/docs-assets/swagger-ui.css").status_code == 401
