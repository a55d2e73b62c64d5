"""The metrics of a process, in-process: the API's requests under their route templates
(routers included in routers, requests refused before routing, unknown paths), the work
engine's calls by outcome, and the platform's state read at scrape time, cached, and
left out when the database does not answer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import cast

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from starlette.types import ASGIApp, Receive, Scope, Send

from adapters.status import FollowerLag, WorkBacklog
from adapters.status_metrics import PlatformStatus, PlatformStatusCollector
from adapters.work.metrics import measured_call
from api.metrics import UNMATCHED, RequestMetrics, RouteTemplates
from api.services import ApiServices
from domain.health import BreakerState, Health
from domain.work import PermanentFailure, Succeeded
from projections.parked import ParkedSummary
from tests.unit.in_memory_api import in_memory_api

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def samples(registry: CollectorRegistry) -> list[Sample]:
    text = generate_latest(registry).decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: list[Sample], name: str, **labels: str) -> float | None:
    matching = [s.value for s in found if s.name == name and labels.items() <= s.labels.items()]
    assert len(matching) <= 1, f"{name}{labels}: {matching}"
    return matching[0] if matching else None


# The API's requests ----------------------------------------------------------------------


class RefuseWithoutToken:
    """Answers 401 before routing, as the API's authentication does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", []))
        if scope["type"] == "http" and b"authorization" not in headers:
            await send({"type": "http.response.start", "status": 401, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def nested_app(registry: CollectorRegistry) -> FastAPI:
    items = APIRouter(prefix="/items")

    @items.get("/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @items.post("/{item_id}/fail")
    async def fail(item_id: int) -> None:
        raise RuntimeError("the endpoint failed")

    outer = APIRouter(prefix="/status")
    outer.include_router(items)  # served as /status/items/{item_id}
    app = FastAPI()
    app.include_router(outer)
    app.add_middleware(RefuseWithoutToken)
    histogram = Histogram(
        "test_requests_seconds", "", ["route", "method", "status"], registry=registry
    )
    app.add_middleware(RequestMetrics, histogram=histogram)  # outermost
    return app


async def test_requests_are_counted_under_their_route_template_whatever_answered() -> None:
    registry = CollectorRegistry()
    app = nested_app(registry)
    transport = httpx.ASGITransport(app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        token = {"authorization": "Bearer x"}
        for item_id in (1, 2, 3):
            assert (await client.get(f"/status/items/{item_id}", headers=token)).status_code == 200
        assert (await client.get("/status/items/4")).status_code == 401
        assert (await client.get("/status/items/x", headers=token)).status_code == 422
        assert (await client.delete("/status/items/5", headers=token)).status_code == 405
        assert (await client.request("BREW", "/status/items/5", headers=token)).status_code == 405
        assert (await client.get("/elsewhere/9", headers=token)).status_code == 404
        assert (await client.post("/status/items/6/fail", headers=token)).status_code == 500

    found = samples(registry)
    template = "/status/items/{item_id}"

    def count(route: str, method: str, status: int) -> float | None:
        return value(
            found, "test_requests_seconds_count", route=route, method=method, status=str(status)
        )

    assert count(template, "GET", 200) == 3
    assert count(template, "GET", 401) == 1  # refused before routing: matched here
    assert count(template, "GET", 422) == 1
    assert count(template, "DELETE", 405) == 1
    assert count(template, "OTHER", 405) == 1  # no series per made-up method
    assert count(UNMATCHED, "GET", 404) == 1  # never the raw path
    assert count("/status/items/{item_id}/fail", "POST", 500) == 1
    assert not any("/elsewhere" in s.labels.get("route", "") for s in found)
    buckets = [
        s for s in found if s.name == "test_requests_seconds_bucket" and s.labels["status"] == "200"
    ]
    assert len(buckets) > 5 and buckets[-1].labels["le"] == "+Inf" and buckets[-1].value == 3


def test_every_route_of_the_api_has_its_template() -> None:
    app = in_memory_api(cast(ApiServices, None))  # never started: only its routes are read
    templates = RouteTemplates(app.routes)
    assert templates.of(None, "/sms/3f1b") == "/sms/{sms_id}"
    assert templates.of(None, "/orders") == "/orders"
    assert templates.of(None, "/status/set-aside/12") == "/status/set-aside/{item_id}"
    assert templates.of(None, "/no/such/path") == UNMATCHED


# The work engine's calls -----------------------------------------------------------------


async def test_each_attempt_is_timed_under_its_outcome() -> None:
    kind = f"test.{uuid.uuid4().hex[:8]}"

    async def succeed() -> Succeeded[str]:
        return Succeeded("sent")

    async def refuse() -> PermanentFailure:
        return PermanentFailure("400 from the party")

    async def crash() -> Succeeded[str]:
        raise RuntimeError("a bug")

    assert await measured_call(kind, succeed()) == Succeeded("sent")
    await measured_call(kind, succeed())
    await measured_call(kind, refuse())
    with pytest.raises(RuntimeError):
        await measured_call(kind, crash())

    found = [s for s in samples(REGISTRY) if s.labels.get("kind") == kind]
    counts = {s.labels["outcome"]: s.value for s in found if s.name.endswith("_count")}
    assert counts == {"succeeded": 2, "failed_permanently": 1, "crashed": 1}


# The platform's state --------------------------------------------------------------------


def status() -> PlatformStatus:
    return PlatformStatus(
        at=NOW,
        lags=[FollowerLag("sms_view", "sms", 90, 100, NOW, set_aside=2)],
        backlog=[WorkBacklog("sms.send", 3, 2, 1, 1, NOW - timedelta(seconds=42))],
        parked=[ParkedSummary("sms", "parked", 5, str(uuid.uuid4()), "503", NOW)],
        third_parties=[Health("sms-provider", BreakerState.OPEN, consecutive_failures=12)],
    )


def test_the_platforms_state_is_read_when_scraped_and_kept_briefly() -> None:
    reads: list[int] = []
    clock = [0.0]

    def read() -> PlatformStatus:
        reads.append(1)
        return status()

    registry = CollectorRegistry()
    registry.register(PlatformStatusCollector(read, cache_seconds=5, monotonic=lambda: clock[0]))
    assert reads == []  # registering reads nothing
    found = samples(registry)
    assert value(found, "ledgerflow_status_up") == 1
    assert value(found, "ledgerflow_follower_lag_events", follower="sms_view", log="sms") == 10
    assert value(found, "ledgerflow_follower_set_aside", follower="sms_view") == 2
    assert value(found, "ledgerflow_work_backlog", kind="sms.send", state="due") == 3
    assert value(found, "ledgerflow_work_backlog", kind="sms.send", state="in_flight") == 2
    assert value(found, "ledgerflow_work_backlog", kind="sms.send", state="scheduled") == 1
    assert value(found, "ledgerflow_work_failing", kind="sms.send") == 1
    assert value(found, "ledgerflow_work_oldest_due_age_seconds", kind="sms.send") == 42
    assert value(found, "ledgerflow_parked", workflow="sms", state="parked") == 5
    breaker = "ledgerflow_third_party_breaker"
    assert value(found, breaker, party="sms-provider", state="open") == 1
    assert value(found, breaker, party="sms-provider", state="closed") == 0
    assert value(found, "ledgerflow_third_party_consecutive_failures", party="sms-provider") == 12
    samples(registry)
    assert len(reads) == 1  # within the cache
    clock[0] = 5.0
    samples(registry)
    assert len(reads) == 2


def test_without_the_database_only_its_absence_is_reported() -> None:
    def read() -> PlatformStatus:
        raise OSError("connection refused")

    registry = CollectorRegistry()
    registry.register(PlatformStatusCollector(read))
    found = samples(registry)
    assert [(s.name, s.value) for s in found] == [("ledgerflow_status_up", 0)]
