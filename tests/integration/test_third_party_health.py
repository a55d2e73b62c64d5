"""Third parties' health and retry budgets in time, on a real PostgreSQL, with fakes of
our own ports: one breaker shared by every worker process, an SMS parked only once its
day is spent, and a placement that is never parked."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

import psycopg

from domain.access import Actor, Role
from domain.clock import ManualClock
from domain.orders.commands import PlaceOrder
from domain.orders.ports import OutboundOrder
from domain.outbound import ProviderUnavailable
from domain.sms.commands import SendSms
from domain.sms.ports import OutboundSms
from ledgerflow.bootstrap import platform_session
from ledgerflow.ports import OrdersPorts, Ports, SmsPorts
from ledgerflow.settings import Settings
from ledgerflow.workflows.orders import OrdersWorkflow
from ledgerflow.workflows.sms import SmsWorkflow

PHONE = "+254712345678"
CLIENT = Actor(Role.CLIENT.value, "test-client")


class Provider:
    """An SMS provider that is down or up; counts the calls each worker made."""

    def __init__(self) -> None:
        self.down = True
        self.calls: dict[str, int] = {}

    def port(self, worker: str) -> SmsPorts:
        provider = self

        class Port:
            async def send(self, sms: OutboundSms) -> str:
                provider.calls[worker] = provider.calls.get(worker, 0) + 1
                if provider.down:
                    raise ProviderUnavailable("503 Service Unavailable")
                return f"SM-{sms.idempotency_key[:8]}"

        return SmsPorts(provider=Port())


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


def breaker_state(url: str, party: str) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT state FROM ledgerflow_third_party_health WHERE party = %s", (party,)
        ).fetchone()
    return row[0] if row else None


def test_two_worker_processes_share_one_breaker(fresh_database_url: str) -> None:
    """Worker A meets the outage and opens the breaker; worker B, started afterwards with
    its own connections (as another process), calls nothing while it is open; a probe
    that gets through closes it for both, and the backlog is sent, the work that failed
    at once rather than when its backoff runs out."""
    url = fresh_database_url
    settings = Settings(
        database_url=url,
        # Backoffs far longer than the test: what failed is due again once it closes.
        retry_base_seconds=120,
        retry_cap_seconds=600,
        breaker_consecutive_failures=5,
        breaker_open_seconds=2.0,
        breaker_probes=1,
        worker_concurrency=4,
    )
    provider = Provider()

    async def scenario() -> list[str]:
        stop = asyncio.Event()
        async with (
            platform_session(settings, ports=Ports(sms=provider.port("a"))) as a,
            platform_session(settings, ports=Ports(sms=provider.port("b"))) as b,
        ):
            sms_a, sms_b = a.get(SmsWorkflow), b.get(SmsWorkflow)
            worker_a = asyncio.create_task(sms_a.run_worker(stop))
            ids = [
                (
                    await sms_a.service.send(
                        SendSms(message_id=f"m-{n}", phone_number=PHONE, text="hi"), CLIENT
                    )
                )[0].id
                for n in range(40)
            ]
            await until(
                lambda: asyncio.to_thread(lambda: breaker_state(url, "sms-provider") == "open")
            )
            worker_b = asyncio.create_task(sms_b.run_worker(stop))
            await asyncio.sleep(1.0)  # within the breaker's wait: no probe yet
            assert provider.calls.get("b", 0) == 0
            calls_before = sum(provider.calls.values())

            provider.down = False
            try:

                async def all_sent() -> bool:
                    states = [str((await sms_a.service.get(i)).status) for i in ids]
                    return states == ["sent"] * len(ids)

                await until(all_sent)
            finally:
                stop.set()
                await asyncio.gather(worker_a, worker_b)
            # While it was open, at most a round of probes (one call) went out.
            assert (
                calls_before <= settings.breaker_consecutive_failures + settings.worker_concurrency
            )
            return [entry.type for entry in await sms_a.service.history(ids[0])]

    history = asyncio.run(scenario())
    assert breaker_state(url, "sms-provider") == "closed"
    assert history[0] == "SmsRequested" and history[-1] == "SmsSent"
    assert history.count("SmsSendAttemptFailed") <= 2  # a streak's first and last


def test_an_sms_is_parked_only_once_its_day_is_spent(fresh_database_url: str) -> None:
    """The provider fails for good; a moved clock decides: before 24 hours the SMS keeps
    being retried however many attempts were made, past them it is parked."""
    settings = Settings(
        database_url=fresh_database_url,
        retry_base_seconds=0.01,
        retry_cap_seconds=0.02,
        breaker_consecutive_failures=1_000_000,  # the budget alone decides here
    )
    clock = ManualClock()
    provider = Provider()

    async def scenario() -> tuple[str, str, int]:
        stop = asyncio.Event()
        async with platform_session(
            settings, clock=clock, ports=Ports(sms=provider.port("a"))
        ) as p:
            sms = p.get(SmsWorkflow)
            worker = asyncio.create_task(sms.run_worker(stop))
            accepted, _ = await sms.service.send(
                SendSms(message_id=str(uuid.uuid4()), phone_number=PHONE, text="hi"), CLIENT
            )
            try:
                # Attempt after attempt for a day less a minute: it keeps being retried.
                for _ in range(24):
                    await _one_more_call(provider, lambda: clock.advance(timedelta(minutes=59)))
                before = str((await sms.service.get(accepted.id)).status)
                clock.advance(accepted.requested_at + timedelta(hours=24) - clock.now())
                await until(lambda: _status_is(sms, accepted.id, "parked"))
            finally:
                stop.set()
                await worker
            final = await sms.service.get(accepted.id)
            return before, str(final.status), final.attempts

    before, after, attempts = asyncio.run(scenario())
    assert (before, after) == ("sending", "parked") and attempts >= 25


async def _one_more_call(provider: Provider, move: Callable[[], None]) -> None:
    """Moves the clock past the retry's backoff and waits for the attempt."""
    calls = sum(provider.calls.values())
    move()
    await until(lambda: _more(provider, calls + 1))


