"""Databases of their own for tests, on the server under test."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from adapters.postgres import create_database, drop_database, with_database


@contextlib.contextmanager
def empty_database(server_url: str) -> Iterator[str]:
    """A database with none of the platform's tables, dropped afterwards; yields its URL."""
    name = f"ledgerflow_test_{uuid.uuid4().hex[:10]}"
    create_database(server_url, name)
    try:
        yield with_database(server_url, name)
    finally:
        drop_database(server_url, name)
