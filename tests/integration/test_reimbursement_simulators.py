"""The payment rail and mailbox simulators speak their contracts on real ports and share
the control surface (faults, ledger, settings)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from simulators import mailbox, payment_rail
from simulators.registry import SIMULATORS, running
from tests.harness import eventually

BODY = {"amount": "12.50", "currency": "EUR", "bank_id": "b", "account_id": "acct-1"}


@pytest.fixture(scope="module")
def rail() -> Iterator[httpx.Client]:
    settings = payment_rail.PaymentRailSettings(
        create_delay_seconds=0.0, settle_seconds=0.2, failure_rate=0.0
    )
    with running(payment_rail.create_app(settings)) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def box() -> Iterator[httpx.Client]:
    with running(mailbox.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


def test_both_are_registered_by_name() -> None:
    assert {"payment-rail", "mailbox"} <= set(SIMULATORS)


def test_a_payment_is_pending_then_settles_and_a_repeated_key_is_the_same_payment(
    rail: httpx.Client,
) -> None:
    created = rail.post("/v1/payments", json=BODY, headers={"Idempotency-Key": "pay-1"})
    assert created.status_code == 202
    payment = created.json()
    assert payment["status"] == "PENDING" and payment["payment_id"].startswith("PAY")
    again = rail.post("/v1/payments", json=BODY, headers={"Idempotency-Key": "pay-1"})
    assert again.status_code == 200 and again.json()["payment_id"] == payment["payment_id"]
    path = f"/v1/payments/{payment['payment_id']}"
    assert eventually(lambda: rail.get(path).json()["status"] == "SUCCESS")
    keys = [entry["key"] for entry in rail.get("/__admin/ledger").json()["items"]]
    assert keys.count("pay-1") == 1


def test_failures_follow_the_settings(rail: httpx.Client) -> None:
    rail.put("/__admin/settings", json={"failure_rate": 1.0})
    try:
        created = rail.post("/v1/payments", json=BODY, headers={"Idempotency-Key": "pay-2"})
        path = f"/v1/payments/{created.json()['payment_id']}"
        failed = eventually(lambda: (p := rail.get(path).json())["status"] == "FAILURE" and p)
        assert failed["failure_reason"]
    finally:
        rail.put("/__admin/settings", json={"failure_rate": 0.0})
    assert rail.put("/__admin/settings", json={"failure_rate": 2}).status_code == 422


def test_the_rail_refuses_bad_requests_and_unknown_payments(rail: httpx.Client) -> None:
    assert rail.post("/v1/payments", json=BODY).status_code == 400  # no key
    bad = {**BODY, "amount": "12.5"}
    assert rail.post("/v1/payments", json=bad, headers={"Idempotency-Key": "x"}).status_code == 400
    assert rail.get("/v1/payments/PAYnope").status_code == 404


def test_faults_come_from_the_shared_control_surface(rail: httpx.Client) -> None:
    rail.put("/__admin/faults", json={"error_rate": 1.0})
    try:
        answer = rail.post("/v1/payments", json=BODY, headers={"Idempotency-Key": "pay-3"})
        assert answer.status_code == 503
    finally:
        rail.put("/__admin/faults", json={"error_rate": 0.0})
    assert "pay-3" not in [e["key"] for e in rail.get("/__admin/ledger").json()["items"]]


def test_the_mailbox_keeps_every_mail_once_per_message_id(box: httpx.Client) -> None:
    mail = {
        "message_id": "<reimbursement-7-approved@ledgerflow>",
        "from": "reimbursements@ledgerflow.example",
        "to": "ida@example.com",
        "subject": "Approved",
        "text": "Hello",
    }
    assert box.post("/v1/mail", json=mail).status_code == 201
    assert box.post("/v1/mail", json=mail).status_code == 200
    shown = box.get(f"/v1/mail/{quote(mail['message_id'], safe='')}").json()
    assert shown["deliveries"] == 2 and shown["text"] == "Hello"
    listed = box.get("/v1/mail", params={"to": "ida@example.com"}).json()
    assert [m["message_id"] for m in listed["items"]] == [mail["message_id"]]
    assert box.get("/__admin/ledger").json()["count"] == 1

    box.put("/__admin/settings", json={"rejected_recipients": ["no@example.com"]})
    refused = box.post("/v1/mail", json={**mail, "message_id": "<x@y>", "to": "no@example.com"})
    assert refused.status_code == 400
    assert box.post("/v1/mail", json={"message_id": "<x@y>"}).status_code == 400
    assert box.get("/v1/mail/%3Cunknown%3E").status_code == 404
