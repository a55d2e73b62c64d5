"""The messaging tables: the command queue, the dead letters, the bus log and its
subscribers' positions."""

from __future__ import annotations

import psycopg

from adapters.postgres import create_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS ledgerflow_queue_messages (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    delivery_count integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ledgerflow_queue_messages_ready
    ON ledgerflow_queue_messages (queue, available_at, id);

CREATE TABLE IF NOT EXISTS ledgerflow_dead_letters (
    id bigserial PRIMARY KEY,
    queue text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    routing_key text NOT NULL DEFAULT '',
    reason text NOT NULL,
    dead_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ledgerflow_dead_letters_queue ON ledgerflow_dead_letters (queue, id);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_messages (
    position bigserial PRIMARY KEY,
    routing_key text NOT NULL,
    message_id text NOT NULL,
    correlation_id text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS ledgerflow_bus_subscriptions (
    subscriber text PRIMARY KEY,
    position bigint NOT NULL DEFAULT 0
);
"""


async def ensure_schema(database_url: str) -> None:
    """Create the messaging tables if missing; safe to call from many processes at once."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await create_schema(conn, SCHEMA)
