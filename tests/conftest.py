"""Fixtures shared by every test layer.

`database_url` is a fresh database created for this test run on `DATABASE_URL`'s server
(or on an embedded PostgreSQL when `DATABASE_URL` is not set), migrated as
`ledgerflow db migrate` does, and dropped afterwards. `issuer` signs the tokens every call
to the API carries (tests/issuer.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest

from adapters.migrations import migrate
from tests.databases import empty_database
from tests.issuer import TokenIssuer
from tests.services import amqp_url_or_fail, redis_url_or_fail, service_missing


@pytest.fixture(scope="session")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> TokenIssuer:
    return TokenIssuer.create(tmp_path_factory.mktemp("issuer"))


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
    with empty_database(server_url) as url:
        migrate(url)
        yield url


@pytest.fixture()
def fresh_database_url(server_url: str) -> Iterator[str]:
    """A migrated database of its own for one test (for tests that must start from
    nothing)."""
    with empty_database(server_url) as url:
        migrate(url)
        yield url


@pytest.fixture()
def empty_database_url(server_url: str) -> Iterator[str]:
    """A database of its own with none of the platform's tables (never migrated)."""
    with empty_database(server_url) as url:
        yield url


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return amqp_url_or_fail()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return redis_url_or_fail()
