"""PostgreSQL plumbing shared by every workflow: URLs, database creation, pools."""

from __future__ import annotations

import contextlib
import select
import time
import weakref
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import sql
from psycopg_pool import AsyncConnectionPool

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, dbname: str) -> str:
    """`url` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{dbname}"))


class PoolCheck:
    """An async pool's `check`: a connection the server closed (a restart, a failover, a
    terminated backend) is replaced before it is handed out, rather than failing the
    request that draws it; a round trip proves it only when it may have been lost.

    The pool's own `check_connection` makes a round trip on every checkout, which on a
    worker drawing hundreds of connections a second costs more client CPU than the
    statements some of them carry. A server closing a connection says so on its socket
    (an error message, then the end of the stream): a connection drawn within the last
    `recent_seconds` whose socket has nothing to read is handed out at once; any other
    is checked by the pool's round trip.
    """

    def __init__(self, recent_seconds: float = 1.0) -> None:
        self.recent_seconds = recent_seconds
        self._drawn: weakref.WeakKeyDictionary[psycopg.AsyncConnection[Any], float] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        now = time.monotonic()
        drawn = self._drawn.get(conn)
        if drawn is None or now - drawn >= self.recent_seconds or _readable(conn):
            await AsyncConnectionPool.check_connection(conn)
        self._drawn[conn] = now


def _readable(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server sent something on an idle connection (its closing, mostly)."""
    try:
        ready, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.OperationalError):  # closed here already
        return True
    return bool(ready)


def create_database(server_url: str, dbname: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def analyst_role(dbname: str) -> str:
    """The role that reads the database's analytics views (made by migration 0002, which
    names it the same way): roles are cluster-wide, so it carries the database's name."""
    return f"{dbname[:55]}_analyst"


def drop_database(server_url: str, dbname: str) -> None:
    """Drop the database, then its analyst role, which nothing else refers to once the
    database is gone (roles outlive databases)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(analyst_role(dbname))))


def eventsourcing_env(url: str, *, pool_size: int, max_overflow: int) -> dict[str, str]:
    """The `eventsourcing` library's PostgreSQL settings for a `postgresql://` URL.

    The host may be a unix socket directory given as `?host=/path` (the embedded server).
    """
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    host = unquote(query.get("host", parts.hostname or "127.0.0.1"))
    return {
        "PERSISTENCE_MODULE": "adapters.eventstore:SharedPostgresFactory",
        "POSTGRES_DBNAME": unquote(parts.path.lstrip("/") or "postgres"),
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(parts.port or query.get("port", 5432)),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(max_overflow),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "5",
        # No round trip to test each connection taken from the pool (one per group
        # commit): the library retries a statement on a broken connection, which the
        # pool then replaces.
        "POSTGRES_PRE_PING": "n",
        # The library waits 30 s for a connection and retries ten times: a database that
        # is gone would hold a request for minutes. Fail fast; callers answer 5xx.
        "POSTGRES_CONNECT_TIMEOUT": "2",
    }


# Concurrent `CREATE ... IF NOT EXISTS` from several processes can fail in PostgreSQL's
# catalogs ("tuple concurrently updated"): the event store creates its tables, and the
# migrations (adapters/migrations) change ours, under this lock.
SCHEMA_LOCK_KEY = 0x1ED6E7F1


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold the schema lock on a connection of its own while the block creates tables."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (SCHEMA_LOCK_KEY,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (SCHEMA_LOCK_KEY,))
