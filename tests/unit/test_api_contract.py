"""The API's contract, walked over its OpenAPI: every operation documents the errors it
can answer in the platform's one envelope, and every create takes an `Idempotency-Key`."""

from __future__ import annotations

from typing import Any

from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from tests.issuer import TokenIssuer

# The one error body that is not the envelope: fixed by the orders template's contract.
FIXED_BODIES = {("post", "/orders", "500")}


def _openapi(issuer: TokenIssuer) -> dict[str, Any]:
    settings = Settings(database_url="postgresql://unused/unused", **issuer.trusted)
    return create_app(settings).openapi()


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _schema(answer: dict[str, Any]) -> str:
    return str(answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref"))


def test_every_documented_error_status_uses_the_envelope(issuer: TokenIssuer) -> None:
    spec = _openapi(issuer)
    schemas = spec["components"]["schemas"]
    assert set(schemas["ErrorBody"]["required"]) == {"message", "code"}
    assert set(schemas["ValidationErrorBody"]["required"]) == {"message", "code", "detail"}
    wrong = [
        f"{method.upper()} {path} {status}: {_schema(answer)}"
        for method, path, operation in _operations(spec)
        for status, answer in operation["responses"].items()
        if status[0] in "45"
        and (method, path, status) not in FIXED_BODIES
        and _schema(answer)
        != (
            "#/components/schemas/ValidationErrorBody"
            if status == "422"
            else "#/components/schemas/ErrorBody"
        )
    ]
    assert not wrong, wrong
    assert "HTTPValidationError" not in schemas


def test_every_operation_documents_what_any_request_can_answer(issuer: TokenIssuer) -> None:
    spec = _openapi(issuer)
    missing = []
    for method, path, operation in _operations(spec):
        expected = {"500"}
        if operation.get("security") != []:
            expected |= {"401", "503"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415", "422"}
        if operation.get("parameters"):
            expected.add("422")
        if not expected <= set(operation["responses"]):
            missing.append(f"{method.upper()} {path}: {expected - set(operation['responses'])}")
    assert not missing, missing


def test_every_create_takes_an_idempotency_key(issuer: TokenIssuer) -> None:
    spec = _openapi(issuer)
    creates = [
        (method, path, operation)
        for method, path, operation in _operations(spec)
        if method == "post" and {"201", "202"} & set(operation["responses"])
    ]
    assert {path for _, path, _ in creates} >= {
        "/sms",
        "/orders",
        "/applications",
        "/reimbursements",
        "/billing/runs",
    }
    without = [
        f"{method.upper()} {path}"
        for method, path, operation in creates
        if not any(
            parameter["in"] == "header" and parameter["name"].lower() == "idempotency-key"
            for parameter in operation.get("parameters", [])
        )
    ]
    assert not without, without
    conflicts = [
        f"{method.upper()} {path}"
        for method, path, operation in creates
        if "409" not in operation["responses"]
    ]
    assert not conflicts, conflicts
