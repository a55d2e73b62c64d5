"""Choosing the messaging adapters: RabbitMQ when `AMQP_URL` is set, else PostgreSQL."""

from __future__ import annotations

from domain.messaging import CommandQueue, EventBus


def build_messaging(database_url: str, amqp_url: str | None) -> tuple[CommandQueue, EventBus]:
    """The `(CommandQueue, EventBus)` pair for this process (names: `domain.messaging`).

    Nothing connects until first use, so building is cheap and never fails on I/O.
    """
    if amqp_url:
        from adapters.messaging.rabbitmq import RabbitMqCommandQueue, RabbitMqEventBus

        return RabbitMqCommandQueue(amqp_url), RabbitMqEventBus(amqp_url)
    from adapters.messaging.postgres.command_queue import PostgresCommandQueue
    from adapters.messaging.postgres.event_bus import PostgresEventBus

    return PostgresCommandQueue(database_url), PostgresEventBus(database_url)
