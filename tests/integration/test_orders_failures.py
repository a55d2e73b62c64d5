"""`POST /orders` under failure: the database cut (the contract's fixed 500, nothing
half-written), and a group commit where one command conflicts."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from adapters.eventstore import GroupCommitter, open_application
from domain.access import Actor
from domain.clock import SystemClock
from domain.orders.commands import PlaceOrder
from domain.orders.errors import IdempotencyKeyReused
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from processes.orders.application import OrdersApplication, OrdersService
from simulators.registry import running
from tests.harness import eventually
from tests.issuer import TokenIssuer
from tests.tcp_proxy import TcpProxy

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

BODY = {
    "type": "limit",
    "side": "sell",
    "instrument": "DE0007164600",
    "limit_price": "120.10",
    "quantity": 5,
}


def stored_events(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM orders_events").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture()
def proxy(fresh_database_url: str) -> Iterator[TcpProxy]:
    with TcpProxy(fresh_database_url) as proxy:
        yield proxy


def test_the_database_cut_answers_the_contracts_500_and_writes_nothing(
    proxy: TcpProxy, fresh_database_url: str, issuer: TokenIssuer
) -> None:
    settings = Settings(database_url=proxy.url, exchange_url="http://127.0.0.1:9", **issuer.trusted)
    with (
        running(create_app(settings, only={"orders"})) as url,
        issuer.client(url, timeout=30, headers=issuer.as_client()) as api,
    ):
        assert api.post("/orders", json=BODY).status_code == 201
        before = stored_events(fresh_database_url)

        proxy.cut()
        failed = api.post("/orders", json=BODY, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"})
        assert failed.status_code == 500
        assert failed.json() == {"message": "Internal server error while placing the order"}
        assert stored_events(fresh_database_url) == before  # nothing half-written

        proxy.restore()
        assert eventually(lambda: api.post("/orders", json=BODY).status_code == 201)
        # A validation error is still the client's: 422, not the 500.
        assert api.post("/orders", json={**BODY, "side": "SELL"}).status_code == 422


def test_one_conflicting_command_does_not_fail_the_others_of_its_group_commit(
    database_url: str,
) -> None:
    async def scenario() -> tuple[list[Any], int]:
        application = await asyncio.to_thread(open_application, OrdersApplication, database_url)
        committer = GroupCommitter(application)
        service = OrdersService(application, committer.save, SystemClock())
        try:
            key = f"k-{uuid.uuid4()}"
            await service.place(PlaceOrder.model_validate(BODY), ACTOR, key)
            conflicting = PlaceOrder.model_validate({**BODY, "quantity": 6})
            others = [PlaceOrder.model_validate(BODY) for _ in range(30)]
            results = await asyncio.gather(
                service.place(conflicting, ACTOR, key),
                *(service.place(command, ACTOR) for command in others),
                return_exceptions=True,
            )
            return results, len({r[0].id for r in results[1:] if isinstance(r, tuple)})
        finally:
            await committer.close()
            application.close()

    results, created = asyncio.run(scenario())
    assert isinstance(results[0], IdempotencyKeyReused)
    assert created == 30
    assert all(isinstance(r, tuple) and r[1] for r in results[1:])
