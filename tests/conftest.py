"""Fixtures shared by every test layer.

`database_url` is a fresh database created for this test run on `DATABASE_URL`'s server
(or on an embedded PostgreSQL when `DATABASE_URL` is not set) and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from adapters.postgres import create_database, drop_database, with_database
from tests.services import amqp_url_or_fail, redis_url_or_fail, service_missing


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("DATABASE_URL")
    if url:
        try:
            psycopg.connect(url, connect_timeout=3).close()
        except psycopg.OperationalError as error:
            service_missing("PostgreSQL", f"{url}: {error}")
        yield url
        return
    from ledgerflow.embedded_pg import EmbeddedPostgres

    with EmbeddedPostgres(os.path.join(".ledgerflow", "test-pg")) as embedded:
        yield embedded.url


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    name = f"ledgerflow_test_{uuid.uuid4().hex[:10]}"
    create_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture()
def fresh_database_url(server_url: str) -> Iterator[str]:
    """A database of its own for one test (for tests that must start from nothing)."""
    name = f"ledgerflow_test_{uuid.uuid4().hex[:10]}"
    create_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return amqp_url_or_fail()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_url_or_fail()
