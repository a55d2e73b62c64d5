"""The analysts' interface on a real PostgreSQL: a login role granted the database's
analyst role reads every `analytics` view and runs every query docs/read-models.md
shows, and writes nothing, and reads neither the event store nor the platform's own
tables nor the read models' tables behind the views."""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from adapters.migrations import migrate
from adapters.postgres import analyst_role
from ledgerflow.bootstrap import platform_session
from ledgerflow.settings import Settings
from tests.databases import empty_database

READ_MODELS_DOC = Path(__file__).resolve().parents[2] / "docs" / "read-models.md"
SQL_BLOCK = re.compile(r"^```sql\n(.*?)^```", re.MULTILINE | re.DOTALL)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ORDER_ID = uuid.uuid4()
SMS_ID = uuid.uuid4()


def _dbname(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _as(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


def _seed(url: str) -> None:
    """The platform's every table (its event stores made as it opens), and a row in two
    read models, written as the platform's own role."""

    async def open_once() -> None:
        async with platform_session(Settings(database_url=url)):
            pass

    asyncio.run(open_once())
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO sms_view (id, message_id, phone_number, text, status, attempts,"
            " provider_message_id, requested_at, finished_at, updated_at, version, client)"
            " VALUES (%s, 'order-8812', '+254712345678', 'Paid, thanks', 'sent', 2, 'SM1',"
            " %s, %s, %s, 3, 'shop-backend')",
            (SMS_ID, T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=1)),
        )
        conn.execute(
            "INSERT INTO orders_view (id, type, side, instrument, limit_price, quantity,"
            " status, attempts, exchange_order_id, placed_at, filled_quantity, notional,"
            " accepted_at, updated_at, version) VALUES (%s, 'limit', 'buy', 'US0378331005',"
            " 10.50, 10, 'partially_filled', 1, 'EX1', %s, 4, 41.00, %s, %s, 4)",
            (ORDER_ID, T0 + timedelta(seconds=1), T0, T0 + timedelta(seconds=2)),
        )


@pytest.fixture(scope="module")
def owner_url(server_url: str) -> Iterator[str]:
    with empty_database(server_url) as url:
        migrate(url)
        _seed(url)
        yield url


@pytest.fixture(scope="module")
def analyst_url(owner_url: str) -> Iterator[str]:
    """A person's login role, granted the database's analyst role as docs/read-models.md
    tells an operator to."""
    login, password = f"analyst_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {login} LOGIN PASSWORD '{password}'")
        conn.execute(f'GRANT "{analyst_role(_dbname(owner_url))}" TO {login}')
    try:
        yield _as(owner_url, login, password)
    finally:
        with psycopg.connect(owner_url, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (login,),
            )
            conn.execute(f"DROP ROLE {login}")


def _names(url: str, query: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute(query)]


def _refused(url: str, statement: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            return True
    return False


def test_each_database_has_an_analyst_role_that_cannot_log_in(owner_url: str) -> None:
    role = analyst_role(_dbname(owner_url))
    with psycopg.connect(owner_url) as conn:
        found = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = %s",
            (role,),
        ).fetchone()
    assert found == (False, False, False, False)


def test_an_analyst_reads_every_view(owner_url: str, analyst_url: str) -> None:
    views = _names(
        owner_url,
        "SELECT table_name FROM information_schema.views WHERE table_schema = 'analytics'",
    )
    assert {"sms_messages", "orders", "invoices", "charge_attempts", "billing_runs"} <= set(views)
    assert {"billing_customers", "loan_applications", "reimbursements", "banks"} <= set(views)
    with psycopg.connect(analyst_url) as conn:
        for view in views:
            conn.execute(f"SELECT * FROM analytics.{view} LIMIT 1").fetchall()
        order = conn.execute(
            "SELECT fill_ratio, average_price, status FROM analytics.orders WHERE id = %s",
            (ORDER_ID,),
        ).fetchone()
        sms = conn.execute(
            "SELECT status, sent_at, client FROM analytics.sms_messages WHERE id = %s",
            (SMS_ID,),
        ).fetchone()
    assert order is not None and (str(order[0]), str(order[1]), order[2]) == (
        "0.4000",
        "10.2500",
        "partially_filled",
    )
    assert sms == ("sent", T0 + timedelta(seconds=1), "shop-backend")


def test_each_view_of_what_a_client_creates_names_the_client(owner_url: str) -> None:
    owned = _names(
        owner_url,
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = 'analytics' AND column_name = 'client'",
    )
    assert set(owned) == {"sms_messages", "orders", "loan_applications"}


def test_the_views_leave_personal_data_out(owner_url: str) -> None:
    columns = set(
        _names(
            owner_url,
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'analytics'",
        )
    )
    personal = {"phone_number", "phone", "text", "first_name", "last_name", "email"}
    assert not columns & personal
    assert "description" not in columns


def test_an_analyst_runs_every_query_the_docs_show(analyst_url: str) -> None:
    queries = [
        statement.strip()
        for block in SQL_BLOCK.findall(READ_MODELS_DOC.read_text())
        for statement in block.split(";")
        if statement.strip()
        and not all(line.strip().startswith("--") for line in statement.strip().splitlines())
    ]
    assert len(queries) >= 15
    with psycopg.connect(analyst_url) as conn:
        for query in queries:
            conn.execute(query).fetchall()


def test_an_analyst_writes_nothing(owner_url: str, analyst_url: str) -> None:
    writes = [
        "INSERT INTO analytics.orders (id) VALUES (gen_random_uuid())",
        f"UPDATE analytics.orders SET status = 'filled' WHERE id = '{ORDER_ID}'",
        f"DELETE FROM analytics.sms_messages WHERE id = '{SMS_ID}'",
        f"UPDATE sms_view SET status = 'failed' WHERE id = '{SMS_ID}'",
        "DELETE FROM ledgerflow_work",
        "CREATE VIEW analytics.mine AS SELECT 1 AS one",
        "CREATE TABLE public.mine (id int)",
        "CREATE SCHEMA mine",
    ]
    allowed = [statement for statement in writes if not _refused(analyst_url, statement)]
    assert not allowed, allowed
    with psycopg.connect(owner_url) as conn:
        status = conn.execute("SELECT status FROM orders_view WHERE id = %s", (ORDER_ID,))
        assert status.fetchone() == ("partially_filled",)


def test_an_analyst_reads_neither_the_event_store_nor_the_platforms_tables(
    owner_url: str, analyst_url: str
) -> None:
    tables = _names(
        owner_url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )
    events = [table for table in tables if table.endswith("_events")]
    assert {"sms_events", "orders_events"} <= set(events)
    internal = [table for table in tables if table.startswith("ledgerflow_")]
    assert {"ledgerflow_work", "ledgerflow_positions", "ledgerflow_queue_messages"} <= set(internal)
    behind_the_views = ["sms_view", "orders_view", "billing_invoices", "lending_applications"]
    readable = [
        table
        for table in [*events, *internal, *behind_the_views]
        if not _refused(analyst_url, f"SELECT * FROM {table} LIMIT 1")
    ]
    assert not readable, readable
