"""The FastAPI application: one router per workflow, errors mapped in one place."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

from api import admin, health, status
from api.errors import install_error_handlers
from ledgerflow.bootstrap import open_platform
from ledgerflow.settings import Settings, get_settings
from ledgerflow.workflows import workflow_classes

DESCRIPTION = """
An event-sourced platform for reliable fintech workflows. Every state change is an
event; `GET /{collection}/{id}/events` shows an aggregate's whole history.

Errors answer `{"message": "...", "code": "snake_case"}`; validation errors (422) keep
FastAPI's body, where `detail[*].loc` names the field and `msg` the rule.
"""


def create_app(settings: Settings | None = None, **platform_overrides: Any) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform = await open_platform(settings, **platform_overrides)
        app.state.platform = platform
        try:
            yield
        finally:
            await platform.close()

    # FastAPI's native OpenTelemetry looks up its providers on every request; it is
    # switched on only where an operator asked for it.
    enabled = settings.opentelemetry
    app = FastAPI(
        title="ledgerflow",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        telemetry={"tracing": enabled, "metrics": enabled, "logs": enabled},
    )
    install_error_handlers(app)
    for workflow_class in workflow_classes():
        for router in workflow_class.first_routers():
            app.include_router(router)
    app.include_router(health.router)
    app.include_router(status.router)
    for workflow_class in workflow_classes():
        for router in workflow_class.routers():
            app.include_router(router)
    app.include_router(admin.router)
    return app
