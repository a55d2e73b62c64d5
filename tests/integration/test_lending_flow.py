"""Loan applications through real parts: the API over HTTP, PostgreSQL, the relay and the
ingester on the PostgreSQL bus and queue, the poller service (`lending` worker) with its
own work rows, and the bank partner simulator on a real port, deciding in 1 to 2 s."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from domain.access import Role
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from simulators import bank_partner
from simulators.bank_partner import BankPartnerSettings
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

DECIDED = {"completed", "rejected"}


@pytest.fixture(scope="module")
def partner() -> Iterator[httpx.Client]:
    settings = BankPartnerSettings(seed=11, min_decision_seconds=1, max_decision_seconds=2)
    with running(bank_partner.create_app(settings)) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(database_url: str, partner: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=database_url,
        bank_partner_url=str(partner.base_url),
        lending_poll_interval_seconds=0.3,
        lending_deadline_seconds=10,
        worker_concurrency=20,
        retry_base_seconds=0.05,
        retry_cap_seconds=0.3,
        work_lease_seconds=3,
        outbound_timeout_seconds=1,
    )


@pytest.fixture(scope="module")
def api(settings: Settings, issuer: TokenIssuer) -> Iterator[httpx.Client]:
    app = create_app(settings, only={"lending"})
    with (
        running(app) as url,
        issuer.client(url, timeout=10, headers=issuer.as_client()) as client,
    ):  # a client of every scope: its own resources
        yield client


@pytest.fixture(scope="module")
def operator(issuer: TokenIssuer) -> dict[str, str]:
    """The headers of an operator's token: operator actions are operators' alone."""
    return issuer.headers(Role.OPERATOR)


@pytest.fixture(scope="module")
def platform_workers(settings: Settings, api: httpx.Client) -> Iterator[None]:
    with workers(settings, "lending", "projections", "relay", "ingester"):
        yield


@pytest.fixture(autouse=True)
def calm_partner(partner: httpx.Client) -> None:
    partner.put(
        "/__admin/faults",
        json={"error_rate": 0, "reset_rate": 0, "timeout_rate": 0, "lost_response_rate": 0},
    )
    partner.put("/__admin/settings", json={"min_decision_seconds": 1, "max_decision_seconds": 2})


def new_application(**changes: Any) -> dict[str, Any]:
    return {
        "first_name": "Amina",
        "last_name": "Okafor",
        "amount": {"amount": "15000.00", "currency": "EUR"},
        "term_months": 36,
        "email": "amina.okafor@example.com",
        **changes,
    }


def status(api: httpx.Client, application_id: str) -> str:
    return str(api.get(f"/applications/{application_id}").json()["status"])


def test_an_application_is_submitted_polled_and_decided_once(
    api: httpx.Client, partner: httpx.Client, platform_workers: None
) -> None:
    created = api.post("/applications", json=new_application())
    assert created.status_code == 201, created.text
    application = created.json()
    assert application["status"] == "pending"
    assert application["amount"] == {"amount": "15000.00", "currency": "EUR"}
    application_id = application["id"]
    assert eventually(lambda: status(api, application_id) in DECIDED, timeout=60)

    final = api.get(f"/applications/{application_id}").json()
    jobs = {
        item["application_id"]: item
        for item in partner.get("/__admin/applications").json()["items"]
    }
    assert final["job_id"] == jobs[application_id]["job_id"] != application_id
    assert final["status"] == jobs[application_id]["outcome"]
    history = api.get(f"/applications/{application_id}/events").json()
    assert [e["type"] for e in history] == ["ApplicationSubmitted", "ApplicationDecided"]
    assert history[0]["data"]["amount"] == "15000.00"
    ledger = partner.get("/__admin/ledger").json()["items"]
    assert [entry["key"] for entry in ledger].count(application_id) == 1  # submitted once


def test_validation_names_the_field_and_the_rule(api: httpx.Client) -> None:
    answer = api.post("/applications", json=new_application(term_months=0))
    assert answer.status_code == 422
    detail = answer.json()["detail"][0]
    assert detail["loc"] == ["body", "term_months"]
    money = api.post(
        "/applications", json=new_application(amount={"amount": "-1.00", "currency": "EUR"})
    )
    assert money.json()["detail"][0]["loc"][:2] == ["body", "amount"]


def test_unknown_applications_are_404_with_a_code(
    operator: dict[str, str], api: httpx.Client
) -> None:
    unknown = uuid.uuid4()
    for path in (f"/applications/{unknown}", f"/applications/{unknown}/events"):
        answer = api.get(path)
        assert answer.status_code == 404
        assert answer.json()["code"] == "application_not_found"
    assert api.post(f"/applications/{unknown}/retry", headers=operator).status_code == 404


def test_lost_answers_and_errors_still_give_one_submission_and_one_decision_each(
    api: httpx.Client, partner: httpx.Client, platform_workers: None
) -> None:
    partner.put(
        "/__admin/faults",
        json={"seed": 5, "error_rate": 0.15, "reset_rate": 0.05, "lost_response_rate": 0.2},
    )
    ids = [api.post("/applications", json=new_application()).json()["id"] for _ in range(12)]
    eventually(lambda: all(status(api, i) in DECIDED for i in ids), timeout=60)
    keys = Counter(entry["key"] for entry in partner.get("/__admin/ledger").json()["items"])
    assert all(keys[i] == 1 for i in ids)
    for application_id in ids:
        events = api.get(f"/applications/{application_id}/events").json()
        failed = [e for e in events if e["type"] == "SubmissionAttemptFailed"]
        assert [e["type"] for e in events if e not in failed] == [
            "ApplicationSubmitted",
            "ApplicationDecided",
        ]
        shown = api.get(f"/applications/{application_id}").json()
        assert shown["attempts"] == (failed[-1]["data"]["attempt"] if failed else 0)


def test_submissions_that_do_not_get_through_show_their_attempts_then_it_is_decided(
    api: httpx.Client, partner: httpx.Client, platform_workers: None
) -> None:
    partner.put("/__admin/faults", json={"error_rate": 1.0})
    application_id = api.post("/applications", json=new_application()).json()["id"]

    def failing(body: dict[str, Any]) -> bool:
        return (
            body["status"] == "pending"
            and body["attempts"] >= 1
            and "503" in str(body["last_error"])
        )

    def listed() -> list[dict[str, Any]]:
        page = api.get("/applications", params={"status": "pending", "limit": 500}).json()
        return [item for item in page["items"] if item["id"] == application_id]

    eventually(lambda: failing(api.get(f"/applications/{application_id}").json()))
    eventually(lambda: any(failing(item) for item in listed()), what="the list to show them")

    partner.put("/__admin/faults", json={"error_rate": 0})
    assert eventually(lambda: status(api, application_id) in DECIDED, timeout=60)
    decided = api.get(f"/applications/{application_id}").json()
    events = api.get(f"/applications/{application_id}/events").json()
    failed = [e["data"] for e in events if e["type"] == "SubmissionAttemptFailed"]
    # Every failed attempt is counted, not every one is an event: the last is exact.
    assert decided["attempts"] == failed[-1]["attempt"] >= 1
    assert len(failed) <= 2 + decided["attempts"] // 10
    assert decided["last_error"] == failed[-1]["error"]
    assert "ProviderUnavailable" in decided["last_error"] and decided["note"] is None
    assert [e["type"] for e in events][-1] == "ApplicationDecided"
    ledger = partner.get("/__admin/ledger").json()["items"]
    assert [entry["key"] for entry in ledger].count(application_id) == 1


def test_a_submission_never_accepted_by_the_deadline_is_flagged_and_retried_with_the_rest(
    issuer: TokenIssuer, api: httpx.Client, partner: httpx.Client, platform_workers: None
) -> None:
    partner.put("/__admin/faults", json={"error_rate": 1.0})
    application_id = api.post("/applications", json=new_application()).json()["id"]
    assert eventually(lambda: status(api, application_id) == "needs_attention", timeout=60)
    flagged = eventually(
        lambda: (
            (body := api.get(f"/applications/{application_id}").json())["note"]
            and body["attempts"] >= 1
            and f"({body['attempts']} attempt" in body["note"]
            and body
        ),
        what="the flag and the last failed attempt",
    )
    assert flagged["note"].startswith(
        "the bank partner never accepted the submission: ProviderUnavailable: bank partner "
        "answered 503 to the submission"
    )
    assert flagged["last_error"] in flagged["note"]

    partner.put("/__admin/faults", json={"error_rate": 0})
    # Every flagged application at once, as the operator who asked.
    auditor = issuer.headers(Role.AUDITOR)
    refused = api.post("/status/work/lending.assess/retry-parked", headers=auditor)
    assert refused.status_code == 403
    kim = issuer.headers(Role.OPERATOR, subject="ops-kim")

    def waiting() -> set[str]:
        listed = api.get("/status/attention", params={"workflow": "lending"}, headers=kim)
        return {item["key"] for item in listed.json()["items"]}

    assert eventually(lambda: application_id in waiting(), what="the attention list to show it")
    retried = api.post("/status/work/lending.assess/retry-parked", headers=kim)
    assert retried.status_code == 200, retried.text
    assert retried.json()["kind"] == "lending.assess" and retried.json()["retried"] >= 1
    events = api.get(f"/applications/{application_id}/events").json()
    [resumed] = [e for e in events if e["type"] == "PollingResumed"]
    assert resumed["actor"] == {"role": "operator", "subject": "ops-kim"}
    assert eventually(lambda: status(api, application_id) in DECIDED, timeout=60)


def test_still_pending_past_the_deadline_needs_attention_and_can_be_polled_again(
    operator: dict[str, str], api: httpx.Client, partner: httpx.Client, platform_workers: None
) -> None:
    partner.put("/__admin/settings", json={"min_decision_seconds": 60, "max_decision_seconds": 61})
    application_id = api.post("/applications", json=new_application()).json()["id"]
    assert eventually(lambda: status(api, application_id) == "needs_attention", timeout=60)
    flagged = api.get(f"/applications/{application_id}").json()
    assert flagged["note"].startswith("no decision from the bank partner in time")
    assert (flagged["attempts"], flagged["last_error"]) == (0, None)
    retried = api.post(f"/applications/{application_id}/retry", headers=operator)
    assert retried.status_code == 202 and retried.json()["status"] == "pending"
    again = api.post(f"/applications/{application_id}/retry", headers=operator)
    assert again.status_code == 409 and again.json()["code"] == "application_not_flagged"
    types = [e["type"] for e in api.get(f"/applications/{application_id}/events").json()]
    assert types == ["ApplicationSubmitted", "ApplicationFlagged", "PollingResumed"]
    ledger = partner.get("/__admin/ledger").json()["items"]
    assert [entry["key"] for entry in ledger].count(application_id) == 1


def test_lists_filter_by_status_and_paginate(api: httpx.Client, platform_workers: None) -> None:
    ids = {api.post("/applications", json=new_application()).json()["id"] for _ in range(5)}
    eventually(lambda: all(status(api, i) in DECIDED for i in ids), timeout=60)

    def listed(state: str) -> set[str]:
        seen: set[str] = set()
        cursor = None
        while True:
            params: dict[str, Any] = {"status": state, "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = api.get("/applications", params=params).json()
            assert len(page["items"]) <= 2
            assert all(item["status"] == state for item in page["items"])
            seen |= {item["id"] for item in page["items"]}
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert eventually(lambda: ids <= listed("completed") | listed("rejected"), timeout=60)
    assert api.get("/applications", params={"status": "approved"}).status_code == 422
    assert api.get("/applications", params={"cursor": "nonsense"}).status_code == 400
