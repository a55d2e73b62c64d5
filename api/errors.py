"""Every error the API answers, in one envelope: `{"message": ..., "code": ...}`.

Domain errors (`DomainError`: its `kind` picks the status, its `code` names it), FastAPI's
and Starlette's own (malformed JSON 400, unknown route 404, wrong method 405, an invalid
request 422) and anything unhandled (500) all answer the same shape, as do the
middleware in front of the routes (401, 413, 415, 429: `error_response`). A 422 adds
`detail`, each error's `loc`, `msg` and `type` only: its `input` and `ctx` would echo
what the client sent (a phone number, a whole text) back into responses, and from there
into proxies' and clients' logs. `document_errors` puts the envelope on every error
status of the OpenAPI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from api.rate_limits import RATE_LIMITED, RateLimited
from domain.errors import DomainError, ErrorKind

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """The envelope of every error the platform answers."""

    message: str = Field(description="What went wrong, for a person.")
    code: str = Field(description="What went wrong, for a program: a stable snake_case code.")


class FieldError(BaseModel):
    loc: list[str | int] = Field(description='Where: e.g. `["body", "phone_number"]`.')
    msg: str = Field(description="The rule it breaks.")
    type: str = Field(description="The rule's kind, e.g. `string_too_long`.")


class ValidationErrorBody(ErrorBody):
    """The envelope of a 422: each field and the rule it breaks, never the value sent."""

    detail: list[FieldError]


STATUSES: dict[ErrorKind, int] = {
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.BAD_REQUEST: 400,
}

# The code of an error Starlette or FastAPI raise by status (unknown route, method, ...).
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
VALIDATION_FAILED = "validation_failed"
MALFORMED_JSON = "malformed_json"
INTERNAL_ERROR = "internal_error"


def error_response(
    status: int, message: str, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        status_code=status, content={"message": message, "code": code}, headers=headers
    )


async def _domain_error(request: Request, error: Exception) -> JSONResponse:
    domain_error = cast(DomainError, error)  # registered for DomainError only
    return error_response(STATUSES[domain_error.kind], str(domain_error), domain_error.code)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    errors = cast(RequestValidationError, error).errors()  # registered for it only
    if any(e["type"] == "json_invalid" for e in errors):
        # Not JSON at all: a malformed request, not one that breaks a field's rule.
        return error_response(400, "The request body is not valid JSON", MALFORMED_JSON)
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
    fields = ", ".join(".".join(str(part) for part in e["loc"]) for e in errors)
    return JSONResponse(
        status_code=422,
        content={
            "message": f"The request is invalid: {fields}",
            "code": VALIDATION_FAILED,
            "detail": detail,
        },
    )


async def _rate_limited(request: Request, error: Exception) -> JSONResponse:
    limited = cast(RateLimited, error)  # registered for RateLimited only
    return error_response(429, str(limited.detail), RATE_LIMITED, limited.headers)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own: an unknown route, a method the route lacks, ..."""
    http = cast(HTTPException, error)  # registered for HTTPException only
    code = getattr(http, "code", None) or HTTP_CODES.get(
        http.status_code, f"http_{http.status_code}"
    )
    message = http.detail if isinstance(http.detail, str) else code.replace("_", " ")
    return error_response(http.status_code, message, code, http.headers)


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette's outermost handler: it still logs the exception with its traceback.
    return error_response(500, "Internal server error", INTERNAL_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(RateLimited, _rate_limited)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)


DESCRIBED: dict[int, str] = {
    400: "Bad request: a body that is not JSON, or a cursor this API did not issue",
    401: "No token, or one that is refused (expired, wrong issuer, ...)",
    403: "The caller may not do this",
    404: "Unknown resource",
    409: "Conflicts with the resource's current state or an earlier request",
    413: "The request body is over the size limit",
    415: "The request body is not JSON (`Content-Type: application/json`)",
    422: "A field breaks a rule: `detail[*].loc` names it, `msg` the rule",
    429: "Too many requests from this client: retry after `Retry-After` seconds",
    500: "Internal error",
    503: "The database, the token issuer's keys or a read model is not available in time",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses an endpoint can answer."""
    return {status: {"model": ErrorBody, "description": DESCRIBED[status]} for status in statuses}


# -- The OpenAPI: every error status of every operation in the envelope ----------------


REF_TEMPLATE = "#/components/schemas/{model}"


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}


def document_errors(app: FastAPI, public: Callable[[str, str], bool]) -> None:
    """Document on every operation the statuses any request can get before or beside its
    route (401 and 503 unless `public(path, method)`; 500 always; 400, 413 and 415 with a
    request body; 422 with parameters or a body), and put the envelope on every error
    status an operation documents (a route's own schema for it, such as `POST /orders`'s
    fixed 500 body, is kept)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document(build(), public)  # `build` keeps its schema on the app
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _document(schema: dict[str, Any], public: Callable[[str, str], bool]) -> None:
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, FieldError, ValidationErrorBody):
        model_schema = model.model_json_schema(ref_template=REF_TEMPLATE)
        model_schema.pop("$defs", None)  # FieldError: a component of its own
        schemas[model.__name__] = model_schema
    # FastAPI's own 422 bodies: nothing answers them any more.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            statuses = {500}
            if not public(path, method):
                statuses |= {401, 503}
            if "requestBody" in operation:
                statuses |= {400, 413, 415, 422}
            if operation.get("parameters"):
                statuses.add(422)
            for status in sorted(statuses):
                answers.setdefault(str(status), {"description": DESCRIBED[status]})
            for status, answer in answers.items():
                if status[0] not in "45":
                    continue
                model = ValidationErrorBody if status == "422" else ErrorBody
                content = answer.get("content", {}).get("application/json", {})
                own = content.get("schema", {}).get("$ref", "")
                if own and not own.endswith(("/HTTPValidationError", f"/{ErrorBody.__name__}")):
                    continue  # the route's own body for it (POST /orders' fixed 500)
                answer["content"] = _ref(model)
