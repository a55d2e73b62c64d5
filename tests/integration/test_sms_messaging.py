"""`SendSms` through the command queue and `SmsSent` on the event bus, on both backends:
PostgreSQL (the default) and the real RabbitMQ."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Iterator

import aio_pika
import pytest

from adapters.eventstore import open_application
from adapters.messaging.factory import build_messaging
from domain.access import Actor, Role
from domain.messaging import CLIENT_HEADER, Message, command_queue_name, dead_letter_queue_name
from domain.sms.aggregate import SmsStatus, sms_id_for
from domain.sms.errors import SmsNotFound
from ledgerflow.settings import AbuseLimits, Settings
from processes.sms.application import SmsApplication
from simulators import sms_provider
from simulators.registry import running
from tests.harness import eventually, workers
from tests.issuer import TokenIssuer

QUEUE = command_queue_name("sms")


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    with running(sms_provider.create_app()) as url:
        yield url


@pytest.fixture(params=["postgres", "rabbitmq"])
def settings(
    request: pytest.FixtureRequest, fresh_database_url: str, simulator_url: str, issuer: TokenIssuer
) -> Settings:
    amqp_url = None
    if request.param == "rabbitmq":
        amqp_url = request.getfixturevalue("amqp_url")
        asyncio.run(purge(amqp_url, QUEUE, dead_letter_queue_name(QUEUE)))
    return Settings(
        database_url=fresh_database_url,
        amqp_url=amqp_url,
        sms_provider_url=simulator_url,
        retry_base_seconds=0.02,
        **issuer.trusted,
    )


async def purge(amqp_url: str, *queues: str) -> None:
    """The broker outlives test runs: start from empty queues."""
    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        for name in queues:
            try:
                queue = await channel.get_queue(name, ensure=True)
            except aio_pika.exceptions.ChannelClosed:
                channel = await connection.channel()
                continue
            await queue.purge()


CLIENT = "client-q"


def message(body: object, message_id: str | None = None, client: str | None = CLIENT) -> Message:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Message(
        body=raw,
        message_id=message_id or str(uuid.uuid4()),
        correlation_id="corr-42",
        headers={"source": "test", **({CLIENT_HEADER: client} if client else {})},
    )


def send_sms(message_id: str, **changes: object) -> dict[str, object]:
    return {
        "message_id": message_id,
        "phone_number": "+254712345678",
        "text": "Payment received",
        "correlation_id": "corr-42",
        **changes,
    }


def test_send_sms_commands_are_recorded_sent_and_announced(settings: Settings) -> None:
    assert settings.database_url
    first, second = f"q-{uuid.uuid4()}", f"q-{uuid.uuid4()}"
    subscriber = f"test-{uuid.uuid4().hex[:8]}"
    queue, bus = build_messaging(settings.database_url, settings.amqp_url)

    async def send_all() -> None:
        try:
            await bus.subscribe(subscriber, ["sms.SmsSent"], _ignore, _already_set())  # declare
            for item in [
                message(send_sms(first)),
                message(b"{this is not json"),  # poison: must not block what follows
                message(send_sms(f"q-{uuid.uuid4()}", phone_number="12345")),
                message(send_sms(first)),  # a redelivery: the same SMS, no second one
                message(send_sms(first, text="another text")),  # the id reused: a conflict
                message(send_sms(second)),
                message(send_sms(f"q-{uuid.uuid4()}"), client=None),  # names no client
            ]:
                await queue.send(QUEUE, item)
        finally:  # before this loop ends: a broker connection outliving it leaks callbacks
            await queue.close()
            await bus.close()

    asyncio.run(send_all())
    app = open_application(SmsApplication, settings.database_url)
    try:
        with workers(settings, "sms", "ingester", "relay"):
            eventually(
                lambda: all(_status(app, m, CLIENT) == SmsStatus.SENT for m in (first, second))
            )
            dead = eventually(lambda: _dead_letters(settings, 4), timeout=10)
            announced = asyncio.run(_collect(settings, subscriber, {first, second}))
        versions = app.get_sms(sms_id_for(first, CLIENT)).version
        requested, sent = app.events.get(sms_id_for(first, CLIENT))
    finally:
        app.close()

    reasons = sorted(letter.reason for letter in dead)
    assert any("invalid SendSms" in reason and "JSON" in reason for reason in reasons)
    assert any("phone_number" in reason for reason in reasons)
    assert any("already used" in reason for reason in reasons)
    assert any(reason.startswith("missing_client: ") for reason in reasons)
    # The client the header names is the SMS's actor; its outcome, the worker's.
    assert requested.actor == Actor("client", CLIENT)  # type: ignore[attr-defined]
    assert sent.actor == Actor.system("worker-sms")  # type: ignore[attr-defined]
    assert versions == 2  # requested, sent: the redelivered command added nothing
    assert {json.loads(m.body)["message_id"] for m in announced} == {first, second}
    assert all(m.correlation_id == "corr-42" for m in announced)


def _status(app: SmsApplication, message_id: str, client: str | None = None) -> SmsStatus | None:
    try:
        return app.get_sms(sms_id_for(message_id, client)).status
    except SmsNotFound:
        return None


def _dead_letters(settings: Settings, expected: int) -> list[object] | None:
    assert settings.database_url

    async def read() -> list[object]:
        queue, bus = build_messaging(settings.database_url or "", settings.amqp_url)
        try:
            return list(await queue.dead_letters(QUEUE))
        finally:
            await queue.close()
            await bus.close()

    letters = asyncio.run(read())
    return letters if len(letters) >= expected else None


async def _collect(settings: Settings, subscriber: str, wanted: set[str]) -> list[Message]:
    _, bus = build_messaging(settings.database_url or "", settings.amqp_url)
    stop = asyncio.Event()
    received: list[Message] = []

    async def handle(message: Message) -> None:
        received.append(message)
        if {json.loads(m.body)["message_id"] for m in received} >= wanted:
            stop.set()

    try:
        await asyncio.wait_for(bus.subscribe(subscriber, ["sms.SmsSent"], handle, stop), 20)
    finally:
        await bus.close()
    return received


async def _ignore(message: Message) -> None:
    return None


def _already_set() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


def test_the_api_and_the_queue_share_one_idempotency(
    settings: Settings, issuer: TokenIssuer
) -> None:
    """A command that came over HTTP and again over the queue, both of one client, is one
    SMS."""
    from ledgerflow.web import create_app

    assert settings.database_url
    message_id = f"both-{uuid.uuid4()}"
    with running(create_app(settings)) as url, issuer.client(url) as api:
        shop = issuer.headers(Role.CLIENT, subject="shop-1")
        created = api.post("/sms", json=send_sms(message_id), headers=shop).json()
        queue, bus = build_messaging(settings.database_url, settings.amqp_url)
        from_shop = dataclasses.replace(
            message(send_sms(message_id)), headers={CLIENT_HEADER: "shop-1"}
        )

        async def send() -> None:
            await queue.send(QUEUE, from_shop)
            await queue.close()
            await bus.close()

        asyncio.run(send())
        with workers(settings, "sms", "ingester"):
            eventually(lambda: api.get(f"/sms/{created['id']}").json()["status"] == "sent")
        history = api.get(f"/sms/{created['id']}/events").json()
    assert [e["type"] for e in history] == ["SmsRequested", "SmsSent"]


def test_a_destination_its_client_may_not_text_is_dead_lettered_with_the_rule(
    settings: Settings,
) -> None:
    """The destination rules of `POST /sms` apply on the queue too, for the client a
    message names in its header (one it does not list: the default rule); a message that
    names no client is refused as such."""
    assert settings.database_url
    rules = AbuseLimits(sms_allowed_countries={"client-a": ["TZ"], "*": ["KE"]})
    ruled = settings.model_copy(update={"abuse_limits": rules})
    kenya, tanzania = "+254712345678", "+255712345678"
    named_refused, named_allowed, unlisted_refused, unnamed = (
        f"q-{uuid.uuid4()}" for _ in range(4)
    )

    def for_client(body: dict[str, object], client: str | None) -> Message:
        headers = {CLIENT_HEADER: client} if client else {}
        return Message(json.dumps(body).encode(), str(uuid.uuid4()), headers=headers)

    async def send_all() -> None:
        queue, bus = build_messaging(settings.database_url or "", settings.amqp_url)
        try:
            for item in [
                for_client(send_sms(named_refused, phone_number=kenya), "client-a"),
                for_client(send_sms(named_allowed, phone_number=tanzania), "client-a"),
                for_client(send_sms(unlisted_refused, phone_number=tanzania), "client-b"),
                for_client(send_sms(unnamed, phone_number=kenya), None),
            ]:
                await queue.send(QUEUE, item)
        finally:
            await queue.close()
            await bus.close()

    asyncio.run(send_all())
    app = open_application(SmsApplication, settings.database_url)
    try:
        with workers(ruled, "ingester"):
            eventually(lambda: _status(app, named_allowed, "client-a") is not None)
            dead = eventually(lambda: _dead_letters(ruled, 3), timeout=10)
        refused = [
            _status(app, named_refused, "client-a"),
            _status(app, unlisted_refused, "client-b"),
            _status(app, unnamed),
        ]
    finally:
        app.close()

    reasons = sorted(letter.reason for letter in dead)  # type: ignore[attr-defined]
    assert refused == [None, None, None]
    [missing] = [r for r in reasons if not r.startswith("destination_country_not_allowed: ")]
    assert missing.startswith("missing_client: ")
    assert any("KE" in r and "'client-a'" in r for r in reasons)
    assert any("TZ" in r and "'client-b'" in r for r in reasons)
    assert not any(kenya[4:] in r or tanzania[4:] in r for r in reasons)
