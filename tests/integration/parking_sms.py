"""Fixtures for tests of what waits for an operator: an SMS provider simulator (its admin
API as the client) and settings whose SMS park within half a second of failing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from ledgerflow.settings import Settings
from simulators import sms_provider
from simulators.registry import running
from tests.issuer import TokenIssuer


@pytest.fixture(scope="module")
def simulator() -> Iterator[httpx.Client]:
    with running(sms_provider.create_app()) as url, httpx.Client(base_url=url) as client:
        yield client


@pytest.fixture(scope="module")
def settings(database_url: str, simulator: httpx.Client, issuer: TokenIssuer) -> Settings:
    return Settings(
        **issuer.trusted,
        database_url=database_url,
        sms_provider_url=str(simulator.base_url),
        retry_base_seconds=0.02,
        retry_cap_seconds=0.1,
        retry_budget_seconds=0.5,
        sms_retry_budget_seconds=0.5,
        outbound_timeout_seconds=1,
    )
