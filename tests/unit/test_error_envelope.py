"""Every error the API answers is the one envelope, `{"message", "code"}`: FastAPI's and
Starlette's own, the middleware's and an unhandled exception's alike."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import ApiConfig
from domain.access import Role
from tests.unit.in_memory_api import ISSUER, as_client, in_memory_api, in_memory_services

OPERATOR = ISSUER.headers(Role.OPERATOR)
CLIENT = as_client("c-1")
JSON = {"Content-Type": "application/json"}

CASES: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("GET", "/no-such-route", {"headers": OPERATOR}, 404, "not_found"),
    ("DELETE", "/sms", {"headers": OPERATOR}, 405, "method_not_allowed"),
    (
        "POST",
        "/sms",
        {"headers": {**CLIENT, **JSON}, "content": b'{"message_id": '},
        400,
        "malformed_json",
    ),
    (
        "POST",
        "/sms",
        {"headers": {**CLIENT, "Content-Type": "text/plain"}, "content": b"hi"},
        415,
        "unsupported_media_type",
    ),
    ("POST", "/sms", {"headers": {**CLIENT, **JSON}, "content": b"{}"}, 422, "validation_failed"),
    (
        "POST",
        "/sms",
        {
            "headers": OPERATOR,
            "json": {"message_id": "m", "phone_number": "+254712345678", "text": "hi"},
        },
        403,
        None,
    ),
    (
        "POST",
        "/sms",
        {"headers": {**CLIENT, **JSON}, "content": b"[" * 2000},
        413,
        "payload_too_large",
    ),
    ("GET", "/sms", {}, 401, "unauthenticated"),
    ("GET", "/sms", {"headers": as_client("c-1")}, 500, "internal_error"),  # no read model
]


@pytest.mark.parametrize(("method", "path", "request_", "status", "code"), CASES)
async def test_every_error_is_the_envelope(
    method: str, path: str, request_: dict[str, Any], status: int, code: str | None
) -> None:
    app = in_memory_api(in_memory_services(), ApiConfig(max_body_bytes=1024))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
            answer = await api.request(method, path, **request_)

    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert body["code"] == code or code is None  # None: the code is the refusal's own
    assert isinstance(body["code"], str) and isinstance(body["message"], str)
    assert set(body) <= {"message", "code", "detail"}
    if status == 405:
        assert "POST" in answer.headers["allow"]
