"""The API's write guarantees through real parts (the API over HTTP on PostgreSQL, the
projections worker): a create with an `Idempotency-Key` is answered once per caller's
key, and a list sent a write's `Ledgerflow-Position` never misses that write."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.migrations import migrate
from domain.access import Role, Scope
from domain.reimbursements.reference import reference_id
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.databases import empty_database
from tests.harness import workers
from tests.issuer import TokenIssuer

ACCOUNT = reference_id("account", "nordic-m-1-acct")
MEMBER = reference_id("member", "nordic-m-1")
APPLICATION = {
    "first_name": "Amina",
    "last_name": "Okafor",
    "amount": {"amount": "15000.00", "currency": "EUR"},
    "term_months": 36,
    "email": "amina.okafor@example.com",
}


@pytest.fixture(scope="module")
def settings(server_url: str, issuer: TokenIssuer) -> Iterator[Settings]:
    # A database of its own: the lists below must hold this module's writes alone.
    with empty_database(server_url) as url:
        migrate(url)
        yield Settings(**issuer.trusted, database_url=url, projection_min_interval_seconds=0.01)


@pytest.fixture(scope="module")
def url(settings: Settings) -> Iterator[str]:
    async def seed() -> int:
        async with platform_session(settings, only={"reimbursements"}) as platform:
            return await platform.workflows["reimbursements"].seed("demo-banks")

    asyncio.run(seed())
    with running(create_app(settings)) as served, workers(settings, "projections"):
        yield served


# Members of the demo banks (who submit reimbursements) and their accounts.
ACCOUNTS = {who: reference_id("account", f"{who}-acct") for who in ("nordic-m-1", "nordic-m-2")}


def client(url: str, issuer: TokenIssuer, subject: str) -> httpx.Client:
    """A client's (with every scope) or, for a demo bank's member, that member's."""
    if subject in ACCOUNTS:
        member = reference_id("member", subject)
        headers = issuer.headers(Role.MEMBER, subject=subject, member_id=member)
    else:
        scopes = [scope.value for scope in Scope]
        headers = issuer.headers(Role.CLIENT, subject=subject, scopes=scopes)
    return httpx.Client(base_url=url, headers=headers, timeout=10)


def create_body(path: str, subject: str, *, other: bool = False) -> dict[str, Any]:
    if path == "/reimbursements":
        amount = "130.00" if other else "129.90"
        return reimbursement(bank_account_id=str(ACCOUNTS[subject]), amount=amount)
    return {**APPLICATION, "term_months": 48} if other else APPLICATION


@pytest.fixture(scope="module")
def operator(url: str, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    with issuer.client(url, timeout=10) as api:
        yield api


def reimbursement(amount: str = "129.90", **changes: Any) -> dict[str, Any]:
    """A reimbursement on a Nordic member's account, in the account's currency."""
    return {
        "bank_account_id": str(ACCOUNT),
        "amount": {"amount": amount, "currency": "DKK"},
        "description": "Train tickets to the branch audit",
        **changes,
    }


@pytest.mark.parametrize(
    ("path", "one", "another"),
    [("/reimbursements", "nordic-m-1", "nordic-m-2"), ("/applications", "client-a", "client-b")],
)
def test_a_key_answers_its_first_answer_again_and_conflicts_with_another_body(
    url: str, issuer: TokenIssuer, path: str, one: str, another: str
) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = create_body(path, one)
    with client(url, issuer, one) as a, client(url, issuer, another) as b:
        first = a.post(path, json=body, headers=key)
        again = a.post(path, json=body, headers=key)
        conflict = a.post(path, json=create_body(path, one, other=True), headers=key)
        # Another caller's own key.
        elsewhere = b.post(path, json=create_body(path, another), headers=key)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Ledgerflow-Position"] == first.headers["Ledgerflow-Position"]
    assert "Idempotent-Replayed" not in first.headers
    assert conflict.status_code == 409
    assert conflict.json() == {
        "message": "this Idempotency-Key was already used with another request",
        "code": "idempotency_key_conflict",
    }
    assert elsewhere.status_code == 201 and elsewhere.json()["id"] != first.json()["id"]


def test_concurrent_requests_with_one_key_create_once(
    url: str, issuer: TokenIssuer, operator: httpx.Client
) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = reimbursement(description=f"once {uuid.uuid4()}")
    with client(url, issuer, "nordic-m-1") as a, ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: a.post("/reimbursements", json=body, headers=key), range(8))
        )

    created = [answer for answer in answers if answer.status_code == 201]
    assert created and {answer.status_code for answer in answers} <= {201, 409}
    assert len({answer.json()["id"] for answer in created}) == 1
    in_use = [answer.json()["code"] for answer in answers if answer.status_code == 409]
    assert set(in_use) <= {"idempotency_key_in_use"}
    position = {"Ledgerflow-Position": created[0].headers["Ledgerflow-Position"]}
    listed = operator.get(
        f"/members/{MEMBER}/reimbursements", params={"limit": 500}, headers=position
    )
    assert [r["description"] for r in listed.json()["items"]].count(body["description"]) == 1


