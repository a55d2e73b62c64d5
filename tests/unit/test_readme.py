"""README's routes exist: every `METHOD /path` it names (in prose and in its tables) and
every `curl` of its examples is an operation of the API's OpenAPI, with the query
parameters it shows, or else a route of one of the simulators it describes. And its
examples (and docs/'s) work as shown: every `curl` to a route that needs a token sends
one, minted in the same example (`TOKEN=$(.venv/bin/ledgerflow token --role ...)`) for
a role, and a client's scopes, the route lets through."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts

from api.access import Rule, rule_of
from domain.access import Role
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.control import SimulatorApp
from simulators.registry import SIMULATORS
from tests.issuer import TokenIssuer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))  # their curls are held to the same rules
METHOD = r"(?:GET|POST|PUT|PATCH|DELETE|HEAD)"
NAMED = re.compile(rf"^({METHOD}(?:\|{METHOD})*)\s+(/\S*)$")
SPAN = re.compile(r"`([^`]+)`")
# A code block, at the margin or indented under a list item.
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.MULTILINE | re.DOTALL)
API_URL = re.compile(r"localhost:8000(/[^\s'\"]*)")
BEARER = "Authorization: Bearer"
ASSIGNMENT = re.compile(r"^(\w+)=[\"']?(.*?)[\"']?$")
HEADER = re.compile(r"""-H\s+(?:"([^"]*)"|'([^']*)')""")
VARIABLE = re.compile(r"\$\{?(\w+)\}?")
MINTED = re.compile(r"ledgerflow token\b([^)]*)")
ROLE = re.compile(r"--role\s+(\w+)")
SCOPES = re.compile(r"""--scope\s+["']([^"']*)["']""")


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


@dataclass(frozen=True)
class Caller:
    """Whom a curl's token names: the role of `ledgerflow token --role`, `None` when it is
    not minted in the curl's example; a client's `--scope` (`None`: every scope)."""

    role: Role | None
    scopes: frozenset[str] | None = None

    @classmethod
    def of(cls, value: str, minted: dict[str, Caller]) -> Caller:
        """The caller of `value`: `$(ledgerflow token ...)` itself, or a `$VARIABLE` that
        holds one."""
        token = MINTED.search(value)
        if token:
            role, scopes = ROLE.search(token.group(1)), SCOPES.search(token.group(1))
            return cls(
                Role(role.group(1)) if role else None,
                frozenset(scopes.group(1).split()) if scopes else None,
            )
        variable = VARIABLE.search(value)
        return minted.get(variable.group(1), UNKNOWN) if variable else UNKNOWN

    def may_call(self, rule: Rule) -> bool:
        if self.role is None or self.role not in rule.roles:
            return False
        return self.role is not Role.CLIENT or self.scopes is None or rule.scope in self.scopes


UNKNOWN = Caller(None)


@dataclass(frozen=True)
class Curl:
    call: Call
    caller: Caller | None  # `None`: no token sent


def _curls(text: str) -> list[Curl]:
    """Every `curl` to the API (localhost:8000) in README's code blocks, with whom its
    token names. A variable holding a token (`TOKEN=$(...)`) or a header (`AUTH="Authorization:
    Bearer $TOKEN"`) names its role in the block it is set in, as a reader copies a block."""
    curls = []
    headers: set[str] = set()  # variables that hold an Authorization header
    for block in FENCE.findall(text):
        minted: dict[str, Caller] = {}
        for line in block.replace("\\\n", " ").splitlines():
            command = line.strip()
            assigned = ASSIGNMENT.match(command)
            if assigned and "curl" not in command:
                name, value = assigned.groups()
                if value.startswith(BEARER):
                    headers.add(name)
                if BEARER in value or MINTED.search(value):
                    minted[name] = Caller.of(value, minted)
                continue
            url = API_URL.search(command)
            if "curl" not in command or not url:
                continue
            explicit = re.search(r"-X\s+([A-Z]+)", command)
            method = explicit.group(1) if explicit else "POST" if " -d " in command else "GET"
            call = Call.of(method, url.group(1), command)
            curls.append(Curl(call, _sent(command, minted, headers)))
    return curls


def _sent(command: str, minted: dict[str, Caller], headers: set[str]) -> Caller | None:
    """Whom the token `command` sends names (`None`: it sends none)."""
    for quoted in HEADER.findall(command):
        header = "".join(quoted)
        if header.startswith(BEARER):
            return Caller.of(header.removeprefix(BEARER), minted)
        variable = VARIABLE.fullmatch(header)
        if variable and variable.group(1) in headers:
            return minted.get(variable.group(1), UNKNOWN)
    return None


def _matches(template: str, path: str) -> bool:
    """`/sms/{sms_id}` matches `/sms/{id}`, `/sms/<id>`, `/sms/$ID`, `/sms/5b0e...`."""
    expected, given = template.strip("/").split("/"), path.strip("/").split("/")
    return len(expected) == len(given) and all(
        part == value or part.startswith("{") for part, value in zip(expected, given, strict=True)
    )


