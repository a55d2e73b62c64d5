"""The whole API against its own OpenAPI, with Schemathesis: generated requests to every
operation, and scenarios that follow the documented links from each create to the reads
of what it created, on a real PostgreSQL with valid tokens. No answer may be a 5xx, have
a status its operation does not document, or break the schema documented for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from adapters.migrations import migrate
from domain.access import Role, Scope
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.databases import empty_database
from tests.harness import workers
from tests.issuer import TokenIssuer

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# Kept small: every operation a few times, a few scenarios (well under a minute).
EXAMPLES = settings(
    max_examples=4,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
SCENARIOS = settings(EXAMPLES, max_examples=15, stateful_step_count=6)
# What a client calls (with a client's token and every scope); the rest, an operator.
CLIENT_PATHS = ("/sms", "/orders", "/applications")


@pytest.fixture(scope="module")
def served(server_url: str, issuer: TokenIssuer) -> Iterator[str]:
    with empty_database(server_url) as url:
        migrate(url)
        platform = Settings(**issuer.trusted, database_url=url)

        async def seed() -> None:
            async with platform_session(platform, only={"reimbursements"}) as opened:
                await opened.workflows["reimbursements"].seed("demo-banks")

        asyncio.run(seed())
        with running(create_app(platform)) as api, workers(platform, "projections"):
            yield api


@pytest.fixture(scope="module")
def tokens(issuer: TokenIssuer) -> dict[str, dict[str, str]]:
    scopes = [scope.value for scope in Scope]
    return {
        "client": issuer.headers(Role.CLIENT, subject="schemathesis", scopes=scopes),
        "operator": issuer.headers(Role.OPERATOR),
    }


def headers_for(path: str, tokens: dict[str, dict[str, str]]) -> dict[str, str]:
    return tokens["client" if path.startswith(CLIENT_PATHS) else "operator"]


@pytest.fixture(scope="module")
def api_schema(served: str) -> Any:
    return schemathesis.openapi.from_url(f"{served}/openapi.json")


def test_every_operation_answers_as_documented(
    api_schema: Any, tokens: dict[str, dict[str, str]]
) -> None:
    failures: list[str] = []
    statuses: list[int] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operations += 1
        operation = result.ok()

        @given(case=operation.as_strategy())
        @EXAMPLES
        def answers_as_documented(case: Any) -> None:
            headers = {**(case.headers or {}), **headers_for(case.path, tokens)}
            response = case.call(headers=headers, timeout=10)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        try:
            answers_as_documented()
        except Exception as failure:  # every operation's, not only the first's
            failures.append(f"{operation.method.upper()} {operation.path}: {failure}")
    assert not failures, "\n\n".join(failures)
    assert operations > 40 and len(statuses) >= operations  # every operation was called


def test_scenarios_from_creates_to_their_resources(
    api_schema: Any, tokens: dict[str, dict[str, str]]
) -> None:
    machine = api_schema.as_state_machine()

    class Scenarios(machine):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers_for(case.path, tokens), "timeout": 10}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS)

    Scenarios.run(settings=SCENARIOS)
