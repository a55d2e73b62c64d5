"""The tests here run on asyncio's own event loop and on uvloop, the one the platform's
processes use: their transports differ (uvloop's are not `asyncio.Transport` subclasses).

pytest-asyncio asks this hook about every test below this directory, and only those."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import pytest
import uvloop


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
