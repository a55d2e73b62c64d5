"""The FastAPI application: the operations routes, each workflow's routers, errors mapped in
one place, every request authenticated first. Whoever builds it (the composition root)
hands over the routers, a way to open the services they use and the verifier of the
callers' tokens."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from api import admin, health, status
from api.access import document_access
from api.authentication import (
    JWKS_PATH,
    PUBLIC_METHODS,
    Authentication,
    Verifier,
    document_bearer,
    jwks_router,
    public_paths,
)
from api.body_limit import BodySizeLimit
from api.console import ASSETS_PREFIX as CONSOLE_ASSETS_PREFIX
from api.console import PREFIX as CONSOLE_PREFIX
from api.console import install_console
from api.docs import install_docs
from api.errors import document_errors, install_error_handlers
from api.links import document_links
from api.media_type import JsonBodies
from api.read_your_writes import WritePositions
from api.services import ApiServices

DESCRIPTION = """
An event-sourced platform for reliable fintech workflows. Every state change is an
event; `GET /{collection}/{id}/events` shows an aggregate's whole history.

Every request but `GET /health` and these docs carries `Authorization: Bearer <token>`
(locally: `ledgerflow token --role operator`; "Authorize" above takes it); without one,
or with one refused, the answer is `401`.

Every error answers `{"message": "...", "code": "snake_case"}`: a body that is not JSON
400 (`malformed_json`), an unknown route 404, a wrong method 405, a body over the size
limit 413 (`payload_too_large`), a body that is not `application/json` 415, a client over
its rate limit 429 (`rate_limited`) with `Retry-After` in seconds, an internal error 500
(`internal_error`). A 422 (`validation_failed`) adds `detail`, where `detail[*].loc`
names the field, `msg` the rule and `type` its kind (never the value sent).
"""

# An ASGI middleware class: built once around the app it wraps.
AsgiMiddleware = Callable[[ASGIApp], ASGIApp]
# Opens what the routes use for the app's lifetime (entered at startup, left at shutdown).
OpenServices = Callable[[], AbstractAsyncContextManager[ApiServices]]


@dataclass(frozen=True)
class ApiConfig:
    """The settings the API itself reads."""

    # FastAPI's native OpenTelemetry looks up its providers on every request; it is
    # switched on only where an operator asked for it.
    opentelemetry: bool = False
    # A larger request body answers 413 (api/body_limit.py).
    max_body_bytes: int = 64 * 1024
    # Serves `PUT /__admin/clock` (to operators): the platform's time moves for tests.
    test_mode: bool = False
    # Keys the console's CSRF tokens (api/console/session.py); every API process serving
    # the console behind one address needs the same. `None`: one of this process's own.
    console_secret: bytes | None = None


def create_app(
    config: ApiConfig,
    routers: Sequence[APIRouter],
    open_services: OpenServices,
    verifier: Verifier,
    middleware: Sequence[AsgiMiddleware] = (),
    jwks: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The API serving `routers` (besides its own operations routes) to the callers
    `verifier` accepts, then through the body size limit and `middleware`, outermost
    first. With `jwks` it also serves the keys of the issuer it runs as (public, as the
    docs are)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services() as services:
            app.state.services = services
            yield

    enabled = config.opentelemetry
    app = FastAPI(
        title="ledgerflow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api/docs.py, with assets of its own
        redoc_url=None,
        telemetry={"tracing": enabled, "metrics": enabled, "logs": enabled},
    )
    install_error_handlers(app)
    # The workflows' routers first, in the order given: FastAPI tries routes in order and
    # each one it passes costs CPU on every request, so the busiest endpoint leads.
    for router in routers:
        app.include_router(router)
    app.include_router(health.router)
    app.include_router(status.router)
    if jwks is not None:
        app.include_router(jwks_router(jwks))
    for layer in reversed(middleware):
        app.add_middleware(layer)
    app.add_middleware(WritePositions)
    # The console's pages post HTML forms; every API operation takes JSON.
    app.add_middleware(JsonBodies, exempt_prefixes=(f"{CONSOLE_PREFIX}/",))
    app.add_middleware(BodySizeLimit, max_bytes=config.max_body_bytes)
    docs = install_docs(app)
    console = install_console(app, verifier, config.console_secret or secrets.token_bytes(32))
    public = public_paths(
        app, *docs.pages, console.login_path, *([JWKS_PATH] if jwks is not None else [])
    )
    # Outermost: nothing answers a request before it is authenticated (a 413 included).
    app.add_middleware(
        Authentication,
        verifier=verifier,
        public_paths=public,
        public_prefixes=[docs.assets_prefix, CONSOLE_ASSETS_PREFIX],
        session=console,
    )
    document_links(app)
    document_errors(app, lambda path, method: path in public and method.upper() in PUBLIC_METHODS)
    document_bearer(app, public)
    app.include_router(admin.router)
    if config.test_mode:  # outside test mode the route does not exist
        app.include_router(admin.test_mode_router)
    document_access(app)
    return app
