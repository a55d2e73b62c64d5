"""An event a follower cannot apply stops its aggregate in that follower, nothing more.

Poison events are written straight into a workflow's log, as rows (the API refuses what
they carry): an unknown topic, a value a read model's column cannot hold, a field of the
wrong type. The follower sets the aggregate aside, its later events wait, everything
else goes on; operators see it in `/status` and `ledgerflow status`, and have it retried
after a fix or skipped with a reason.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

import httpx
import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import register_topic
from psycopg_pool import AsyncConnectionPool

from adapters.eventstore import open_application
from adapters.follower import Follower
from adapters.relay import EventRelay
from adapters.set_aside.desk import SetAsideDesk
from adapters.set_aside.errors import RetryLater
from adapters.work import WorkScheduler
from domain.access import Actor, Role
from domain.billing.dataset import CustomerRecord, InvoiceRecord
from domain.messaging import Message
from domain.orders.aggregate import Order
from domain.reimbursements.reference import reference_id
from domain.sms.aggregate import Sms
from domain.work import RetrySettings
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.web import create_app
from ledgerflow.workflows.billing import BillingWorkflow
from processes.orders.application import OrdersApplication
from processes.orders.integration import order_integration_message
from processes.orders.placement import PLACE_ORDER, OrderPlacement
from processes.sms.application import SmsApplication
from projections.orders import OrdersView
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

WITH_PHONE = reference_id("account", "nordic-m-1-acct")  # of the demo banks

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
OVERFLOW = 10**19  # past bigint


def new_order(quantity: int = 10) -> Order:
    return Order(
        type="limit",
        side="buy",
        instrument="US0378331005",
        limit_price=Decimal("189.25"),
        quantity=quantity,
        idempotency_key=None,
        accepted_at=T0,
        actor=ACTOR,
    )


def new_sms() -> Sms:
    return Sms(
        message_id=f"poison-{uuid.uuid4().hex[:8]}",
        phone_number="+254712345678",
        text="hello",
        correlation_id=None,
        requested_at=T0,
        actor=ACTOR,
    )


def stored(app: Application, aggregate: Aggregate) -> list[StoredEvent]:
    """The aggregate's new events as the store keeps them."""
    return [app.mapper.to_stored_event(event) for event in aggregate.collect_events()]


def tampered(event: StoredEvent, *, topic: str | None = None, **fields: Any) -> StoredEvent:
    """`event` with another topic, or with fields of its state set to plain JSON values."""
    state = json.loads(event.state)
    state.update(fields)
    return replace(event, topic=topic or event.topic, state=json.dumps(state).encode())


def append(url: str, table: str, events: Sequence[StoredEvent]) -> None:
    """Write rows into a log as the store does: under its table lock, then NOTIFY."""
    with psycopg.connect(url) as conn:
        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        conn.cursor().executemany(
            f"INSERT INTO {table} (originator_id, originator_version, topic, state)"
            " VALUES (%s, %s, %s, %s)",
            [(e.originator_id, e.originator_version, e.topic, e.state) for e in events],
        )
        conn.execute(f"NOTIFY {table}")


def unknown_topic() -> str:
    return f"tests.poison:Unregistered{uuid.uuid4().hex}"


# The whole platform: one unknown event in the orders log ---------------------------------


@pytest.fixture()
def platform(fresh_database_url: str, issuer: TokenIssuer) -> Iterator[tuple[str, httpx.Client]]:
    """The API and the projections worker on a fresh database, the demo banks loaded."""
    settings = Settings(database_url=fresh_database_url, **issuer.trusted)

    async def seed() -> None:
        async with platform_session(settings, only={"reimbursements"}) as opened:
            await opened.workflows["reimbursements"].seed("demo-banks")

    asyncio.run(seed())
    with (
        running(create_app(settings)) as url,
        issuer.client(url, timeout=10) as api,
        workers(settings, "projections"),
    ):
        yield fresh_database_url, api


