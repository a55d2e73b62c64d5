"""`GET /health`: 200 when the database answers, 503 otherwise."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import Services
from api.errors import responses

router = APIRouter(tags=["operations"])


@router.get(
    "/health",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ok"}}}},
        **responses(503),
    },
    summary="Is the platform up: does its database answer",
    description='200 `{"status": "ok"}` when the database answers within 2 s, 503 '
    "otherwise. Public: no token needed (for load balancers and orchestrators).",
)
async def health(services: Services) -> JSONResponse:
    try:
        async with asyncio.timeout(2):
            await services.status.ping()
    except Exception:
        return JSONResponse(
            status_code=503,
            content={"message": "the database does not answer", "code": "database_unavailable"},
        )
    return JSONResponse({"status": "ok"})
