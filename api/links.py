"""OpenAPI links from each create to the reads of what it created: `POST /sms` answers
an SMS whose `id` is the `sms_id` of `GET /sms/{sms_id}` and `GET /sms/{sms_id}/events`.
Clients' tools (and the schema-driven tests) follow them from a create to its resource."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

_PARAMETER = re.compile(r"^\{([a-z_]+)\}$")


def document_links(app: FastAPI) -> None:
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _link(build())  # `build` keeps its schema on the app
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def _link(schema: dict[str, Any]) -> None:
    paths: dict[str, dict[str, Any]] = schema.get("paths", {})
    for collection, operations in paths.items():
        create = operations.get("post")
        if create is None or "{" in collection:
            continue
        reads = _reads_by_id(paths, collection)
        for status in ("201", "202"):
            answer = create.get("responses", {}).get(status)
            if answer is None or not reads:
                continue
            answer["links"] = {
                f"{operation_id}": {
                    "operationId": operation_id,
                    "parameters": {parameter: "$response.body#/id"},
                    "description": f"The created resource's `id` is `{parameter}`.",
                }
                for operation_id, parameter in reads
            }


def _reads_by_id(paths: dict[str, dict[str, Any]], collection: str) -> list[tuple[str, str]]:
    """The GET operations under `collection/{id}` that take that one path parameter."""
    found = []
    for path, operations in paths.items():
        rest = path[len(collection) :].split("/")
        if not path.startswith(collection + "/") or len(rest) < 2:
            continue
        match = _PARAMETER.match(rest[1])
        read = operations.get("get")
        if match is None or read is None or "{" in "/".join(rest[2:]):
            continue
        found.append((read["operationId"], match.group(1)))
    return found
