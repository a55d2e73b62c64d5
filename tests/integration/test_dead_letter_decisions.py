"""Dead letters on both messaging backends, through the same port: the attention list
shows them, operators replay or discard them through the API, and every decision is
recorded with who made it and listed by `GET /status/dead-letters/decisions` (and
`ledgerflow dead-letter decisions`).

On PostgreSQL the record is written in the transaction that replays or discards: a
decision that cannot be recorded is not taken. On RabbitMQ the letters are the messages
of real `<queue>.dead` queues (uuid-named per test, deleted afterwards).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from typer.testing import CliRunner

from adapters.attention import AttentionFilter, AttentionKind, AttentionReader
from adapters.messaging.dead_letter_desk import DeadLetterDesk, DeadLettersUnavailable
from adapters.messaging.factory import build_dead_letter_desk
from adapters.messaging.postgres.dead_letters import PostgresDeadLetterDesk
from adapters.messaging.rabbitmq import (
    DEAD_AT_HEADER,
    DEAD_REASON_HEADER,
    RabbitMqCommandQueue,
    subscriber_queue_name,
)
from adapters.messaging.rabbitmq_dead_letters import RabbitMqDeadLetterDesk
from api.app import ApiConfig
from api.services import ApiServices
from domain.access import Actor, Role
from domain.clock import ManualClock
from domain.messaging import (
    CLIENT_HEADER,
    Message,
    PoisonMessage,
    command_queue_name,
    dead_letter_queue_name,
)
from ledgerflow.cli import app as cli
from tests.unit.in_memory_api import ISSUER, in_memory_api

pytestmark = pytest.mark.timeout(60)

OPERATOR = ISSUER.headers(Role.OPERATOR, subject="ops-alice")
AUDITOR = ISSUER.headers(Role.AUDITOR, subject="audit-bob")
NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture()
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(database_url, min_size=1, max_size=4, open=False) as opened:
        yield opened


@asynccontextmanager
async def api_of(
    pool: AsyncConnectionPool[Any], desk: DeadLetterDesk
) -> AsyncIterator[httpx.AsyncClient]:
    """The API's routes over `desk`, the platform's clock at `NOW`, as an operator."""
    services = ApiServices(
        clock=ManualClock(NOW),
        status=None,  # type: ignore[arg-type]  # no status routes here
        set_aside=None,  # type: ignore[arg-type]
        attention=AttentionReader(pool, [], desk),
        dead_letters=desk,
    )
    app = in_memory_api(services, ApiConfig())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=OPERATOR
        ) as client:
            yield client


async def waiting(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    answer = await api.get("/status/attention", params={"kind": "dead_letter"})
    assert answer.status_code == 200, answer.text
    return {item["key"]: item for item in answer.json()["items"]}


async def decisions(api: httpx.AsyncClient, **params: str | int) -> dict[str, Any]:
    answer = await api.get("/status/dead-letters/decisions", params=params, headers=AUDITOR)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = answer.json()
    return page


# -- PostgreSQL ----------------------------------------------------------------------


def pg_dead_letter(database_url: str, queue: str) -> tuple[str, str]:
    message_id = f"m-{uuid.uuid4()}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO ledgerflow_dead_letters (queue, message_id, body, reason)"
            " VALUES (%s, %s, '{}', 'no handler') RETURNING id",
            (queue, message_id),
        ).fetchone()
    assert row is not None
    return str(row[0]), message_id


def recorded(database_url: str, letter: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT decision, actor_role, actor_subject, decided_at, note, message_id"
            " FROM ledgerflow_dead_letter_decisions WHERE letter = %s",
            (letter,),
        ).fetchall()


async def test_postgres_decisions_are_recorded_with_the_operator_and_listed_newest_first(
    pool: AsyncConnectionPool[Any], database_url: str
) -> None:
    queue = command_queue_name(f"idle{uuid.uuid4().hex[:8]}")  # no consumer: it stays
    replayed, replayed_message = pg_dead_letter(database_url, dead_letter_queue_name(queue))
    dropped, _ = pg_dead_letter(database_url, dead_letter_queue_name(queue))
    event, _ = pg_dead_letter(database_url, f"subscriber{uuid.uuid4().hex[:8]}.dead")
    async with api_of(pool, PostgresDeadLetterDesk(pool)) as api:
        assert {replayed, dropped, event} <= set(await waiting(api))

        answer = await api.post(
            f"/status/dead-letters/{replayed}/replay", json={"note": "template fixed"}
        )
        assert answer.json() == {"id": int(replayed), "queue": queue}
        assert recorded(database_url, replayed) == [
            ("replay", "operator", "ops-alice", NOW, "template fixed", replayed_message)
        ]
        answer = await api.post(f"/status/dead-letters/{dropped}/discard")  # no note
        assert answer.json() == {"id": int(dropped), "discarded": True}

        refused = await api.post(f"/status/dead-letters/{event}/replay")
        assert refused.status_code == 409 and recorded(database_url, event) == []
        assert (await api.post("/status/dead-letters/no-such/discard")).status_code == 404

        page = await decisions(api, limit=500)
        mine = [d for d in page["items"] if d["letter"] in (replayed, dropped)]
        assert [d["letter"] for d in mine] == [dropped, replayed]  # the same time: by id
        assert mine[1] == {
            "id": mine[1]["id"],
            "letter": replayed,
            "queue": dead_letter_queue_name(queue),
            "message_id": replayed_message,
            "decision": "replay",
            "actor": {"role": "operator", "subject": "ops-alice"},
            "decided_at": "2026-12-03T09:30:00Z",
            "note": "template fixed",
        }
        assert mine[0]["decision"] == "discard" and mine[0]["note"] is None

        first = await decisions(api, limit=1)
        assert len(first["items"]) == 1 and first["next_cursor"]
        second = await decisions(api, limit=1, cursor=first["next_cursor"])
        assert second["items"][0]["id"] < first["items"][0]["id"]
        bad = await api.get(
            "/status/dead-letters/decisions", params={"cursor": "nonsense"}, headers=AUDITOR
        )
        assert bad.status_code == 400 and bad.json()["code"] == "invalid_cursor"
        client = ISSUER.headers(Role.CLIENT, subject="shop", scopes=[])
        forbidden = await api.get("/status/dead-letters/decisions", headers=client)
        assert forbidden.status_code == 403


async def test_postgres_a_decision_that_cannot_be_recorded_is_not_taken(
    pool: AsyncConnectionPool[Any], database_url: str
) -> None:
    queue = command_queue_name(f"idle{uuid.uuid4().hex[:8]}")
    letter, _ = pg_dead_letter(database_url, dead_letter_queue_name(queue))
    desk = PostgresDeadLetterDesk(pool)
    operator = Actor(Role.OPERATOR.value, "ops-alice")
    with pytest.raises(psycopg.DataError):  # PostgreSQL text takes no NUL: the insert fails
        await desk.replay(letter, operator, NOW, note="\x00")
    with psycopg.connect(database_url) as conn:
        still = conn.execute(
            "SELECT count(*) FROM ledgerflow_dead_letters WHERE id = %s", (int(letter),)
        )
        queued = conn.execute(
            "SELECT count(*) FROM ledgerflow_queue_messages WHERE queue = %s", (queue,)
        )
        assert still.fetchone() == (1,) and queued.fetchone() == (0,)
    assert recorded(database_url, letter) == []


def test_the_command_line_records_its_operator_and_lists_the_decisions(database_url: str) -> None:
    env = {"DATABASE_URL": database_url}
    letter, _ = pg_dead_letter(database_url, "ledgerflow.commands.sms.dead")
    done = CliRunner().invoke(
        cli, ["dead-letter", "discard", letter, "--note", "duplicate of a sent SMS"], env=env
    )
    assert done.exit_code == 0, done.output
    [(decision, role, subject, _, note, _)] = recorded(database_url, letter)
    assert (decision, role, note) == ("discard", "operator", "duplicate of a sent SMS")
    listed = CliRunner().invoke(cli, ["dead-letter", "decisions"], env={**env, "COLUMNS": "240"})
    assert listed.exit_code == 0, listed.output
    assert letter in listed.output and "duplicate of a sent SMS" in listed.output
    assert f"operator:{subject}" in listed.output


# -- RabbitMQ ------------------------------------------------------------------------


@pytest.fixture()
async def broker(amqp_url: str) -> AsyncIterator[list[str]]:
    """Names of queues to delete afterwards (with their dead-letter queues)."""
    made: list[str] = []
    yield made
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        for queue in made:
            await channel.queue_delete(queue)
            await channel.queue_delete(dead_letter_queue_name(queue))


async def poisoned(amqp_url: str, queue: str, count: int) -> list[str]:
    """`count` commands sent on `queue` and dead-lettered by its consumer, as in
    production; answers their message ids."""
    sender = RabbitMqCommandQueue(amqp_url)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    dead: list[str] = []

    async def refuse(message: Message, actor: Actor) -> None:
        dead.append(message.message_id)
        raise PoisonMessage(f"invalid_actor_role: {message.message_id[:4]}")

    stop = asyncio.Event()
    try:
        for message_id in ids:
            await sender.send(
                queue, Message(b'{"n": 1}', message_id, headers={CLIENT_HEADER: "shop"})
            )
        consumer = asyncio.create_task(sender.consume(queue, refuse, stop))
        for _ in range(200):
            if len(dead) == count:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # acked after the copy to `.dead` is confirmed
        stop.set()
        await asyncio.wait_for(consumer, 5)
    finally:
        await sender.close()
    return ids


async def dead_on_subscriber_queue(amqp_url: str, queue: str) -> str:
    """A bus subscriber's dead letter, as its consumer leaves it."""
    message_id = str(uuid.uuid4())
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.declare_queue(dead_letter_queue_name(queue), durable=True)
        await channel.default_exchange.publish(
            aio_pika.Message(
                b"{}",
                message_id=message_id,
                headers={DEAD_REASON_HEADER: "cannot apply", DEAD_AT_HEADER: NOW.isoformat()},
            ),
            routing_key=dead_letter_queue_name(queue),
        )
    return message_id