async def _more(provider: Provider, calls: int) -> bool:
    return sum(provider.calls.values()) >= calls


async def _status_is(sms: SmsWorkflow, sms_id: uuid.UUID, status: str) -> bool:
    return str((await sms.service.get(sms_id)).status) == status


class DownExchange:
    def __init__(self) -> None:
        self.calls = 0

    async def place(self, order: OutboundOrder) -> str:
        self.calls += 1
        raise ProviderUnavailable("503 Failed to place order at stock exchange")


async def _placed_again(exchange: DownExchange, calls: int) -> bool:
    return exchange.calls > calls


def test_a_placement_is_never_parked(fresh_database_url: str) -> None:
    """Weeks of an exchange refusing every placement: the order stays accepted and
    keeps being tried, with a bounded number of events."""
    settings = Settings(
        database_url=fresh_database_url,
        retry_base_seconds=0.01,
        retry_cap_seconds=0.02,
        breaker_consecutive_failures=1_000_000,
        orders_execution_reports=False,
    )
    clock = ManualClock()
    exchange = DownExchange()

    async def scenario() -> tuple[str, int, list[str]]:
        stop = asyncio.Event()
        async with platform_session(
            settings, clock=clock, ports=Ports(orders=OrdersPorts(exchange=exchange))
        ) as p:
            orders = p.get(OrdersWorkflow)
            worker = asyncio.create_task(orders.run_worker(stop))
            order, _ = await orders.service.place(
                PlaceOrder(type="market", side="buy", instrument="US0378331005", quantity=1),
                CLIENT,
            )
            try:
                for _ in range(12):  # a year, a month at a time
                    calls = exchange.calls
                    clock.advance(timedelta(days=30))
                    await until(lambda calls=calls: _placed_again(exchange, calls))
            finally:
                stop.set()
                await worker
            final = await orders.service.get(order.id)
            return (
                str(final.status),
                exchange.calls,
                [e.type for e in await orders.service.history(order.id)],
            )

    status, calls, history = asyncio.run(scenario())
    assert status == "accepted" and calls >= 12
    assert "OrderParked" not in history and len(history) <= 3
