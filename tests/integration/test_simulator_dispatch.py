"""How a simulator dispatches: contract routes answer behind the fault layer only, without
FastAPI's middleware stack, and everything else is FastAPI's, over a real port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from simulators import payment_provider
from simulators.control import Simulator, SimulatorApp
from simulators.registry import SIMULATORS, running

CHARGE = {"invoice_id": 1, "customer_id": 1, "amount": {"value": "10.00", "currency": "EUR"}}


class Seen:
    """Paths that went through FastAPI's middleware stack."""

    paths: list[str] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture()
def provider_app() -> FastAPI:
    app = payment_provider.create_app()
    Seen.paths = []
    app.add_middleware(Seen)
    return app


@pytest.fixture()
def provider(provider_app: FastAPI) -> Iterator[httpx.Client]:
    with running(provider_app) as url, httpx.Client(base_url=url) as client:
        yield client


def recorded_waits(app: FastAPI) -> list[float]:
    """The latencies the app's simulator waits out from now on (recorded, not slept)."""
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    app.state.simulator.sleep = sleep
    return waits


def charge(client: httpx.Client, key: str = "k-1") -> httpx.Response:
    return client.post("/v1/charges", json=CHARGE, headers={"Idempotency-Key": key})


def test_every_simulator_has_contract_routes() -> None:
    for name, factory in SIMULATORS.items():
        app = factory()
        assert isinstance(app, SimulatorApp), name
        assert app.contract_routes, name


def test_contract_routes_answer_without_fastapis_stack(provider: httpx.Client) -> None:
    first = charge(provider)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/json"
    assert first.json()["charged"] is True and first.json()["key"] == "k-1"
    again = charge(provider)
    assert again.content == first.content  # the idempotency key answers its first answer
    found = provider.get("/v1/charges/k-1")
    assert (found.status_code, found.content) == (200, first.content)
    missing = provider.get("/v1/charges/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "charge_not_found")
    bad = provider.post("/v1/charges", content=b"nope")
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid_request")
    assert Seen.paths == []  # middleware of the FastAPI app never saw them


def test_everything_else_is_fastapis(provider: httpx.Client) -> None:
    unknown = provider.get("/v1/nope")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    assert unknown.headers["content-type"] == "application/json"
    wrong = provider.get("/v1/charges")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": "Method Not Allowed"})
    assert wrong.headers["allow"] == "POST"
    wrong = provider.delete("/v1/charges/k-1")
    assert (wrong.status_code, wrong.headers["allow"]) == (405, "GET")
    slash = provider.post("/v1/charges/", json=CHARGE, follow_redirects=False)
    assert (slash.status_code, slash.headers["location"].endswith("/v1/charges")) == (307, True)
    assert provider.get("/__admin/faults").json()["error_rate"] == 0.0
    assert provider.get("/openapi.json").status_code == 200
    assert Seen.paths == [
        "/v1/nope",
        "/v1/charges",
        "/v1/charges/k-1",
        "/v1/charges/",
        "/__admin/faults",
        "/openapi.json",
    ]


def test_admin_endpoints_still_work(provider: httpx.Client) -> None:
    assert charge(provider).status_code == 200
    faults = provider.put("/__admin/faults", json={"seed": 9, "latency_ms": 1})
    assert (faults.status_code, faults.json()["seed"]) == (200, 9)
    assert provider.put("/__admin/faults", json={"bogus": 1}).status_code == 422
    [entry] = provider.get("/__admin/ledger").json()["items"]
    assert entry["key"] == "k-1" and entry["response_lost"] is False
    settings = provider.put("/__admin/settings", json={"lookup_by_key": False})
    assert settings.json()["lookup_by_key"] is False
    assert provider.get("/v1/charges/k-1").status_code == 501
    assert provider.get("/__admin/stats").json()["requests"] == 2
    assert provider.delete("/__admin/ledger").status_code == 204
    assert provider.get("/__admin/ledger").json() == {"count": 0, "items": []}


def test_faults_apply_to_contract_routes_not_to_admin(
    provider_app: FastAPI, provider: httpx.Client
) -> None:
    waits = recorded_waits(provider_app)
    provider.put("/__admin/faults", json={"error_rate": 1.0})
    refused = charge(provider)
    assert refused.status_code == 503
    assert refused.json() == {"error": "service unavailable (injected fault)"}
    assert provider.get("/__admin/ledger").json()["count"] == 0  # admin answers, no effect
    provider.put("/__admin/faults", json={"error_rate": 0.0, "latency_ms": 200})
    assert charge(provider).status_code == 200
    assert waits == [0.2]
    assert provider.get("/__admin/stats").status_code == 200
    assert waits == [0.2]  # admin requests are never delayed
    provider.put("/__admin/faults", json={"latency_ms": 0, "lost_response_rate": 1.0})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        charge(provider, key="k-lost")
    [_, lost] = provider.get("/__admin/ledger").json()["items"]
    assert (lost["key"], lost["response_lost"]) == ("k-lost", True)
    assert provider.get("/__admin/stats").json() == {
        "requests": 3,
        "errors": 1,
        "timeouts": 0,
        "resets": 0,
        "lost_responses": 1,
    }


class NoSettings(BaseModel):
    pass


def test_an_exception_in_a_contract_route_is_a_plain_500() -> None:
    app = Simulator("failing", NoSettings()).create_app()

    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("a bug in the simulator")

    app.add_contract_route("/v1/broken", broken, methods=["POST"])
    with running(app) as url:
        response = httpx.post(f"{url}/v1/broken")
        assert response.status_code == 500
        assert response.text == "Internal Server Error"
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        # A new connection: the server closes the one whose request failed.
        stats: dict[str, Any] = httpx.get(f"{url}/__admin/stats").json()
        assert stats["requests"] == 1