async def on_queue(amqp_url: str, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """The messages on `queue`, taken off it."""
    taken = []
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        amqp_queue = await channel.declare_queue(queue, passive=True)
        while (incoming := await amqp_queue.get(no_ack=True, fail=False)) is not None:
            taken.append(incoming)
    return taken


async def test_rabbitmq_dead_letters_wait_for_operators_and_are_replayed_or_discarded(
    pool: AsyncConnectionPool[Any], database_url: str, amqp_url: str, broker: list[str]
) -> None:
    workflow = f"test{uuid.uuid4().hex[:8]}"
    queue = command_queue_name(workflow)
    subscriber = subscriber_queue_name(f"test{uuid.uuid4().hex[:8]}")
    never_used = command_queue_name(f"test{uuid.uuid4().hex[:8]}")  # no `.dead` queue at all
    broker += [queue, subscriber]
    replayed, dropped = await poisoned(amqp_url, queue, 2)
    event = await dead_on_subscriber_queue(amqp_url, subscriber)
    desk = RabbitMqDeadLetterDesk(amqp_url, [queue, subscriber, never_used], pool)

    items = await AttentionReader(pool, [], desk).items(
        AttentionFilter(kind=AttentionKind.DEAD_LETTER)
    )
    # Oldest first: the subscriber's was dead-lettered at NOW, before the commands.
    assert [item.key for item in items] == [event, replayed, dropped]
    first = items[1]
    assert (first.workflow, first.source, first.aggregate_id) == (
        workflow,
        dead_letter_queue_name(queue),
        None,
    )
    assert first.reason == f"invalid_actor_role: {replayed[:4]}"
    assert timedelta(0) <= datetime.now(UTC) - first.since < timedelta(minutes=1)
    assert (items[0].workflow, items[0].reason, items[0].since) == (
        "messaging",
        "cannot apply",
        NOW,
    )

    async with api_of(pool, desk) as api:
        listed = await waiting(api)
        assert listed[replayed]["replayable"] and not listed[event]["replayable"]
        assert list(listed) == [event, replayed, dropped]
        assert await waiting(api) == listed  # browsing takes nothing, moves nothing

        answer = await api.post(f"/status/dead-letters/{replayed}/replay", json={"note": "fixed"})
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"id": replayed, "queue": queue}
        [back] = await on_queue(amqp_url, queue)
        assert (back.message_id, back.body, back.headers) == (
            replayed,
            b'{"n": 1}',
            {CLIENT_HEADER: "shop"},
        )
        assert list(await waiting(api)) == [event, dropped]

        assert (await api.post(f"/status/dead-letters/{dropped}/discard")).status_code == 200
        refused = await api.post(f"/status/dead-letters/{event}/replay")
        assert refused.status_code == 409 and refused.json()["code"] == "dead_letter_not_replayable"
        assert list(await waiting(api)) == [event]  # refused: still there, in its place
        assert (await api.post(f"/status/dead-letters/{event}/discard")).status_code == 200
        assert await waiting(api) == {}
        missing = await api.post(f"/status/dead-letters/{replayed}/replay")
        assert missing.status_code == 404 and missing.json()["code"] == "dead_letter_not_found"
        assert await on_queue(amqp_url, dead_letter_queue_name(queue)) == []

        page = await decisions(api, limit=500)
        mine = [(d["letter"], d["decision"], d["queue"], d["note"]) for d in page["items"]]
        assert [m for m in mine if m[0] in (replayed, dropped, event)] == [
            (event, "discard", dead_letter_queue_name(subscriber), None),
            (dropped, "discard", dead_letter_queue_name(queue), None),
            (replayed, "replay", dead_letter_queue_name(queue), "fixed"),
        ]
    assert recorded(database_url, replayed)[0][:4] == ("replay", "operator", "ops-alice", NOW)


