"""Contract tests of the bank partner simulator: every row of the partner's contract
(docs/third-parties.md, "Bank partner"), over a real port, with the simulator's clock
moved by the test (no waiting)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from domain.clock import ManualClock
from simulators import bank_partner
from simulators.bank_partner import BankPartnerSettings
from simulators.registry import running

SETTINGS = BankPartnerSettings(seed=7, min_decision_seconds=5, max_decision_seconds=20)


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture()
def partner(clock: ManualClock) -> Iterator[httpx.Client]:
    app = bank_partner.create_app(SETTINGS, now=clock.now)
    with running(app) as url, httpx.Client(base_url=url) as client:
        yield client


def application(**changes: object) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "first_name": "Amina", "last_name": "Okafor", **changes}


def test_create_answers_201_pending_with_the_callers_fields(partner: httpx.Client) -> None:
    body = application()
    response = partner.post("/api/applications", json=body)
    assert response.status_code == 201
    assert response.json() == {**body, "status": "pending"}


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "Amina", "last_name": "Okafor"},
        application(id="not-a-uuid"),
        application(id=12),
        application(first_name=""),
        application(last_name="   "),
        {"id": str(uuid.uuid4())},
        ["not", "an", "object"],
    ],
    ids=[
        "id-missing",
        "id-not-uuid",
        "id-not-string",
        "empty-first",
        "blank-last",
        "no-names",
        "array",
    ],
)
def test_an_invalid_payload_is_400_with_the_exact_error(
    partner: httpx.Client, body: object
) -> None:
    response = partner.post("/api/applications", json=body)
    assert response.status_code == 400
    assert response.json() == {"error": "the request payload is not valid."}


def test_a_body_that_is_not_json_is_an_invalid_payload(partner: httpx.Client) -> None:
    response = partner.post(
        "/api/applications", content=b"{", headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "the request payload is not valid."},
    )


def test_an_id_already_used_is_400_and_changes_nothing(partner: httpx.Client) -> None:
    body = application()
    assert partner.post("/api/applications", json=body).status_code == 201
    again = partner.post("/api/applications", json={**body, "first_name": "Other"})
    assert again.status_code == 400
    assert again.json() == {"error": "the application ID is already used"}
    ledger = partner.get("/__admin/ledger").json()
    assert [entry["key"] for entry in ledger["items"]] == [body["id"]]


@pytest.mark.parametrize("query", ["", "?application_id=", "?other=1"])
def test_job_without_application_id_is_400_missing(partner: httpx.Client, query: str) -> None:
    response = partner.get(f"/api/jobs{query}")
    assert (response.status_code, response.json()) == (400, {"error": "application_id is missing"})


def test_job_with_an_application_id_that_is_not_a_uuid_is_400(partner: httpx.Client) -> None:
    response = partner.get("/api/jobs", params={"application_id": "abc"})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "application_id is not a valid uuid"},
    )


def test_job_of_an_unknown_application_is_404(partner: httpx.Client) -> None:
    response = partner.get("/api/jobs", params={"application_id": str(uuid.uuid4())})
    assert (response.status_code, response.json()) == (
        404,
        {"error": "failed to get job, the application_id doesn't exist."},
    )


def test_a_job_is_pending_at_once_then_decided_within_the_bounds(
    partner: httpx.Client, clock: ManualClock
) -> None:
    ids = []
    for _ in range(20):
        body = application()
        partner.post("/api/applications", json=body).raise_for_status()
        ids.append(str(body["id"]))
    jobs = [partner.get("/api/jobs", params={"application_id": i}).json() for i in ids]
    assert {job["status"] for job in jobs} == {"pending"}
    for job, application_id in zip(jobs, ids, strict=True):
        assert job["application_id"] == application_id
        assert job["id"] != application_id
        uuid.UUID(job["id"])
    clock.advance(timedelta(seconds=4.99))
    assert all(
        partner.get("/api/jobs", params={"application_id": i}).json()["status"] == "pending"
        for i in ids
    )
    clock.advance(timedelta(seconds=15.02))  # 20.01 s after submission
    decided = [partner.get("/api/jobs", params={"application_id": i}).json() for i in ids]
    assert {job["status"] for job in decided} <= {"completed", "rejected"}
    assert len({job["status"] for job in decided}) == 2  # both outcomes happen
    assert [job["id"] for job in decided] == [job["id"] for job in jobs]  # stable job ids


def test_decisions_are_reproducible_from_the_seed(clock: ManualClock) -> None:
    ids = [str(uuid.uuid4()) for _ in range(10)]

    def run() -> list[tuple[str, str]]:
        app = bank_partner.create_app(SETTINGS, now=clock.now)
        with running(app) as url, httpx.Client(base_url=url) as client:
            for application_id in ids:
                client.post("/api/applications", json=application(id=application_id))
            items = client.get("/__admin/applications").json()["items"]
        return [(item["decides_at"], item["outcome"]) for item in items]

    assert run() == run()


def test_bounds_and_seed_are_settings(partner: httpx.Client, clock: ManualClock) -> None:
    changed = partner.put(
        "/__admin/settings", json={"min_decision_seconds": 1, "max_decision_seconds": 2}
    )
    assert changed.status_code == 200
    body = application()
    partner.post("/api/applications", json=body).raise_for_status()
    clock.advance(timedelta(seconds=2))
    job = partner.get("/api/jobs", params={"application_id": str(body["id"])}).json()
    assert job["status"] in {"completed", "rejected"}
    refused = partner.put(
        "/__admin/settings", json={"min_decision_seconds": 3, "max_decision_seconds": 2}
    )
    assert refused.status_code == 422


def test_faults_apply_to_the_contract_routes(partner: httpx.Client) -> None:
    partner.put("/__admin/faults", json={"error_rate": 1.0})
    response = partner.post("/api/applications", json=application())
    assert response.status_code == 503
    assert partner.get("/__admin/ledger").json()["count"] == 0
    assert partner.get("/__admin/stats").json()["errors"] == 1