def _listed(api: httpx.Client, path: str, key: str = "id") -> set[str]:
    page = api.get(path, params={"limit": 500})
    assert page.status_code == 200, page.text
    return {str(item[key]) for item in page.json()["items"]}


def _new_in_every_workflow(
    api: httpx.Client, url: str, n: int, issuer: TokenIssuer
) -> dict[str, tuple[str, str]]:
    """One new aggregate in each workflow, each by a caller that may create it (a client,
    the account's member): list path -> (its id, the list's key)."""
    shop = issuer.as_client()
    sms = api.post(
        "/sms",
        headers=shop,
        json={"message_id": f"m-{n}-{uuid.uuid4()}", "phone_number": "+254712345678", "text": "hi"},
    )
    order = api.post(
        "/orders",
        headers=shop,
        json={
            "type": "limit",
            "side": "buy",
            "instrument": "US0378331005",
            "limit_price": "189.25",
            "quantity": 10,
        },
    )
    application = api.post(
        "/applications",
        headers=shop,
        json={
            "first_name": "Amina",
            "last_name": "Okafor",
            "amount": {"amount": "15000.00", "currency": "EUR"},
            "term_months": 36,
            "email": "amina.okafor@example.com",
        },
    )
    reimbursement = api.post(
        "/reimbursements",
        headers=issuer.headers(Role.MEMBER, member_id=reference_id("member", "nordic-m-1")),
        json={
            "bank_account_id": str(WITH_PHONE),
            "amount": {"amount": "129.90", "currency": "DKK"},  # a Danish account
            "description": "Train tickets",
        },
    )
    for answer in (sms, order, application, reimbursement):
        assert answer.status_code in (200, 201, 202), answer.text
    member = reimbursement.json()["member_id"]

    async def invoice() -> None:
        settings = Settings(database_url=url, billing_scheduler=False)
        async with platform_session(settings, only={"billing"}) as opened:
            await opened.get(BillingWorkflow).service.load(
                [CustomerRecord(n, "EUR"), InvoiceRecord(n, n, Decimal("10"), "EUR", False)], ACTOR
            )

    asyncio.run(invoice())
    return {
        "/sms": (sms.json()["id"], "id"),
        "/orders": (order.json()["id"], "id"),
        "/applications": (application.json()["id"], "id"),
        f"/members/{member}/reimbursements": (reimbursement.json()["id"], "id"),
        "/invoices": (str(n), "id"),
    }


def _all_listed(api: httpx.Client, written: dict[str, tuple[str, str]]) -> bool:
    return all(key in _listed(api, path, field) for path, (key, field) in written.items())


def _item(api: httpx.Client, follower: str) -> dict[str, Any] | None:
    items = [i for i in api.get("/status").json()["set_aside"] if i["follower"] == follower]
    return items[0] if items else None