def test_a_billing_run_started_with_a_key_answers_its_first_answer_again(
    operator: httpx.Client,
) -> None:
    period = {"period": datetime.now(UTC).strftime("%Y-%m")}  # the platform's month
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = operator.post("/billing/runs", json=period, headers=key)
    again = operator.post("/billing/runs", json=period, headers=key)
    other = operator.post("/billing/runs", json={"period": "2020-01"}, headers=key)
    assert first.status_code == 202, first.text
    assert (again.status_code, again.content) == (202, first.content)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_conflict"


def test_a_create_that_failed_leaves_its_key_free(url: str, issuer: TokenIssuer) -> None:
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    unknown = reimbursement(bank_account_id=str(uuid.uuid4()))
    with client(url, issuer, "nordic-m-1") as a:
        assert a.post("/reimbursements", json=unknown, headers=key).status_code == 404
        assert a.post("/reimbursements", json=reimbursement(), headers=key).status_code == 201


def test_orders_keys_are_their_callers_own(url: str, issuer: TokenIssuer) -> None:
    order = {"type": "market", "side": "buy", "instrument": "US0378331005", "quantity": 3}
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    with client(url, issuer, "client-a") as a, client(url, issuer, "client-b") as b:
        first, again = (a.post("/orders", json=order, headers=key) for _ in range(2))
        elsewhere = b.post("/orders", json=order, headers=key)
    assert (first.status_code, again.status_code, elsewhere.status_code) == (201, 201, 201)
    assert again.content == first.content and again.headers["Idempotent-Replayed"] == "true"
    assert elsewhere.json()["id"] != first.json()["id"]
    assert first.headers["Ledgerflow-Position"].startswith("orders:")
    assert again.headers["Ledgerflow-Position"] == first.headers["Ledgerflow-Position"]


def test_submit_then_list_at_once_never_misses_the_write(
    url: str, issuer: TokenIssuer, operator: httpx.Client
) -> None:
    with client(url, issuer, "client-a") as a, client(url, issuer, "nordic-m-1") as member:
        for n in range(100):
            sms = a.post(
                "/sms",
                json={
                    "message_id": f"ryw-{uuid.uuid4()}",
                    "phone_number": "+254712345678",
                    "text": f"read your writes {n}",
                },
            )
            assert sms.status_code == 202, sms.text
            if n == 0:  # a replay names the first answer's position too
                replayed = a.post("/sms", json=json.loads(sms.request.content))
                assert replayed.headers["Idempotent-Replayed"] == "true"
                assert replayed.headers["Ledgerflow-Position"] == sms.headers["Ledgerflow-Position"]
            position = {"Ledgerflow-Position": sms.headers["Ledgerflow-Position"]}
            listed = a.get("/sms", params={"limit": 500}, headers=position)
            assert listed.status_code == 200, listed.text
            assert sms.json()["id"] in {item["id"] for item in listed.json()["items"]}

            submitted = member.post("/reimbursements", json=reimbursement())
            assert submitted.status_code == 201, submitted.text
            position = {"Ledgerflow-Position": submitted.headers["Ledgerflow-Position"]}
            mine = member.get(
                f"/members/{MEMBER}/reimbursements", params={"limit": 500}, headers=position
            )
            assert mine.status_code == 200, mine.text
            assert submitted.json()["id"] in {item["id"] for item in mine.json()["items"]}


def test_a_read_model_that_cannot_catch_up_in_time_says_so(operator: httpx.Client) -> None:
    behind = operator.get("/sms", headers={"Ledgerflow-Position": "sms:999999999"})
    assert behind.status_code == 503
    assert behind.json()["code"] == "read_model_behind"
    assert behind.headers["Retry-After"] == "1"
    # A position in another log does not hold this list up; a malformed one is a 422.
    assert operator.get("/sms", headers={"Ledgerflow-Position": "orders:999"}).status_code == 200
    assert operator.get("/sms", headers={"Ledgerflow-Position": "soon"}).status_code == 422
