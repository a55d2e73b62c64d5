"""Finding the services the tests need: PostgreSQL (a fresh database per run), RabbitMQ
and Redis.

Under `CI=true` a missing service fails the test with a message naming it; elsewhere it
skips, so a laptop without RabbitMQ still runs the rest.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def service_missing(name: str, detail: str) -> NoReturn:
    unavailable(f"{name} is not reachable ({detail}); start it or set its URL")


def unavailable(message: str) -> NoReturn:
    """Fail under `CI=true` (the message names what is missing), skip elsewhere."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def port_open(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, 2):
            return True
    except OSError:
        return False


def amqp_url_or_fail() -> str:
    url = os.environ.get("AMQP_URL", DEFAULT_AMQP_URL)
    if not port_open(url, 5672):
        service_missing("RabbitMQ", url)
    return url


def redis_url_or_fail() -> str:
    url = os.environ.get("LEDGERFLOW_REDIS_URL", DEFAULT_REDIS_URL)
    if not port_open(url, 6379):
        service_missing("Redis", url)
    return url