def test_an_unknown_event_stops_its_aggregate_in_one_read_model_and_nothing_else(
    platform: tuple[str, httpx.Client], issuer: TokenIssuer
) -> None:
    url, api = platform
    app = open_application(OrdersApplication, url)
    try:
        stuck = new_order()
        stuck.record_placed(1, "EX-1", T0, actor=ACTOR)
        accepted, placed = stored(app, stuck)
        topic = unknown_topic()
        append(url, "orders_events", [tampered(accepted, topic=topic)])

        # Every read model of every workflow keeps current, the orders list included.
        written = _new_in_every_workflow(api, url, 1, issuer)
        assert eventually(lambda: _all_listed(api, written), what="every list current")
        item = eventually(lambda: _item(api, "orders_view"), what="the order set aside")
        assert item["log"] == "orders" and item["aggregate_id"] == str(stuck.id)
        assert item["event"] == {
            "notification_id": item["event"]["notification_id"],
            "version": 1,
            "topic": topic,
        }
        assert item["error"]["type"] == "TopicError"
        assert (item["waiting"], item["failures"], item["requested"]) == (0, 1, None)
        status = api.get("/status").json()
        [view] = [f for f in status["followers"] if f["follower"] == "orders_view"]
        assert view["set_aside"] == 1 and view["behind"] == 0
        assert all(f["set_aside"] == 0 for f in status["followers"] if f is not view)
        assert api.get("/health").json() == {"status": "ok"}

        # Its later event waits behind it; other orders go on.
        append(url, "orders_events", [placed])
        more = _new_in_every_workflow(api, url, 2, issuer)
        assert eventually(lambda: _all_listed(api, more), what="lists current again")
        assert eventually(lambda: api.get(f"/status/set-aside/{item['id']}").json()["waiting"] == 1)
        assert str(stuck.id) not in _listed(api, "/orders")

        # Retried before the fix: it fails again and stays, with the events behind it.
        path = f"/status/set-aside/{item['id']}"
        asked = api.post(f"{path}/retry")
        assert asked.status_code == 202, asked.text
        assert asked.json()["requested"] == "retry"
        failed = eventually(lambda: (d := api.get(path).json())["actions"][0]["done_at"] and d)
        assert failed["actions"][0]["outcome"] == "failed"
        assert failed["actions"][0]["actor"] == "operator:dev-operator"
        assert (failed["resolution"], failed["failures"], failed["waiting"]) == (None, 2, 1)

        # After the fix (the topic is known again), a retry applies it and what waited.
        register_topic(topic, Order.OrderAccepted)
        assert api.post(f"{path}/retry").status_code == 202
        retried = eventually(lambda: (d := api.get(path).json())["resolution"] and d)
        assert (
            retried["resolution"] == "retried" and retried["resolved_by"] == "operator:dev-operator"
        )
        assert [(a["outcome"], a["applied"]) for a in retried["actions"]] == [
            ("failed", 0),
            ("applied", 2),
        ]
        assert retried["waiting_events"] == []
        [row] = [
            o
            for o in api.get("/orders", params={"limit": 500}).json()["items"]
            if o["id"] == str(stuck.id)
        ]
        assert row["status"] == "placed"
        assert _item(api, "orders_view") is None
        again = api.post(f"{path}/retry")
        assert again.status_code == 409 and again.json()["code"] == "set_aside_closed"
        assert api.post("/status/set-aside/999999/retry").status_code == 404
    finally:
        app.close()


def test_an_operator_skips_a_set_aside_event_with_a_reason(
    platform: tuple[str, httpx.Client],
) -> None:
    url, api = platform
    app = open_application(SmsApplication, url)
    try:
        sms = new_sms()
        [requested] = stored(app, sms)
        append(url, "sms_events", [tampered(requested, topic=unknown_topic())])
        item = eventually(lambda: _item(api, "sms_view"), what="the SMS set aside")
        path = f"/status/set-aside/{item['id']}"

        assert api.post(f"{path}/skip", json={"reason": " "}).status_code == 422
        asked = api.post(f"{path}/skip", json={"reason": "written by hand in a test"})
        assert asked.status_code == 202, asked.text
        twice = api.post(f"{path}/retry")
        # Carried out already, or still waiting: either way not asked twice.
        assert twice.status_code == 409
        assert twice.json()["code"] in {"set_aside_closed", "set_aside_request_waiting"}
        skipped = eventually(lambda: (d := api.get(path).json())["resolution"] and d)
        assert skipped["resolution"] == "skipped"
        assert skipped["reason"] == "written by hand in a test"
        assert skipped["resolved_by"] == "operator:dev-operator"
        [action] = skipped["actions"]
        assert (action["action"], action["outcome"]) == ("skip", "skipped")
        assert str(sms.id) not in _listed(api, "/sms")
        assert _item(api, "sms_view") is None
        closed = api.get("/status/set-aside", params={"state": "closed"}).json()["items"]
        assert [i["id"] for i in closed] == [item["id"]]
    finally:
        app.close()


# A read model's column cannot hold a value; the rebuild; the CLI --------------------------


