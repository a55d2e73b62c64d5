"""Per-client limits through the composition root, over HTTP: the rate limits of
`POST /orders` and `POST /sms` in one process's memory and shared through the real Redis
by two API instances, and the SMS destination countries each client may text."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest

from domain.access import Role, Scope
from ledgerflow.settings import AbuseLimits, Settings
from ledgerflow.web import create_app
from simulators.registry import running
from tests.issuer import TokenIssuer


def as_client(issuer: TokenIssuer, client: str) -> dict[str, str]:
    """The headers of `client`'s token, with every client scope."""
    return issuer.headers(Role.CLIENT, subject=client, scopes=[scope.value for scope in Scope])


ORDER = {"type": "market", "side": "buy", "instrument": "US0378331005", "quantity": 1}
KENYA, TANZANIA = "+254712345678", "+255712345678"


def sms(phone_number: str = KENYA) -> dict[str, str]:
    return {"message_id": f"m-{uuid.uuid4()}", "phone_number": phone_number, "text": "hi"}


@contextmanager
def apis(
    database_url: str, issuer: TokenIssuer, count: int, **limits: object
) -> Iterator[list[httpx.Client]]:
    """`count` API instances (as separate processes would be) on one database."""
    settings = Settings(
        database_url=database_url, abuse_limits=AbuseLimits(**limits), **issuer.trusted
    )
    with ExitStack() as stack:
        clients = []
        for _ in range(count):
            app = create_app(settings, only={"orders", "sms"})
            url = stack.enter_context(running(app))
            clients.append(stack.enter_context(httpx.Client(base_url=url, timeout=10)))
        yield clients


@pytest.fixture(params=["memory", "redis"])
def storage(request: pytest.FixtureRequest) -> dict[str, object]:
    if request.param == "memory":
        return {"redis_url": None}
    return {"redis_url": request.getfixturevalue("redis_url")}


@pytest.mark.parametrize(
    ("path", "body", "accepted"), [("/orders", lambda: ORDER, 201), ("/sms", sms, 202)]
)
def test_past_its_limit_a_client_gets_429_with_retry_after_and_others_pass(
    database_url: str,
    issuer: TokenIssuer,
    storage: dict[str, object],
    path: str,
    body: object,
    accepted: int,
) -> None:
    client, other = f"client-{uuid.uuid4()}", f"client-{uuid.uuid4()}"  # Redis outlives runs
    limits = {"rate_limit_orders": "3/minute", "rate_limit_sms": "3/minute", **storage}
    with apis(database_url, issuer, 1, **limits) as (api,):
        answers = [api.post(path, json=body(), headers=as_client(issuer, client)) for _ in range(4)]  # type: ignore[operator]
        others = api.post(path, json=body(), headers=as_client(issuer, other))  # type: ignore[operator]

    assert [a.status_code for a in answers] == [accepted] * 3 + [429]
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited" and set(refused.json()) == {"message", "code"}
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert others.status_code == accepted


@pytest.mark.parametrize("lease_share", [0.01, 0.5])  # leases of 1 and of 3
def test_two_api_instances_on_redis_share_each_clients_limit(
    database_url: str, issuer: TokenIssuer, redis_url: str, lease_share: float
) -> None:
    client = f"client-{uuid.uuid4()}"
    limits = {"rate_limit_orders": "6/minute", "rate_limit_lease_share": lease_share}
    with apis(database_url, issuer, 2, redis_url=redis_url, **limits) as (first, second):
        statuses = [
            api.post("/orders", json=ORDER, headers=as_client(issuer, client)).status_code
            for api in [first, second] * 5
        ]

    assert statuses.count(201) == 6
    assert statuses[-2:] == [429, 429]  # both instances refuse once it is spent


def test_two_api_instances_without_redis_each_count_their_own(
    database_url: str, issuer: TokenIssuer
) -> None:
    client = f"client-{uuid.uuid4()}"
    with apis(database_url, issuer, 2, rate_limit_orders="3/minute") as (first, second):
        statuses = [
            api.post("/orders", json=ORDER, headers=as_client(issuer, client)).status_code
            for api in [first, second] * 4
        ]

    assert statuses.count(201) == 6


def test_a_destination_its_client_may_not_text_is_refused_with_the_rule(
    database_url: str,
    issuer: TokenIssuer,
) -> None:
    rules = {"client-a": ["TZ"], "*": ["KE"]}
    with apis(database_url, issuer, 1, sms_allowed_countries=rules) as (api,):
        refused = api.post("/sms", json=sms(KENYA), headers=as_client(issuer, "client-a"))
        allowed = api.post("/sms", json=sms(TANZANIA), headers=as_client(issuer, "client-a"))
        by_default = api.post("/sms", json=sms(KENYA), headers=as_client(issuer, "client-b"))

    assert refused.status_code == 403
    assert refused.json() == {
        "message": "Sending SMS to country KE is not allowed for client 'client-a'",
        "code": "destination_country_not_allowed",
    }
    assert KENYA[4:] not in refused.text
    assert (allowed.status_code, by_default.status_code) == (202, 202)
