"""The access model, route by route: the rule each route declares is the table below, and
every role gets what that table says (403 for a role or scope that may never call the
route, before any lookup); then the cases that matter most, over the real application
services: another member's reimbursement, another bank's decision, another client's SMS
(404, as unknown ids), an auditor's action and a client without `sms:send` (403)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from api.access import Rule, rule_of
from api.app import ApiConfig
from api.services import ApiServices
from domain.access import Role, Scope
from domain.actors import SEED
from domain.reimbursements.reference import reference_id
from processes.reimbursements.demo_banks import demo_banks
from tests.unit.in_memory_api import ISSUER, in_memory_api, in_memory_services

C, M, B, OP, AU = Role.CLIENT, Role.MEMBER, Role.BANK_ADMIN, Role.OPERATOR, Role.AUDITOR
READ = {OP, AU}

# (method, path) -> (the roles that may call it, the scope a client's token must carry).
TABLE: dict[tuple[str, str], tuple[set[Role], Scope | None]] = {
    ("POST", "/sms"): ({C}, Scope.SMS_SEND),
    ("GET", "/sms"): ({C, *READ}, Scope.SMS_READ),
    ("GET", "/sms/{sms_id}"): ({C, *READ}, Scope.SMS_READ),
    ("GET", "/sms/{sms_id}/events"): ({C, *READ}, Scope.SMS_READ),
    ("POST", "/sms/{sms_id}/retry"): ({OP}, None),
    ("POST", "/orders"): ({C}, Scope.ORDERS_WRITE),
    ("GET", "/orders"): ({C, *READ}, Scope.ORDERS_READ),
    ("GET", "/orders/{order_id}"): ({C, *READ}, Scope.ORDERS_READ),
    ("GET", "/orders/{order_id}/events"): ({C, *READ}, Scope.ORDERS_READ),
    ("POST", "/applications"): ({C}, Scope.APPLICATIONS_WRITE),
    ("GET", "/applications"): ({C, *READ}, Scope.APPLICATIONS_READ),
    ("GET", "/applications/{application_id}"): ({C, *READ}, Scope.APPLICATIONS_READ),
    ("GET", "/applications/{application_id}/events"): ({C, *READ}, Scope.APPLICATIONS_READ),
    ("POST", "/applications/{application_id}/retry"): ({OP}, None),
    ("POST", "/reimbursements"): ({M}, None),
    ("GET", "/reimbursements/{reimbursement_id}"): ({M, B, *READ}, None),
    ("GET", "/reimbursements/{reimbursement_id}/events"): ({M, B, *READ}, None),
    ("POST", "/reimbursements/{reimbursement_id}/approve"): ({B}, None),
    ("POST", "/reimbursements/{reimbursement_id}/deny"): ({B}, None),
    ("POST", "/reimbursements/{reimbursement_id}/payment/retry"): ({OP}, None),
    ("GET", "/members/{member_id}/reimbursements"): ({M, *READ}, None),
    ("GET", "/members/{member_id}/accounts"): ({M, B, *READ}, None),
    ("GET", "/banks"): ({B, *READ}, None),
    ("GET", "/banks/{bank_id}/administrators"): ({B, *READ}, None),
    ("GET", "/banks/{bank_id}/accounts"): ({B, *READ}, None),
    ("GET", "/banks/{bank_id}/reimbursements"): ({B, *READ}, None),
    ("GET", "/invoices"): (READ, None),
    ("GET", "/invoices/{invoice_id}"): (READ, None),
    ("GET", "/invoices/{invoice_id}/events"): (READ, None),
    ("POST", "/invoices/{invoice_id}/resolution"): ({OP}, None),
    ("POST", "/billing/runs"): ({OP}, None),
    ("GET", "/billing/runs"): (READ, None),
    ("GET", "/billing/runs/{run_id}"): (READ, None),
    ("GET", "/rest/health"): (READ, None),
    ("GET", "/rest/v1/invoices"): (READ, None),
    ("GET", "/rest/v1/invoices/{invoice_id}"): (READ, None),
    ("GET", "/rest/v1/customers"): (READ, None),
    ("GET", "/rest/v1/customers/{customer_id}"): (READ, None),
    ("GET", "/status"): (READ, None),
    ("GET", "/status/set-aside"): (READ, None),
    ("GET", "/status/set-aside/{item_id}"): (READ, None),
    ("POST", "/status/set-aside/{item_id}/retry"): ({OP}, None),
    ("POST", "/status/set-aside/{item_id}/skip"): ({OP}, None),
    ("GET", "/status/attention"): (READ, None),
    ("POST", "/status/attention/retry"): ({OP}, None),
    ("POST", "/status/work/{kind}/retry-parked"): ({OP}, None),
    ("GET", "/status/dead-letters/decisions"): (READ, None),
    ("POST", "/status/dead-letters/{letter_id}/replay"): ({OP}, None),
    ("POST", "/status/dead-letters/{letter_id}/discard"): ({OP}, None),
    ("GET", "/__admin/clock"): (READ, None),
    ("PUT", "/__admin/clock"): ({OP}, None),  # in test mode alone
}
PUBLIC = {("GET", "/health")}


def _app() -> FastAPI:
    return in_memory_api(in_memory_services(), ApiConfig(test_mode=True))


def _routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """Every operation the app serves, as served (its routers' prefixes applied)."""
    routes: dict[tuple[str, str], APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute) and route.include_in_schema:
            for method in context.methods or ():
                routes[(method, str(context.path_format))] = route
    return routes


def test_every_route_declares_the_rule_of_the_access_model() -> None:
    routes = _routes(_app())
    assert set(routes) == set(TABLE) | PUBLIC  # the table covers every route
    declared = {key: rule_of(route) for key, route in routes.items()}
    expected = {key: Rule(frozenset(roles), scope) for key, (roles, scope) in TABLE.items()}
    assert {key: declared[key] for key in TABLE} == expected
    assert all(declared[key] is None for key in PUBLIC)


# A token of each kind of caller; a client with every scope, and one with none of them.
CALLERS: dict[str, tuple[Role, dict[str, Any]]] = {
    "client": (C, {"subject": "shop", "scopes": [scope.value for scope in Scope]}),
    "client without scopes": (C, {"subject": "shop", "scopes": []}),
    "member": (M, {"member_id": uuid4()}),
    "bank_admin": (B, {"bank_id": uuid4(), "administrator_id": uuid4()}),
    "operator": (OP, {}),
    "auditor": (AU, {}),
}


def _filled(path: str) -> str:
    """The path with dummies for its parameters (integers where the route wants one)."""
    for name in ("invoice_id", "customer_id", "item_id", "letter_id"):
        path = path.replace("{" + name + "}", "1")
    while "{" in path:
        start, end = path.index("{"), path.index("}")
        path = path[:start] + str(uuid4()) + path[end + 1 :]
    return path


@asynccontextmanager
async def _api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        # A route the in-memory services cannot serve (a list, without its read model)
        # answers 500 rather than raising: what matters here is that it was not refused.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_each_role_is_let_through_or_refused_as_the_table_says(caller: str) -> None:
    role, claims = CALLERS[caller]
    headers = ISSUER.headers(role, **claims)
    scopes = set(claims.get("scopes", ()))
    app = _app()
    wrong: list[tuple[str, str, int]] = []
    async with _api(app) as api:
        for (method, path), (roles, scope) in TABLE.items():
            admitted = role in roles and (role is not C or scope in scopes)
            # No body: a caller let through is answered by the route (422, 404, ...).
            answer = await api.request(method, _filled(path), headers=headers)
            code = answer.json().get("code") if answer.status_code == 403 else None
            refused = code in {"forbidden", "insufficient_scope"}
            if refused == admitted or answer.status_code == 401:
                wrong.append((method, path, answer.status_code))
    assert wrong == [], caller


# The cases that matter most, with the real services and the demo banks ------------------

NORDIC, LAKESIDE = reference_id("bank", "nordic-coop"), reference_id("bank", "lakeside-savings")
NORDIC_ADMIN = reference_id("administrator", "nordic-admin-1")
LAKESIDE_ADMIN = reference_id("administrator", "lakeside-admin-1")
ASTRID, NILS = reference_id("member", "nordic-m-1"), reference_id("member", "nordic-m-2")
ASTRIDS_ACCOUNT = reference_id("account", "nordic-m-1-acct")


def member(member_id: UUID) -> dict[str, str]:
    return ISSUER.headers(M, member_id=member_id)


def admin(administrator: UUID, bank: UUID) -> dict[str, str]:
    return ISSUER.headers(B, bank_id=bank, administrator_id=administrator)


async def _with_demo_banks() -> ApiServices:
    services = in_memory_services()
    assert services.reimbursements is not None
    await services.reimbursements.service.register(*demo_banks(SEED))
    return services


async def test_the_cases_that_matter_most() -> None:
    app = in_memory_api(await _with_demo_banks())
    claim = {
        "bank_account_id": str(ASTRIDS_ACCOUNT),
        "amount": {"amount": "12.50", "currency": "DKK"},  # a Danish account
        "description": "Taxi to the branch",
    }
    sms = {"message_id": "m-1", "phone_number": "+254712345678", "text": "hi"}
    async with _api(app) as api:
        submitted = await api.post("/reimbursements", json=claim, headers=member(ASTRID))
        assert submitted.status_code == 201, submitted.text
        path = f"/reimbursements/{submitted.json()['id']}"

        # A member reading another member's reimbursement: 404, as an unknown one.
        assert (await api.get(path, headers=member(ASTRID))).status_code == 200
        other_members = await api.get(path, headers=member(NILS))
        assert (other_members.status_code, other_members.json()["code"]) == (
            404,
            "reimbursement_not_found",
        )
        # An administrator of another bank deciding: 404; of its bank: decided, by it.
        foreign = await api.post(f"{path}/approve", headers=admin(LAKESIDE_ADMIN, LAKESIDE))
        assert (foreign.status_code, foreign.json()["code"]) == (404, "reimbursement_not_found")
        # An auditor trying an action: 403, whatever the action.
        auditor = ISSUER.headers(AU)
        for action in (f"{path}/approve", f"{path}/payment/retry", "/billing/runs"):
            assert (await api.post(action, headers=auditor)).status_code == 403, action
        approved = await api.post(f"{path}/approve", headers=admin(NORDIC_ADMIN, NORDIC))
        assert approved.status_code == 200
        assert approved.json()["decided_by"] == str(NORDIC_ADMIN)  # from the token

        # A client reading another client's SMS: 404, as an unknown one.
        shop_a = ISSUER.headers(C, subject="shop-a", scopes=["sms:send", "sms:read"])
        shop_b = ISSUER.headers(C, subject="shop-b", scopes=["sms:send", "sms:read"])
        sent = (await api.post("/sms", json=sms, headers=shop_a)).json()
        assert (await api.get(f"/sms/{sent['id']}", headers=shop_a)).status_code == 200
        assert (await api.get(f"/sms/{sent['id']}", headers=shop_b)).status_code == 404
        # A client without sms:send sending: 403, and nothing is recorded.
        reader = ISSUER.headers(C, subject="shop-c", scopes=["sms:read"])
        refused = await api.post("/sms", json={**sms, "message_id": "m-2"}, headers=reader)
        assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
        allowed = ISSUER.headers(C, subject="shop-c", scopes=["sms:send", "sms:read"])
        assert (
            await api.post("/sms", json={**sms, "message_id": "m-2"}, headers=allowed)
        ).status_code == 202