async def _pool(url: str) -> AsyncConnectionPool[Any]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=2, open=False, kwargs={"autocommit": True}
    )
    await pool.open()
    return pool


def _orders_view_ids(url: str) -> set[uuid.UUID]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM orders_view")}


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", *args],
        env={**os.environ, "DATABASE_URL": url, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_value_the_read_model_cannot_hold_sets_its_order_aside_and_a_rebuild_reports_it(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    app = open_application(OrdersApplication, url)
    try:
        before, huge, after = new_order(), new_order(quantity=OVERFLOW), new_order()
        app.save(before, huge, after)  # one batch: the poison between two good orders
        huge.record_placed(1, "EX-HUGE", T0, actor=ACTOR)
        before.record_placed(1, "EX-BEFORE", T0, actor=ACTOR)
        app.save(huge, before)

        async def follow() -> int:
            pool = await _pool(url)
            try:
                follower = Follower(app, OrdersView(), pool)
                await follower.setup()
                applied = await follower.catch_up()
                assert await follower.position() == app.recorder.max_notification_id()
                return applied
            finally:
                await pool.close()

        assert asyncio.run(follow()) == 3  # both orders accepted, one placed
        assert _orders_view_ids(url) == {before.id, after.id}
        [item] = asyncio.run(_open_items(url))
        assert (item.follower, item.aggregate_id, item.version) == ("orders_view", huge.id, 1)
        assert item.error_type == "NumericValueOutOfRange"
        assert "bigint" in item.error and str(OVERFLOW) not in item.error
        assert item.waiting == 1

        # `ledgerflow status` names it.
        printed = _cli(url, "status")
        assert printed.returncode == 0, printed.stderr
        [line] = [line for line in printed.stdout.splitlines() if str(huge.id) in line]
        assert "orders_view" in line and "NumericValueOutOfRange" in line

        # A rebuild goes through, sets it aside again and says so.
        rebuilt = _cli(url, "projections", "rebuild", "orders_view")
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert "orders_view: 3 events applied, 1 set aside" in rebuilt.stdout
        assert str(huge.id) in rebuilt.stdout
        assert _orders_view_ids(url) == {before.id, after.id}
        [again] = asyncio.run(_open_items(url))
        assert again.id != item.id and again.waiting == 1
        with psycopg.connect(url) as conn:
            closed = conn.execute(
                "SELECT resolution, resolved_by FROM ledgerflow_set_aside WHERE id = %s",
                (item.id,),
            ).fetchone()
        assert closed == ("rebuilt", f"cli:{getpass.getuser()}")

        # Skipped from the command line; no follower runs, so the request waits for it.
        skip = _cli(url, "set-aside", "skip", str(again.id), "--reason", "bad test", "--wait", "0")
        assert skip.returncode == 0, skip.stderr
        assert f"item {again.id}: skip requested" in skip.stdout
        assert asyncio.run(follow()) == 0
        skipped = asyncio.run(_closed_item(url, again.id))
        assert (skipped.resolution, skipped.reason) == ("skipped", "bad test")
        assert skipped.resolved_by == f"cli:{getpass.getuser()}"
    finally:
        app.close()


def test_a_row_whose_state_cannot_be_decoded_sets_its_stored_aggregate_aside(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    app = open_application(OrdersApplication, url)
    try:
        good, garbled = new_order(), new_order()
        garbled_accepted = replace(stored(app, garbled)[0], state=b"{not json")
        append(url, "orders_events", [garbled_accepted, *stored(app, good)])

        async def follow() -> int:
            pool = await _pool(url)
            try:
                follower = Follower(app, OrdersView(), pool)
                await follower.setup()
                return await follower.catch_up()
            finally:
                await pool.close()

        assert asyncio.run(follow()) == 1
        assert _orders_view_ids(url) == {good.id}
        [item] = asyncio.run(_open_items(url))
        assert (item.aggregate_id, item.error_type) == (garbled.id, "MapperDeserialisationError")
    finally:
        app.close()


async def _open_items(url: str) -> list[Any]:
    pool = await _pool(url)
    try:
        return await SetAsideDesk(pool).items()
    finally:
        await pool.close()


async def _closed_item(url: str, item_id: int) -> Any:
    pool = await _pool(url)
    try:
        return await SetAsideDesk(pool).item(item_id)
    finally:
        await pool.close()


# A process manager's planner and the relay ------------------------------------------------


def test_the_planner_sets_aside_an_order_it_cannot_plan_and_plans_the_others(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    app = open_application(OrdersApplication, url)
    try:
        good, bad = new_order(), new_order()
        good_events, bad_events = stored(app, good), stored(app, bad)
        # `accepted_at` is the work's due time: the work table cannot hold this one.
        append(url, "orders_events", [tampered(bad_events[0], accepted_at="not a time")])
        append(url, "orders_events", good_events)
        placement = OrderPlacement(app, cast(Any, None), RetrySettings(budget=None))

        async def plan() -> int:
            pool = await _pool(url)
            try:
                follower = Follower(app, WorkScheduler(placement), pool)
                await follower.setup()
                return await follower.catch_up()
            finally:
                await pool.close()

        assert asyncio.run(plan()) == 1
        with psycopg.connect(url) as conn:
            planned = conn.execute("SELECT aggregate_id, kind FROM ledgerflow_work").fetchall()
        assert planned == [(good.id, PLACE_ORDER)]
        [item] = asyncio.run(_open_items(url))
        assert (item.follower, item.aggregate_id) == (f"work_scheduler:{PLACE_ORDER}", bad.id)
        assert item.error_type == "InvalidDatetimeFormat"
        assert "not a time" not in item.error
    finally:
        app.close()


class _Bus:
    """An event bus that keeps what it is given, or is away."""

    def __init__(self) -> None:
        self.published: list[Message] = []
        self.away = False

    async def publish(self, message: Message) -> None:
        await self.publish_many([message])

    async def publish_many(self, messages: Sequence[Message]) -> None:
        if self.away:
            raise ConnectionRefusedError("the broker is away")
        self.published.extend(messages)

    async def subscribe(self, *args: Any) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        pass


def test_the_relay_sets_aside_an_event_it_cannot_publish_but_waits_out_the_bus(
    fresh_database_url: str,
) -> None:
    url = fresh_database_url
    app = open_application(OrdersApplication, url)
    bus = _Bus()
    try:
        good, bad = new_order(), new_order()
        good.record_placed(1, "EX-GOOD", T0, actor=ACTOR)
        bad.record_placed(1, "EX-BAD", T0, actor=ACTOR)
        bad_accepted, bad_placed = stored(app, bad)
        # A placement whose time is not a time: it cannot be made into a message.
        append(url, "orders_events", [bad_accepted, tampered(bad_placed, at="yesterday")])
        append(url, "orders_events", stored(app, good))

        later = new_order()
        later.record_placed(1, "EX-LATER", T0, actor=ACTOR)

        async def relay() -> tuple[int, int]:
            pool = await _pool(url)
            try:
                relay = Follower(app, EventRelay("orders", order_integration_message, bus), pool)
                await relay.setup()
                first = await relay.catch_up()
                await asyncio.to_thread(app.save, later)
                bus.away = True
                position = await relay.position()
                with pytest.raises(RetryLater):
                    await relay.catch_up()
                assert await relay.position() == position  # nothing moved, nothing blamed
                bus.away = False
                return first, await relay.catch_up()
            finally:
                await pool.close()

        first, after_outage = asyncio.run(relay())
        assert first == 3 and after_outage == 2
        assert [m.message_id for m in bus.published] == [f"{good.id}:2", f"{later.id}:2"]
        [item] = asyncio.run(_open_items(url))
        assert (item.follower, item.aggregate_id, item.version) == ("relay:orders", bad.id, 2)
        assert item.error_type == "AttributeError"
    finally:
        app.close()
