"""README's routes exist: every `METHOD /path` it names (in prose and in its tables) and
every `curl` of its examples is an operation of the API's OpenAPI, with the query
parameters it shows, or else a route of one of the simulators it describes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.control import SimulatorApp
from simulators.registry import SIMULATORS
from tests.issuer import TokenIssuer

README = Path(__file__).resolve().parents[2] / "README.md"
METHOD = r"(?:GET|POST|PUT|PATCH|DELETE|HEAD)"
NAMED = re.compile(rf"^({METHOD}(?:\|{METHOD})*)\s+(/\S*)$")
SPAN = re.compile(r"`([^`]+)`")
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
API_URL = re.compile(r"localhost:8000(/[^\s'\"]*)")


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: frozenset[str]
    where: str  # the README's text it was read from

    @classmethod
    def of(cls, method: str, target: str, where: str) -> Call:
        parts = urlsplit(target)
        keys = frozenset(key for key, _ in parse_qsl(parts.query, keep_blank_values=True))
        return cls(method, parts.path.rstrip("/") or "/", keys, where)


def _named(text: str) -> list[Call]:
    """`GET /sms/{id}` in prose (a span may wrap: `POST\n/v1/charges`), and in a table
    cell `GET /banks`, `/banks/{id}/accounts`: a bare path takes the method before it."""
    calls = []
    prose = FENCE.sub("", text)  # a fence's three backticks would pair spans wrongly
    for span in SPAN.findall(prose):
        found = NAMED.match(" ".join(span.split()))
        if found:
            methods, target = found.groups()
            calls += [Call.of(method, target, span) for method in methods.split("|")]
    for row in (line for line in prose.splitlines() if line.startswith("|")):
        for cell in row.split("|"):
            method = None
            for span in SPAN.findall(cell):
                found = NAMED.match(span)
                if found:
                    method = found.group(1).split("|")[0]
                elif method and span.startswith("/"):
                    calls.append(Call.of(method, span, cell.strip()))
    return calls


def _curls(text: str) -> list[Call]:
    """Every `curl` to the API (localhost:8000) in README's code blocks."""
    calls = []
    for block in FENCE.findall(text):
        for command in block.replace("\\\n", " ").splitlines():
            url = API_URL.search(command)
            if "curl" not in command or not url:
                continue
            explicit = re.search(r"-X\s+([A-Z]+)", command)
            method = explicit.group(1) if explicit else "POST" if " -d " in command else "GET"
            calls.append(Call.of(method, url.group(1), command.strip()))
    return calls


def _matches(template: str, path: str) -> bool:
    """`/sms/{sms_id}` matches `/sms/{id}`, `/sms/<id>`, `/sms/$ID`, `/sms/5b0e...`."""
    expected, given = template.strip("/").split("/"), path.strip("/").split("/")
    return len(expected) == len(given) and all(
        part == value or part.startswith("{") for part, value in zip(expected, given, strict=True)
    )


def _api_operations(issuer: TokenIssuer) -> dict[tuple[str, str], set[str]]:
    """(method, path template) -> the operation's query parameters (of an API in test
    mode: the README documents its routes too)."""
    settings = Settings(database_url="postgresql://unused/unused", test_mode=True, **issuer.trusted)
    spec: dict[str, Any] = create_app(settings).openapi()
    return {
        (method.upper(), path): {
            parameter["name"]
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        }
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def _simulator_routes() -> set[tuple[str, str]]:
    routes: set[tuple[str, str]] = set()
    for factory in SIMULATORS.values():
        app = factory()
        contract = app.contract_routes if isinstance(app, SimulatorApp) else ()
        for route in [*iter_route_contexts(app.routes), *contract]:
            kind = getattr(route, "original_route", route)
            if isinstance(kind, APIRoute):
                routes |= {(method, route.path_format) for method in route.methods or ()}
            elif isinstance(kind, APIWebSocketRoute):
                routes.add(("GET", route.path_format))
    return routes


@pytest.fixture(scope="module")
def readme_calls() -> list[Call]:
    text = README.read_text()
    return _named(text) + _curls(text)


def test_readme_names_the_routes_it_is_checked_by(readme_calls: list[Call]) -> None:
    # The parser finds what it must, so an empty result cannot pass for a clean README.
    found = {(call.method, call.path) for call in readme_calls}
    assert ("GET", "/banks/<bank_id>/reimbursements") in found  # a curl
    assert ("GET", "/banks/{id}/accounts") in found  # a bare path in a table cell
    assert ("POST", "/v1/charges") in found  # a span that wraps
    assert len(found) > 50


def test_every_route_the_readme_names_exists(readme_calls: list[Call], issuer: TokenIssuer) -> None:
    api = _api_operations(issuer)
    simulators = _simulator_routes()
    wrong = []
    for call in readme_calls:
        operation = next(
            (
                parameters
                for (method, template), parameters in api.items()
                if method == call.method and _matches(template, call.path)
            ),
            None,
        )
        if operation is not None:
            if not call.query <= operation:
                wrong.append(f"{call.where!r}: no query parameter {sorted(call.query - operation)}")
            continue
        if not any(
            method == call.method and _matches(template, call.path)
            for method, template in simulators
        ):
            wrong.append(f"{call.where!r}: no {call.method} {call.path} in the API or a simulator")
    assert not wrong, "\n".join(wrong)
