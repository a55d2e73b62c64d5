"""Domain errors to HTTP, in one place: `{"message": ..., "code": ...}` bodies."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ledgerflow.workflows import workflow_classes
from projections.pagination import InvalidCursor


class ErrorBody(BaseModel):
    message: str
    code: str


PLATFORM_ERRORS: dict[type[Exception], int] = {InvalidCursor: 400}


def error_response(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"message": message, "code": code})


def install_error_handlers(app: FastAPI) -> None:
    statuses = dict(PLATFORM_ERRORS)
    for workflow_class in workflow_classes():
        statuses |= workflow_class.error_statuses
    for error_type, status in statuses.items():

        async def handle(request: Request, error: Exception, status: int = status) -> JSONResponse:
            code = getattr(error, "code", None) or _snake(type(error).__name__)
            return error_response(status, str(error), code)

        app.add_exception_handler(error_type, handle)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    described = {
        400: "Bad request (e.g. a cursor this API did not issue)",
        403: "The actor may not do this",
        404: "Unknown resource",
        409: "Conflicts with the resource's current state or an earlier request",
        503: "The database does not answer",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}