async def test_rabbitmq_a_letter_the_broker_dead_lettered_waits_since_it_did(
    pool: AsyncConnectionPool[Any], amqp_url: str, broker: list[str]
) -> None:
    queue = command_queue_name(f"test{uuid.uuid4().hex[:8]}")
    broker.append(queue)
    sender = RabbitMqCommandQueue(amqp_url)
    try:
        await sender.send(queue, Message(b"{}", "rejected-1"))
    finally:
        await sender.close()
    connection = await aio_pika.connect(amqp_url)
    async with connection:  # rejected without the platform's consumer: `x-death` alone
        channel = await connection.channel()
        amqp_queue = await channel.declare_queue(queue, passive=True)
        incoming = await amqp_queue.get(no_ack=False)
        await incoming.reject(requeue=False)
    desk = RabbitMqDeadLetterDesk(amqp_url, [queue], pool)
    for _ in range(100):
        if letters := await desk.letters():
            break
        await asyncio.sleep(0.05)
    [letter] = letters
    assert (letter.key, letter.reason) == ("rejected-1", "broker: rejected")
    assert timedelta(0) <= datetime.now(UTC) - letter.dead_at < timedelta(minutes=1)
    assert (await desk.letters())[0].dead_at == letter.dead_at  # the broker's time: stable


async def test_a_broker_out_of_reach_leaves_the_rest_of_the_attention_list(
    pool: AsyncConnectionPool[Any], caplog: pytest.LogCaptureFixture
) -> None:
    desk = RabbitMqDeadLetterDesk("amqp://guest:guest@127.0.0.1:1/", ["q"], pool)
    with pytest.raises(DeadLettersUnavailable):
        await desk.letters()
    listed = await AttentionReader(pool, [], desk).items()  # the set-aside items still
    assert [item for item in listed if item.kind is AttentionKind.DEAD_LETTER] == []
    assert "dead letters left out" in caplog.text


def test_the_desk_is_chosen_with_the_messaging_backend() -> None:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool("postgresql://unused/unused", open=False)
    assert isinstance(build_dead_letter_desk(pool, None, [], []), PostgresDeadLetterDesk)
    rabbit = build_dead_letter_desk(pool, "amqp://guest:guest@127.0.0.1/", ["q"], ["poller"])
    assert isinstance(rabbit, RabbitMqDeadLetterDesk)
    assert rabbit.queues == ("q", subscriber_queue_name("poller"))
