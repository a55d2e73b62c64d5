"""Domain errors to HTTP, in one place: `{"message": ..., "code": ...}` bodies.

Every error a command or query answers a client with is a `DomainError`: its `kind`
picks the status, its `code` names it in the body.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from domain.errors import DomainError, ErrorKind


class ErrorBody(BaseModel):
    message: str
    code: str


STATUSES: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.BAD_REQUEST: 400,
}


def error_response(status: int, message: str, code: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"message": message, "code": code})


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    domain_error = cast(DomainError, error)  # registered for DomainError only
    return error_response(STATUSES[domain_error.kind], str(domain_error), domain_error.code)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)


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
