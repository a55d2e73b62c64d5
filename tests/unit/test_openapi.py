"""`/docs`: every endpoint documents an example and every status it can answer, says what
it does, and every schema has a name a client's code generator can use as it is."""

from __future__ import annotations

import re
from typing import Any

from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from tests.issuer import TokenIssuer


def openapi(issuer: TokenIssuer) -> dict[str, Any]:
    settings = Settings(database_url="postgresql://unused/unused", **issuer.trusted)
    return create_app(settings).openapi()


def _has_example(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("type") == "array":
        return _has_example(schema["items"], components)
    if "examples" in schema or "example" in schema:
        return True
    refs = [s for s in schema.get("anyOf", []) if "$ref" in s]
    return bool(refs) and all(_has_example(s, components) for s in refs)


def test_every_endpoint_has_examples_for_its_bodies(issuer: TokenIssuer) -> None:
    spec = openapi(issuer)
    components = spec["components"]["schemas"]
    missing = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body and not _has_example(body["schema"], components):
                missing.append(f"{method.upper()} {path} request")
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    continue
                content = response.get("content", {}).get("application/json", {})
                if "example" in content or "examples" in content:
                    continue
                if not _has_example(content.get("schema", {}), components):
                    missing.append(f"{method.upper()} {path} {status}")
    assert not missing, f"no example for: {missing}"


def test_every_operation_has_a_summary_and_a_description(issuer: TokenIssuer) -> None:
    spec = openapi(issuer)
    undocumented = [
        f"{method.upper()} {path}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        if not operation.get("summary", "").strip() or not operation.get("description", "").strip()
    ]
    assert not undocumented, f"no summary or no description: {undocumented}"


def test_every_schema_has_a_plain_name(issuer: TokenIssuer) -> None:
    # Not `Page_SmsPublic_`, `Money-Input` or a module path of pydantic's collision names.
    names = openapi(issuer)["components"]["schemas"]
    unclean = [name for name in names if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", name)]
    assert not unclean, unclean
    assert {"SmsPage", "ReimbursementSummaryPage", "Money"} <= set(names)


def test_commands_document_their_errors(issuer: TokenIssuer) -> None:
    paths = openapi(issuer)["paths"]
    assert {"200", "202", "409", "422"} <= set(paths["/sms"]["post"]["responses"])
    assert {"404", "409"} <= set(paths["/sms/{sms_id}/retry"]["post"]["responses"])
    assert "404" in paths["/sms/{sms_id}"]["get"]["responses"]
    assert "503" in paths["/health"]["get"]["responses"]


def test_every_operation_but_the_public_ones_requires_the_bearer_scheme(
    issuer: TokenIssuer,
) -> None:
    spec = openapi(issuer)
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    public = {("get", "/health"), ("get", "/.well-known/jwks.json")}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method, path) in public:
                assert operation["security"] == [], (method, path)
            else:
                assert operation["security"] == [{"bearer": []}], (method, path)
                assert "401" in operation["responses"], (method, path)
    assert public <= {(m, p) for p, ops in spec["paths"].items() for m in ops}


def test_every_operation_but_the_public_ones_says_who_may_call_it(issuer: TokenIssuer) -> None:
    spec = openapi(issuer)
    public = {("get", "/health"), ("get", "/.well-known/jwks.json")}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if (method, path) in public:
                assert "x-access" not in operation, (method, path)
                continue
            assert operation["x-access"]["roles"], (method, path)
            assert "403" in operation["responses"], (method, path)
    assert spec["paths"]["/sms"]["post"]["x-access"] == {
        "roles": ["client"],
        "client_scope": "sms:send",
    }
