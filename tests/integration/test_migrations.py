"""The platform's tables under Alembic, on a real PostgreSQL: a fresh database migrates to
the head, an installation the start-up code made before migrations is adopted with its
rows, processes refuse a schema that is not their code's, and migrating is idempotent and
safe from several processes at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from alembic import command as alembic
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from adapters.migrations import (
    MIGRATE_COMMAND,
    VERSION_TABLE,
    SchemaAhead,
    SchemaBehind,
    head_revisions,
    migrate,
    schema_state_of,
)
from adapters.migrations.revisions import alembic_config
from adapters.postgres import SCHEMA_LOCK_KEY
from adapters.status import work_backlog
from adapters.work import WorkStore
from domain.access import Actor
from domain.sms.commands import SendSms
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from ledgerflow.workflows.lending import LendingWorkflow
from ledgerflow.workflows.sms import SmsWorkflow
from tests.databases import empty_database
from tests.harness import eventually
from tests.integration.previous_schema import OLDER_WORK, PREVIOUS, create_previous_schema

# Who the tests' commands are recorded as, where it does not matter.
ACTOR = Actor.system("tests")

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
Catalog = dict[str, Any]


def _catalog(url: str) -> Catalog:
    """Every table of the platform's (the event store's aside) with its columns and
    indexes, as PostgreSQL describes them."""
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default"
            " FROM information_schema.columns WHERE table_schema = 'public'"
        ).fetchall()
        indexes = conn.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
        ).fetchall()
    catalog: Catalog = {}
    for table, column, *description in columns:
        catalog.setdefault(table, {"columns": {}, "indexes": {}})["columns"][column] = description
    for table, index, definition in indexes:
        catalog[table]["indexes"][index] = definition
    return {name: tables for name, tables in catalog.items() if not _event_store(name)}


def _event_store(table: str) -> bool:
    return table.endswith(("_events", "_tracking"))


def _rows(url: str, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


def _stored(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {row[0] for row in conn.execute(f"SELECT version_num FROM {VERSION_TABLE}")}


@pytest.fixture(scope="module")
def head_catalog(server_url: str) -> Catalog:
    """The tables of a database migrated from nothing: what every migrated one must have."""
    with empty_database(server_url) as url:
        migrate(url)
        return _catalog(url)


def _ledgerflow(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ledgerflow.cli", *args],
        env={**os.environ, "DATABASE_URL": url, "LEDGERFLOW_LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )


# (a) A fresh database ----------------------------------------------------------------


def test_a_fresh_database_migrates_to_the_head_and_the_platform_opens_on_it(
    empty_database_url: str,
) -> None:
    migrate(empty_database_url)
    assert _stored(empty_database_url) == head_revisions()

    async def use_every_table_set() -> None:
        async with platform_session(Settings(database_url=empty_database_url)) as platform:
            for follower in platform.projections():
                await follower.catch_up()
            assert await work_backlog(platform.pool, platform.clock.now()) == []

    asyncio.run(use_every_table_set())


# (b) An installation from before migrations --------------------------------------------


def _previous_installation(url: str) -> tuple[uuid.UUID, list[str]]:
    """The schema as the previous start-up code made it, and a row in its tables; answers
    the id of an SMS in the read model and the tables written to."""
    create_previous_schema(url)
    sms_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sms_view (id, message_id, phone_number, text, status, requested_at,"
            " updated_at, version) VALUES (%s, 'before', '+254712345678', 'hi', 'sent',"
            " %s, %s, 2)",
            (sms_id, T0, T0),
        )
        conn.execute(
            "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt, due_at,"
            " first_due_at) VALUES (%s, 'sms.send', %s, 2, %s, %s)",
            (uuid.uuid4(), sms_id, T0, T0 - timedelta(minutes=1)),
        )
        conn.execute(
            "INSERT INTO ledgerflow_positions (follower, upstream, position)"
            " VALUES ('old_view', 'sms', 41)"
        )
        conn.execute(
            "INSERT INTO ledgerflow_queue_messages (queue, message_id, body)"
            " VALUES ('sms.commands', 'm-1', '\\x7b7d')"
        )
        conn.execute("INSERT INTO ledgerflow_clock (offset_seconds) VALUES (3600)")
        conn.execute(
            "INSERT INTO ledgerflow_stream_positions (stream, position) VALUES ('reports', 7)"
        )
        conn.execute(
            "INSERT INTO billing_runs (id, period, trigger, started_at, selected)"
            " VALUES (%s, '2026-11', 'schedule', %s, 12)",
            (uuid.uuid4(), T0),
        )
    tables = [
        "sms_view",
        "ledgerflow_work",
        "ledgerflow_positions",
        "ledgerflow_queue_messages",
        "ledgerflow_clock",
        "ledgerflow_stream_positions",
        "billing_runs",
    ]
    return sms_id, tables


def test_an_installation_from_before_migrations_is_adopted_with_its_rows(
    empty_database_url: str, head_catalog: Catalog
) -> None:
    url = empty_database_url
    sms_id, tables = _previous_installation(url)
    before = _rows(url, tables)

    migrate(url)

    assert _stored(url) == head_revisions()
    after = _rows(url, tables)
    # 0005 gave the SMS an owner: none, for one from before (operators' and auditors').
    assert [row.pop("client") for row in after["sms_view"]] == [None]
    assert after == before
    assert _catalog(url) == head_catalog

    async def send_and_list() -> set[str]:
        settings = Settings(database_url=url)
        async with platform_session(settings, only={"sms"}) as platform:
            sms = platform.get(SmsWorkflow)
            await sms.service.send(
                SendSms(message_id="after", phone_number="+254712345678", text="hello"),
                ACTOR,
            )
            for follower in platform.projections():
                await follower.catch_up()
            page = await sms.queries.list(status=None, limit=10, cursor=None)
        return {row.message_id for row in page.items}

    assert asyncio.run(send_and_list()) == {"before", "after"}
    assert sms_id in {row["id"] for row in _rows(url, ["sms_view"])["sms_view"]}


def test_an_older_work_table_gets_the_columns_and_indexes_of_today(
    empty_database_url: str, head_catalog: Catalog
) -> None:
    """A release older still: `last_attempt` in place of a retry budget, no
    `first_due_at`; the first revision makes the table what it is now, rows kept."""
    url = empty_database_url
    create_previous_schema(url, (OLDER_WORK, *PREVIOUS[1:]))
    work_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ledgerflow_work (id, kind, aggregate_id, next_attempt, last_attempt,"
            " due_at) VALUES (%s, 'test.kind', %s, 1, 5, %s)",
            (work_id, work_id, T0),
        )

    migrate(url)

    assert _catalog(url)["ledgerflow_work"] == head_catalog["ledgerflow_work"]

    async def lease() -> list[Any]:
        async with AsyncConnectionPool(url, open=False, kwargs={"autocommit": True}) as pool:
            store = WorkStore(pool)
            leased = await store.lease(["test.kind"], "owner", T0, timedelta(seconds=10), 10)
            await store.close()
            return leased

    [leased] = asyncio.run(lease())
    assert leased.id == work_id
    assert leased.first_due_at == T0  # no `first_due_at`: its budget runs from `due_at`


# (c) Processes refuse a schema that is not their code's ---------------------------------


def test_the_platform_refuses_a_database_that_is_not_migrated(empty_database_url: str) -> None:
    with pytest.raises(SchemaBehind, match=f"`{MIGRATE_COMMAND}`"):
        asyncio.run(_open(empty_database_url))
    # An installation from before migrations has the tables, but no revision yet.
    create_previous_schema(empty_database_url)
    with pytest.raises(SchemaBehind, match=f"`{MIGRATE_COMMAND}`"):
        asyncio.run(_open(empty_database_url))


@pytest.mark.parametrize("command", [["api", "--port", "0"], ["worker", "sms"]])
def test_a_process_refuses_to_start_and_names_the_command_to_run(
    empty_database_url: str, command: list[str]
) -> None:
    done = _ledgerflow(empty_database_url, *command)
    assert done.returncode == 1
    assert f"`{MIGRATE_COMMAND}`" in done.stderr, done.stderr


def test_a_database_a_newer_release_migrated_is_refused_with_its_own_message(
    fresh_database_url: str,
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    with pytest.raises(SchemaAhead, match="newer release"):
        asyncio.run(_open(fresh_database_url))
    with pytest.raises(SchemaAhead):
        migrate(fresh_database_url)  # nothing this release could do
    for command in (["db", "migrate"], ["worker", "sms"]):
        done = _ledgerflow(fresh_database_url, *command)
        assert done.returncode == 1 and "9999" in done.stderr, done.stderr
        assert MIGRATE_COMMAND not in done.stderr


async def _open(url: str) -> None:
    async with platform_session(Settings(database_url=url), only={"sms"}):
        pass


# (d) Migrating again does nothing -----------------------------------------------------


def test_migrating_twice_changes_nothing(empty_database_url: str) -> None:
    url = empty_database_url
    [head] = head_revisions()
    status = _ledgerflow(url, "db", "status")
    assert status.returncode == 1 and "database: not migrated" in status.stdout
    pending = schema_state_of(url).pending  # every revision, the head last
    assert pending[-1] == head and f"pending: {', '.join(pending)}\n" in status.stdout

    first = _ledgerflow(url, "db", "migrate")
    assert first.returncode == 0, first.stderr
    assert f"database schema at {head}" in first.stdout
    once, rows = _catalog(url), _rows(url, ["ledgerflow_schema_version"])

    again = _ledgerflow(url, "db", "migrate")
    assert again.returncode == 0, again.stderr
    assert _catalog(url) == once
    assert _rows(url, ["ledgerflow_schema_version"]) == rows
    status = _ledgerflow(url, "db", "status")
    assert status.returncode == 0 and f"database: {head}" in status.stdout
    assert schema_state_of(url).pending == []


# (e) Several at once ---------------------------------------------------------------------


def test_migrations_started_at_once_all_succeed(
    empty_database_url: str, head_catalog: Catalog
) -> None:
    """Three `ledgerflow db migrate` processes let go at the same moment: the schema
    lock is held here until all three wait for it. One migrates; the others then find
    the database at the head."""
    url = empty_database_url
    with psycopg.connect(url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "ledgerflow.cli", "db", "migrate"],
                env={**os.environ, "DATABASE_URL": url, "LEDGERFLOW_LOG_LEVEL": "WARNING"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        try:
            eventually(lambda: _waiting_for_the_lock(holder) == 3, timeout=60)
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], results
    assert _stored(url) == head_revisions()
    assert _catalog(url) == head_catalog


def _waiting_for_the_lock(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND objid = %s AND database = (SELECT oid FROM pg_database"
        " WHERE datname = current_database())",
        (SCHEMA_LOCK_KEY,),
    ).fetchone()
    return int(row[0]) if row else 0


# (f) Revisions after the first, each from the one before -------------------------------


def test_loan_applications_from_before_the_attempts_columns_show_no_failed_attempts(
    empty_database_url: str, head_catalog: Catalog
) -> None:
    url = empty_database_url
    alembic.upgrade(alembic_config(url), "0002")  # the revision before the columns
    application_id = uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO lending_applications (id, first_name, last_name, amount, currency,"
            " term_months, email, status, submitted_at, updated_at, version)"
            " VALUES (%s, 'Amina', 'Okafor', 15000, 'EUR', 36, 'a@example.com', 'pending',"
            " %s, %s, 1)",
            (application_id, T0, T0),
        )

    migrate(url)

    assert _catalog(url)["lending_applications"] == head_catalog["lending_applications"]

    async def listed() -> list[tuple[uuid.UUID, int, str | None]]:
        async with platform_session(Settings(database_url=url), only={"lending"}) as platform:
            page = await platform.get(LendingWorkflow).queries.list(
                status=None, limit=10, cursor=None
            )
        return [(row.id, row.attempts, row.last_error) for row in page.items]

    assert asyncio.run(listed()) == [(application_id, 0, None)]
