"""The billing workflow through real parts: the API over HTTP, PostgreSQL, the work
engine, the projection and the payment provider simulator on a real port. One test per
outcome of a charge, operator resolutions, and two workers racing on one run."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from domain.access import Role
from domain.billing.money import next_period, period_of
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators import payment_provider
from simulators.registry import running
from tests.harness import eventually, workers
from tests.integration.billing_support import (
    BILLING_BEGAN,
    begin_billing,
    charges_by_invoice,
    event_types,
    issue,
    module_database,
    start_run,
    wait_status,
)
from tests.issuer import TokenIssuer

CALM = {
    "error_rate": 0,
    "reset_rate": 0,
    "timeout_rate": 0,
    "lost_response_rate": 0,
    "latency_ms": 0,
}
PROVIDER_DEFAULTS = {
    "customers": {},
    "open_accounts": True,
    "honour_idempotency_keys": True,
    "lookup_by_key": True,
}
DUNNING_SECONDS = [0.3, 0.6]


@pytest.fixture(scope="module")
def billing_db(server_url: str) -> Iterator[str]:
    for url in module_database(server_url):
        begin_billing(url, BILLING_BEGAN)
        yield url


@pytest.fixture(scope="module")
def simulator() -> Iterator[httpx.Client]:
    with running(payment_provider.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(billing_db: str, simulator: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=billing_db,
        payment_provider_url=str(simulator.base_url),
        worker_concurrency=20,
        retry_base_seconds=0.02,
        retry_cap_seconds=0.2,
        retry_budget_seconds=60,
        work_lease_seconds=5,
        outbound_timeout_seconds=1,
        billing_scheduler=False,
        billing_dunning_days=[s / 86400 for s in DUNNING_SECONDS],
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    with running(create_app(settings)) as url, issuer.client(url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def platform_workers(settings: Settings, api: httpx.Client) -> Iterator[None]:
    with workers(settings, "billing", "projections"):
        yield


@pytest.fixture(autouse=True)
def calm_simulator(simulator: httpx.Client) -> None:
    simulator.put("/__admin/faults", json=CALM)
    simulator.put("/__admin/settings", json=PROVIDER_DEFAULTS)


def test_a_charged_invoice_is_paid_once_and_the_run_counts_it(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    (record,) = issue(settings, 1, amount="292.97", currency="USD")
    run = start_run(api)
    again = api.post("/billing/runs", json={"period": run["period"]})
    assert again.status_code == 200 and again.json()["id"] == run["id"]

    paid = wait_status(api, record.ref_id, "paid")
    assert paid["amount"] == {"amount": "292.97", "currency": "USD"}
    assert [(a["attempt"], a["outcome"]) for a in paid["attempts"]] == [(1, "charged")]
    assert paid["attempts"][0]["key"] == f"invoice-{record.ref_id}-cycle-1"
    assert event_types(api, record.ref_id) == ["InvoiceIssued", "ChargeAttempted", "InvoicePaid"]
    assert charges_by_invoice(simulator)[record.ref_id] == 1

    progress = eventually(
        lambda: (
            (body := api.get(f"/billing/runs/{run['id']}").json())["counts"].get("paid") and body
        )
    )
    assert progress["selection_complete"] and progress["selected"] >= 1
    runs = api.get("/billing/runs", params={"limit": 500}).json()
    assert runs["next_cursor"] is None
    assert [r["counts"] for r in runs["items"] if r["id"] == run["id"]] == [progress["counts"]]
    assert api.get("/billing/runs", params={"cursor": "nonsense"}).status_code == 400
    listed = eventually(
        lambda: [
            i
            for i in api.get("/invoices", params={"status": "paid", "limit": 500}).json()["items"]
            if i["id"] == record.ref_id
        ]
    )
    assert listed[0]["attempts"][0]["outcome"] == "charged"
    assert api.get(f"/rest/v1/invoices/{record.ref_id}").json() == {
        "id": record.ref_id,
        "customerId": record.customer_ref_id,
        "amount": {"value": 292.97, "currency": "USD"},
        "status": "PAID",
    }


def test_a_run_bills_a_month_from_when_billing_began_to_the_current_one(
    api: httpx.Client,
) -> None:
    current = period_of(datetime.now(UTC))  # the billing timezone is UTC
    for period in ("9999-12", "1999-01", "1999-12", next_period(current)):
        answer = api.post("/billing/runs", json={"period": period})
        assert answer.status_code == 422, answer.text
        assert answer.json() == {
            "message": f"period must be between 2000-01 and {current}",
            "code": "period_out_of_range",
        }
    for malformed in ("2026-13", "2026-1", "December"):
        answer = api.post("/billing/runs", json={"period": malformed})
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"][0]
        assert detail["loc"] == ["body", "period"] and "YYYY-MM" in detail["msg"]
    for period in ("2000-01", current):  # both bounds are billable
        assert api.post("/billing/runs", json={"period": period}).status_code in (200, 202)


def test_a_declined_invoice_follows_the_dunning_schedule_then_is_uncollectible(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    (record,) = issue(settings, 1)
    simulator.put(
        "/__admin/settings",
        json={"customers": {str(record.customer_ref_id): {"currency": "EUR", "balance": "1.00"}}},
    )
    start_run(api)
    final = wait_status(api, record.ref_id, "uncollectible")
    assert [a["outcome"] for a in final["attempts"]] == ["declined"] * 3
    assert [a["cycle"] for a in final["attempts"]] == [1, 2, 3]
    assert final["reason"] == "insufficient_balance"
    types = event_types(api, record.ref_id)
    assert types.count("ChargeDeclined") == 3 and types.count("ChargeAttempted") == 3
    assert charges_by_invoice(simulator)[record.ref_id] == 0
    assert api.get(f"/rest/v1/invoices/{record.ref_id}").json()["status"] == "PENDING"


def test_a_declined_invoice_is_paid_when_the_balance_allows_it_on_a_later_cycle(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    (record,) = issue(settings, 1)
    customer = str(record.customer_ref_id)
    simulator.put(
        "/__admin/settings", json={"customers": {customer: {"currency": "EUR", "balance": "0"}}}
    )
    start_run(api)
    wait_status(api, record.ref_id, "retry_scheduled")
    simulator.put(
        "/__admin/settings", json={"customers": {customer: {"currency": "EUR", "balance": "100"}}}
    )
    paid = wait_status(api, record.ref_id, "paid")
    assert [a["outcome"] for a in paid["attempts"]][-1] == "charged"
    assert paid["cycle"] >= 2
    assert charges_by_invoice(simulator)[record.ref_id] == 1


@pytest.mark.parametrize(
    ("account", "reason"),
    [(None, "customer_not_found"), ({"currency": "SEK"}, "currency_mismatch")],
)
def test_a_refusal_needs_attention_and_is_not_retried(
    account: dict[str, str] | None,
    reason: str,
    api: httpx.Client,
    simulator: httpx.Client,
    settings: Settings,
    platform_workers: None,
) -> None:
    (record,) = issue(settings, 1)
    customers = {str(record.customer_ref_id): account} if account else {}
    simulator.put("/__admin/settings", json={"customers": customers, "open_accounts": False})
    start_run(api)
    waiting = wait_status(api, record.ref_id, "needs_attention")
    assert waiting["reason"] == reason
    assert [a["outcome"] for a in waiting["attempts"]] == ["refused"]
    assert event_types(api, record.ref_id)[-1] == "ChargeNeedsAttention"
    listed = eventually(
        lambda: (
            record.ref_id
            in [
                i["id"]
                for i in api.get(
                    "/invoices", params={"status": "needs_attention", "limit": 500}
                ).json()["items"]
            ]
        )
    )
    assert listed


def test_a_lost_answer_is_reconciled_by_key_and_the_invoice_charged_once(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    (record,) = issue(settings, 1)
    simulator.put("/__admin/faults", json={"lost_response_rate": 1.0})
    start_run(api)
    eventually(lambda: charges_by_invoice(simulator)[record.ref_id] == 1)
    simulator.put("/__admin/faults", json={"lost_response_rate": 0.0})
    paid = wait_status(api, record.ref_id, "paid")
    assert paid["attempts"][0]["outcome"] == "charged"
    assert paid["attempts"][0]["detail"] == "reconciled"
    events = api.get(f"/invoices/{record.ref_id}/events").json()
    assert events[-1]["type"] == "InvoicePaid" and events[-1]["data"]["how"] == "reconciled"
    assert "ChargeFailed" in [e["type"] for e in events]
    assert charges_by_invoice(simulator)[record.ref_id] == 1


def test_an_unknown_outcome_that_cannot_be_asked_waits_for_an_operator(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    (record,) = issue(settings, 1)
    simulator.put(
        "/__admin/settings", json={"lookup_by_key": False, "honour_idempotency_keys": False}
    )
    simulator.put("/__admin/faults", json={"lost_response_rate": 1.0})
    start_run(api)
    eventually(lambda: charges_by_invoice(simulator)[record.ref_id] == 1)
    simulator.put("/__admin/faults", json={"lost_response_rate": 0.0})
    waiting = wait_status(api, record.ref_id, "needs_attention")
    assert waiting["reason"] == "outcome_unknown"
    assert [a["outcome"] for a in waiting["attempts"]] == ["unknown"]
    evidence = api.get(f"/invoices/{record.ref_id}/events").json()[-1]["data"]["detail"]
    assert "cannot be asked by key" in evidence and f"invoice-{record.ref_id}-cycle-1" in evidence
    assert charges_by_invoice(simulator)[record.ref_id] == 1  # never charged blindly again

    resolved = api.post(
        f"/invoices/{record.ref_id}/resolution",
        json={"action": "mark_paid", "note": "provider confirmed charge ch_1"},
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "paid"
    assert event_types(api, record.ref_id)[-1] == "InvoiceMarkedPaid"
    again = api.post(
        f"/invoices/{record.ref_id}/resolution", json={"action": "write_off", "note": "x"}
    )
    assert again.status_code == 409 and again.json()["code"] == "invoice_not_resolvable"


def test_operators_retry_and_write_off_invoices_that_need_attention(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    first, second = issue(settings, 2)
    simulator.put("/__admin/settings", json={"open_accounts": False})
    start_run(api)
    wait_status(api, first.ref_id, "needs_attention")
    wait_status(api, second.ref_id, "needs_attention")
    simulator.put("/__admin/settings", json={"open_accounts": True})

    retried = api.post(
        f"/invoices/{first.ref_id}/resolution", json={"action": "retry", "note": "account fixed"}
    )
    assert retried.status_code == 200 and retried.json()["status"] == "charging"
    paid = wait_status(api, first.ref_id, "paid")
    assert [a["outcome"] for a in paid["attempts"]] == ["refused", "charged"]
    assert "ChargeRetryRequested" in event_types(api, first.ref_id)

    written = api.post(
        f"/invoices/{second.ref_id}/resolution", json={"action": "write_off", "note": "closed"}
    )
    assert written.status_code == 200 and written.json()["status"] == "written_off"
    assert (
        api.post(
            "/invoices/1999999999/resolution", json={"action": "retry", "note": "x"}
        ).status_code
        == 404
    )
    bad = api.post(f"/invoices/{second.ref_id}/resolution", json={"action": "refund", "note": "x"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "action"]


def test_two_workers_in_threads_charge_every_invoice_of_a_run_once(
    api: httpx.Client, simulator: httpx.Client, settings: Settings, platform_workers: None
) -> None:
    records = issue(settings, 60)
    simulator.put("/__admin/faults", json={"reset_rate": 0.1, "lost_response_rate": 0.1, "seed": 7})
    with workers(settings, "billing"):
        run = start_run(api)
        for record in records:
            wait_status(api, record.ref_id, "paid")
    charges = charges_by_invoice(simulator)
    assert all(charges[record.ref_id] == 1 for record in records)
    progress = eventually(
        lambda: (
            (body := api.get(f"/billing/runs/{run['id']}").json())["counts"].get("paid", 0)
            >= len(records)
            and body
        )
    )
    assert progress["waiting"] == 0


def test_every_invoice_that_needs_attention_is_retried_at_once_as_the_operator(
    api: httpx.Client,
    simulator: httpx.Client,
    settings: Settings,
    issuer: TokenIssuer,
    platform_workers: None,
) -> None:
    (record,) = issue(settings, 1)
    simulator.put("/__admin/settings", json={"open_accounts": False})
    start_run(api)
    wait_status(api, record.ref_id, "needs_attention")
    simulator.put("/__admin/settings", json={"open_accounts": True})
    retry_parked = "/status/work/billing.charge/retry-parked"
    assert api.post(retry_parked, headers=issuer.headers(Role.AUDITOR)).status_code == 403

    def waiting() -> set[str]:
        listed = api.get("/status/attention", params={"workflow": "billing"})
        return {item["key"] for item in listed.json()["items"]}

    assert eventually(lambda: str(record.ref_id) in waiting(), what="the attention list")
    noor = issuer.headers(Role.OPERATOR, subject="ops-noor")
    answer = api.post(retry_parked, headers=noor)
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "billing.charge" and answer.json()["retried"] >= 1
    paid = wait_status(api, record.ref_id, "paid")
    assert [a["outcome"] for a in paid["attempts"]] == ["refused", "charged"]
    [asked] = [
        e
        for e in api.get(f"/invoices/{record.ref_id}/events").json()
        if e["type"] == "ChargeRetryRequested"
    ]
    assert asked["actor"] == {"role": "operator", "subject": "ops-noor"}
