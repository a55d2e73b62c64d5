"""Every request says who makes it: `Authorization: Bearer <JWT>`, checked before anything
else answers.

`Authentication` is a pure ASGI middleware, the API's outermost: a request to a public
path, or under a public prefix (the docs' assets), `GET`/`HEAD` only, passes as it is;
any other request without a token, or with one its verifier refuses, is answered `401`
here, with `WWW-Authenticate: Bearer` and the platform's error body; an accepted one goes
on with its caller, a `domain.access.Principal`, in the ASGI scope's state
(`request.state.principal`), for the layers and routes behind it. No route depends on
it: a FastAPI dependency per request would cost more than the check itself, whose common
case (a token seen before) is a hash and a dictionary lookup.

Pages a browser loads (the operator console) cannot send that header: under a
`CookieSession`'s prefix the middleware also takes the token from the session's cookie
(and only there: the API takes bearer tokens alone), sends a browser without a valid one
to the login page, and keeps the token in the state for the page's CSRF check.

`document_bearer` gives the OpenAPI its HTTP bearer scheme, so `/docs` can "Authorize".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.authentication import InvalidToken, KeysUnavailable
from api.errors import ErrorBody
from domain.access import Principal

SECURITY_SCHEME = "bearer"
JWKS_PATH = "/.well-known/jwks.json"
PUBLIC_METHODS = frozenset({"GET", "HEAD"})


class Verifier(Protocol):
    def remembered(self, token: bytes) -> Principal | None: ...

    async def verify(self, token: bytes) -> Principal: ...


@dataclass(frozen=True)
class CookieSession:
    """Pages under `prefix` authenticated by a cookie `read` finds; `login_path` takes
    the token (any method: it verifies the token itself) and is where a browser without
    a session is sent."""

    prefix: str
    login_path: str
    read: Callable[[Collection[tuple[bytes, bytes]]], bytes | None]

    def covers(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/")


class Authentication:
    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        public_paths: Collection[str],
        public_prefixes: Collection[str] = (),
        session: CookieSession | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.public_paths = frozenset(public_paths)
        self.public_prefixes = tuple(public_prefixes)  # each ends with "/"
        self.session = session

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":  # lifespan
            await self.app(scope, receive, send)
            return
        path, method = scope["path"], scope.get("method", "GET")
        session = self.session
        if (self._public(path) and method in PUBLIC_METHODS) or (
            session is not None and path == session.login_path
        ):
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope["headers"])
        in_session = session is not None and session.covers(path)
        if token is None and session is not None and in_session:
            token = session.read(scope["headers"])
            if token is None and method in PUBLIC_METHODS:
                await _to_login(scope, send, session.login_path)
                return
        if token is None:
            await _refuse(scope, send, 401, "a bearer token is required", "unauthenticated")
            return
        try:
            principal = self.verifier.remembered(token) or await self.verifier.verify(token)
        except InvalidToken as error:
            if session is not None and in_session and method in PUBLIC_METHODS:
                await _to_login(scope, send, session.login_path)  # the session expired
                return
            await _refuse(scope, send, 401, str(error), "invalid_token")
            return
        except KeysUnavailable:
            message = "the token issuer's keys cannot be fetched; try again later"
            await _refuse(scope, send, 503, message, "issuer_unavailable")
            return
        state = scope.get("state")
        if state is None:
            scope["state"] = state = {}
        state["principal"] = principal
        if in_session:
            state["token"] = token.decode()  # what the page's CSRF token is derived from
        await self.app(scope, receive, send)

    def _public(self, path: str) -> bool:
        return path in self.public_paths or path.startswith(self.public_prefixes)


def bearer_token(headers: Collection[tuple[bytes, bytes]]) -> bytes | None:
    """The token of the request's `Authorization: Bearer` header, if it has one."""
    for name, value in headers:
        if name == b"authorization":
            if value[:7].lower() != b"bearer ":
                return None
            return value[7:].strip() or None
    return None


def _challenge(code: str, message: str) -> bytes:
    if code != "invalid_token":  # RFC 6750: no error code when no token was given
        return b"Bearer"
    return f'Bearer error="invalid_token", error_description="{message}"'.encode()


async def _to_login(scope: Scope, send: Send, login_path: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": "log in first"})
        return
    location = f"{scope.get('root_path', '')}{login_path}".encode()
    headers = [(b"location", location), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _refuse(scope: Scope, send: Send, status: int, message: str, code: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": message})
        return
    body = json.dumps({"message": message, "code": code}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", _challenge(code, message)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- The OpenAPI and the issuer's keys --------------------------------------------------


def public_paths(app: FastAPI, *more: str) -> frozenset[str]:
    """What answers without a token: the health check, the OpenAPI, and `more` (the docs'
    pages, the development issuer's JWKS)."""
    return frozenset({"/health", *([app.openapi_url] if app.openapi_url else []), *more})


def document_bearer(app: FastAPI, public: Collection[str]) -> None:
    """Declare the bearer scheme in the app's OpenAPI and require it of every operation
    outside `public` (which then answers 401 too)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _require_bearer(build(), public)  # `build` keeps its schema on the app
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _require_bearer(schema: dict[str, Any], public: Collection[str]) -> None:
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A token of the trusted issuer (locally: `ledgerflow token`).",
    }
    schemas = components.setdefault("schemas", {})
    schemas.setdefault(ErrorBody.__name__, ErrorBody.model_json_schema())
    unauthenticated = {
        "description": "No token, or one that is refused (expired, wrong issuer, ...)",
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}
        },
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if path in public and method.upper() in PUBLIC_METHODS:
                operation["security"] = []
                continue
            operation["security"] = [{SECURITY_SCHEME: []}]
            operation.setdefault("responses", {}).setdefault("401", unauthenticated)


def jwks_router(jwks: Mapping[str, Any]) -> APIRouter:
    """`GET /.well-known/jwks.json`: the keys of the issuer this API runs as."""
    router = APIRouter(tags=["authentication"])
    document = dict(jwks)

    @router.get(
        JWKS_PATH,
        responses={200: {"content": {"application/json": {"example": document}}}},
        summary="The development issuer's public keys",
        description="The JWKS whose keys sign the tokens `ledgerflow token` makes, served "
        "when the API is its own issuer (`ledgerflow up`); public, as a real identity "
        "provider's keys are.",
    )
    async def issuer_keys() -> JSONResponse:
        return JSONResponse(document)

    return router