@dataclass(frozen=True)
class Operation:
    query: set[str]  # its query parameters
    guarded: bool  # it needs a token
    rule: Rule | None  # whom it lets through


def _api_operations(issuer: TokenIssuer) -> dict[tuple[str, str], Operation]:
    """(method, path template) -> the operation (of an API in test mode: the README
    documents its routes too)."""
    settings = Settings(database_url="postgresql://unused/unused", test_mode=True, **issuer.trusted)
    app = create_app(settings)
    spec: dict[str, Any] = app.openapi()
    rules = {
        (method, str(context.path_format)): rule_of(route)
        for context in iter_route_contexts(app.routes)
        if isinstance(route := context.original_route, APIRoute)
        for method in context.methods or ()
    }
    return {
        (method.upper(), path): Operation(
            query={
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query"
            },
            guarded=bool(operation.get("security")),
            rule=rules.get((method.upper(), path)),
        )
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    }


def _operation(api: dict[tuple[str, str], Operation], call: Call) -> Operation | None:
    return next(
        (
            operation
            for (method, template), operation in api.items()
            if method == call.method and _matches(template, call.path)
        ),
        None,
    )


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
def readme_curls() -> list[Curl]:
    return [curl for path in (README, *DOCS) for curl in _curls(path.read_text())]


@pytest.fixture(scope="module")
def readme_calls(readme_curls: list[Curl]) -> list[Call]:
    return _named(README.read_text()) + [curl.call for curl in readme_curls]


@pytest.fixture(scope="module")
def api(issuer: TokenIssuer) -> dict[tuple[str, str], Operation]:
    return _api_operations(issuer)


def test_readme_names_the_routes_it_is_checked_by(readme_calls: list[Call]) -> None:
    # The parser finds what it must, so an empty result cannot pass for a clean README.
    found = {(call.method, call.path) for call in readme_calls}
    assert ("GET", "/banks/<bank_id>/reimbursements") in found  # a curl
    assert ("GET", "/banks/{id}/accounts") in found  # a bare path in a table cell
    assert ("POST", "/v1/charges") in found  # a span that wraps
    assert ("POST", "/status/set-aside/7/skip") in found  # a curl in a list item's block
    assert len(found) > 50


def test_every_route_the_readme_names_exists(
    readme_calls: list[Call], api: dict[tuple[str, str], Operation]
) -> None:
    simulators = _simulator_routes()
    wrong = []
    for call in readme_calls:
        operation = _operation(api, call)
        if operation is not None:
            if not call.query <= operation.query:
                missing = sorted(call.query - operation.query)
                wrong.append(f"{call.where!r}: no query parameter {missing}")
            continue
        if not any(
            method == call.method and _matches(template, call.path)
            for method, template in simulators
        ):
            wrong.append(f"{call.where!r}: no {call.method} {call.path} in the API or a simulator")
    assert not wrong, "\n".join(wrong)


def test_the_token_parser_finds_whom_a_curl_calls_as() -> None:
    # How each of README's forms reads, so a clean README cannot pass for a blind parser.
    text = """```sh
TOKEN=$(.venv/bin/ledgerflow token --role client --scope "orders:read")
AUTH="Authorization: Bearer $TOKEN"
curl -s localhost:8000/orders -H "Authorization: Bearer $TOKEN"
curl -s localhost:8000/orders -H "$AUTH"
curl -s localhost:8000/status \\
  -H "Authorization: Bearer $(.venv/bin/ledgerflow token --role auditor)"
curl -s -X POST localhost:8000/status/set-aside/7/retry
```
```sh
curl -s localhost:8000/orders -H "$AUTH"
```"""
    client = Caller(Role.CLIENT, frozenset({"orders:read"}))
    assert [curl.caller for curl in _curls(text)] == [
        client,
        client,
        Caller(Role.AUDITOR),
        None,  # no token at all
        UNKNOWN,  # a token, minted in another example
    ]


def test_every_curl_to_a_guarded_route_sends_a_token_that_may_call_it(
    readme_curls: list[Curl], api: dict[tuple[str, str], Operation]
) -> None:
    guarded = [
        (curl, operation)
        for curl in readme_curls
        if (operation := _operation(api, curl.call)) is not None and operation.guarded
    ]
    assert len(guarded) > 30  # the API's examples were found
    wrong = []
    for curl, operation in guarded:
        where = curl.call.where
        if curl.caller is None:
            wrong.append(f"{where!r}: sends no token (401)")
        elif curl.caller.role is None:
            wrong.append(f"{where!r}: its token is not minted in its example")
        elif operation.rule is not None and not curl.caller.may_call(operation.rule):
            wrong.append(f"{where!r}: a {curl.caller.role} token may not call it (403)")
    assert not wrong, "\n".join(wrong)
