"""Domain errors to HTTP, in one place: `{"message": ..., "code": ...}` bodies.

Every error a command or query answers a client with is a `DomainError`: its `kind`
picks the status, its `code` names it in the body. Validation errors (422) keep
FastAPI's `{"detail": [...]}` with each error's `loc`, `msg` and `type` only: its
`input` and `ctx` would echo what the client sent (a phone number, a whole text) back
into responses, and from there into proxies' and clients' logs.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.rate_limits import RATE_LIMITED, RateLimited
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


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    errors = cast(RequestValidationError, error).errors()  # registered for it only
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    return JSONResponse(status_code=422, content={"detail": detail})


async def _rate_limited(request: Request, error: Exception) -> JSONResponse:
    limited = cast(RateLimited, error)  # registered for RateLimited only
    response = error_response(429, str(limited.detail), RATE_LIMITED)
    response.headers.update(limited.headers or {})
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RateLimited, _rate_limited)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    described = {
        400: "Bad request (e.g. a cursor this API did not issue)",
        403: "The actor may not do this",
        404: "Unknown resource",
        409: "Conflicts with the resource's current state or an earlier request",
        429: "Too many requests from this client: retry after `Retry-After` seconds",
        503: "The database does not answer",
    }
    return {status: {"model": ErrorBody, "description": described[status]} for status in statuses}
