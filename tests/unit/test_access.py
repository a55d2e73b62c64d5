"""Authorization (api/access.py) on the clients' workflows: a role or scope that may never
call a route is refused with 403 before any lookup; another client's resource answers
404, as an unknown one does; client keys (`message_id`, `Idempotency-Key`) are each
client's own."""

from __future__ import annotations

from uuid import uuid4

import pytest

from api.access import Rule, allow
from domain.access import Owner, Principal, Role, Scope
from tests.unit.in_memory_api import ISSUER, as_client, client_of, in_memory_api, in_memory_services

ORDER = {"type": "market", "side": "buy", "instrument": "US0378331005", "quantity": 1}
APPLICATION = {
    "first_name": "Amina",
    "last_name": "Okafor",
    "amount": {"amount": "1500.00", "currency": "EUR"},
    "term_months": 12,
    "email": "amina@example.com",
}


def sms(message_id: str, text: str = "hi") -> dict[str, str]:
    return {"message_id": message_id, "phone_number": "+254712345678", "text": text}


def client(name: str, *scopes: Scope) -> dict[str, str]:
    return ISSUER.headers(Role.CLIENT, subject=name, scopes=[s.value for s in scopes])


def test_a_rule_admits_its_roles_and_of_clients_only_those_with_its_scope() -> None:
    rule = Rule(frozenset({Role.CLIENT, Role.AUDITOR}), Scope.SMS_READ)
    reader = Principal(Role.CLIENT, "shop", frozenset({"sms:read"}))
    assert rule.check(reader) is reader
    assert rule.check(Principal(Role.AUDITOR, "a")).role is Role.AUDITOR
    for refused in (
        Principal(Role.CLIENT, "shop", frozenset({"sms:send"})),
        Principal(Role.OPERATOR, "o"),
        Principal(None, "nobody"),
        None,
    ):
        with pytest.raises(Exception) as refusal:
            rule.check(refused)
        assert refusal.value.code in {"forbidden", "insufficient_scope"}  # type: ignore[attr-defined]


def test_a_route_clients_call_must_name_its_scope() -> None:
    with pytest.raises(ValueError):
        allow(Role.CLIENT)


def test_who_reaches_what() -> None:
    member, bank = uuid4(), uuid4()
    reimbursement = Owner(member_id=member, bank_id=bank)
    assert Principal(Role.MEMBER, "m", member_id=member).reaches(reimbursement)
    assert not Principal(Role.MEMBER, "m", member_id=uuid4()).reaches(reimbursement)
    assert Principal(Role.BANK_ADMIN, "b", bank_id=bank).reaches(reimbursement)
    assert not Principal(Role.BANK_ADMIN, "b", bank_id=uuid4()).reaches(reimbursement)
    assert Principal(Role.AUDITOR, "a").reaches(reimbursement)
    assert not Principal(Role.CLIENT, "shop").reaches(reimbursement)
    assert Principal(Role.CLIENT, "shop").reaches(Owner(client="shop"))
    assert not Principal(Role.CLIENT, "shop").reaches(Owner(client=None))
    assert not Principal(None, "x").reaches(Owner(client="x"))


async def test_a_client_without_sms_send_may_not_send() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        refused = await api.post("/sms", json=sms("m-1"), headers=client("shop", Scope.SMS_READ))
        operator = await api.post("/sms", json=sms("m-2"))  # operators take no client action

    assert (refused.status_code, refused.json()["code"]) == (403, "insufficient_scope")
    assert (operator.status_code, operator.json()["code"]) == (403, "forbidden")


async def test_a_client_reads_its_own_sms_and_never_another_clients() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        sent = (await api.post("/sms", json=sms("m-1"), headers=as_client("shop-a"))).json()
        path = f"/sms/{sent['id']}"
        own = await api.get(path, headers=as_client("shop-a"))
        other = await api.get(path, headers=as_client("shop-b"))
        other_trail = await api.get(f"{path}/events", headers=as_client("shop-b"))
        unknown = await api.get(f"/sms/{uuid4()}", headers=as_client("shop-b"))
        by_auditor = await api.get(path, headers=ISSUER.headers(Role.AUDITOR))
        by_member = await api.get(path, headers=ISSUER.headers(Role.MEMBER, member_id=uuid4()))

    assert own.status_code == 200
    assert other.status_code == other_trail.status_code == unknown.status_code == 404
    assert other.json() == {**unknown.json(), "message": other.json()["message"]}
    assert by_auditor.status_code == 200
    assert by_member.status_code == 403


async def test_message_ids_and_idempotency_keys_are_each_clients_own() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        a = await api.post("/sms", json=sms("same"), headers=as_client("shop-a"))
        b = await api.post("/sms", json=sms("same", "other text"), headers=as_client("shop-b"))
        again = await api.post("/sms", json=sms("same"), headers=as_client("shop-a"))
        key = {"Idempotency-Key": "k-1"}
        order_a = await api.post("/orders", json=ORDER, headers={**as_client("shop-a"), **key})
        order_b = await api.post("/orders", json=ORDER, headers={**as_client("shop-b"), **key})
        order_a_again = await api.post(
            "/orders", json=ORDER, headers={**as_client("shop-a"), **key}
        )

    assert (a.status_code, b.status_code, again.status_code) == (202, 202, 200)
    assert a.json()["id"] != b.json()["id"] and again.json()["id"] == a.json()["id"]
    assert (order_a.status_code, order_b.status_code, order_a_again.status_code) == (201, 201, 200)
    assert order_a.json()["id"] != order_b.json()["id"]
    assert order_a_again.json()["id"] == order_a.json()["id"]


async def test_orders_and_applications_are_their_clients_own() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        order = (await api.post("/orders", json=ORDER, headers=as_client("shop-a"))).json()
        application = (
            await api.post("/applications", json=APPLICATION, headers=as_client("shop-a"))
        ).json()
        answers = {
            path: (
                (await api.get(path, headers=as_client("shop-a"))).status_code,
                (await api.get(path, headers=as_client("shop-b"))).status_code,
                (await api.get(path)).status_code,  # an operator
            )
            for path in (
                f"/orders/{order['id']}",
                f"/orders/{order['id']}/events",
                f"/applications/{application['id']}",
                f"/applications/{application['id']}/events",
            )
        }
        no_write = await api.post(
            "/applications", json=APPLICATION, headers=client("shop", Scope.APPLICATIONS_READ)
        )
        no_read = await api.get(
            f"/orders/{order['id']}", headers=client("shop-a", Scope.ORDERS_WRITE)
        )

    assert answers == dict.fromkeys(answers, (200, 404, 200))
    assert no_write.status_code == no_read.status_code == 403


async def test_operator_actions_are_operators_alone() -> None:
    async with client_of(in_memory_api(in_memory_services())) as api:
        sent = (await api.post("/sms", json=sms("m-1"), headers=as_client("shop-a"))).json()
        retry = f"/sms/{sent['id']}/retry"
        by_client = await api.post(retry, headers=as_client("shop-a"))
        by_auditor = await api.post(retry, headers=ISSUER.headers(Role.AUDITOR))
        by_operator = await api.post(retry)  # reaches the SMS: not parked, a conflict

    assert by_client.status_code == by_auditor.status_code == 403
    assert by_operator.status_code == 409
