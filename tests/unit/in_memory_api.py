"""The API's own routers on the workflows' real application services over the library's
in-memory event store: for tests of what the API answers (no database, no read models;
list routes are not served), behind the real authentication middleware trusting a test
issuer: `as_client(name)` is the headers of a client's token."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from fastapi import FastAPI

from adapters.rate_limiter import RateLimiter
from api.app import ApiConfig, create_app
from api.services import ApiServices, WorkflowServices
from domain.access import Role, Scope
from domain.clock import ManualClock
from ledgerflow.authentication import trust
from ledgerflow.settings import Settings
from ledgerflow.web import FIRST_ROUTERS, ROUTERS
from ledgerflow.workflows import WORKFLOWS
from processes.lending.application import LendingApplication, LendingService
from processes.orders.application import OrdersApplication, OrdersService
from processes.reimbursements.application import ReimbursementsApplication, ReimbursementsService
from processes.sms.application import SmsApplication, SmsService
from tests.issuer import TokenIssuer

ISSUER = TokenIssuer.create(Path(tempfile.mkdtemp(prefix="ledgerflow-issuer-")))


def _saving(application: Application[Any]) -> Any:
    async def save(*aggregates: Aggregate) -> None:
        application.save(*aggregates)

    return save


def in_memory_services(rate_limiter: RateLimiter | None = None) -> ApiServices:
    clock = ManualClock()
    sms, orders = SmsApplication(), OrdersApplication()
    lending, reimbursements = LendingApplication(), ReimbursementsApplication()
    return ApiServices(
        clock=clock,
        status=None,  # no operations routes here
        set_aside=None,
        sms=WorkflowServices(SmsService(sms, _saving(sms), clock), None),
        orders=WorkflowServices(OrdersService(orders, _saving(orders), clock), None),
        lending=WorkflowServices(LendingService(lending, _saving(lending), clock), None),
        reimbursements=WorkflowServices(
            ReimbursementsService(reimbursements, _saving(reimbursements), clock),
            None,
        ),
        rate_limiter=rate_limiter,
    )


def in_memory_api(services: ApiServices, config: ApiConfig | None = None) -> FastAPI:
    @contextlib.asynccontextmanager
    async def open_services() -> AsyncIterator[ApiServices]:
        yield services

    routers = [*FIRST_ROUTERS, *(router for w in WORKFLOWS for router in ROUTERS[w.name])]
    trusted = trust(Settings(database_url="postgresql://unused/unused", **ISSUER.trusted))
    return create_app(config or ApiConfig(), routers, open_services, trusted.verifier)


def as_client(client: str) -> dict[str, str]:
    """The headers of `client`'s token, with every client scope."""
    return ISSUER.headers(Role.CLIENT, subject=client, scopes=[scope.value for scope in Scope])


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` that calls as an operator unless a request says otherwise."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers=ISSUER.headers(Role.OPERATOR)
        ) as client:
            yield client
