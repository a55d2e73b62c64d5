"""The API's own routers on the workflows' real application services over the library's
in-memory event store: for tests of what the API answers (no database, no read models;
list routes are not served). `TestPrincipal` stands in for the authentication middleware."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from fastapi import FastAPI

from adapters.rate_limiter import RateLimiter
from api.app import ApiConfig, create_app
from api.services import ApiServices, WorkflowServices
from domain.clock import ManualClock
from ledgerflow.web import FIRST_ROUTERS, ROUTERS
from ledgerflow.workflows import WORKFLOWS
from processes.lending.application import LendingApplication, LendingService
from processes.orders.application import OrdersApplication, OrdersService
from processes.reimbursements.application import ReimbursementsApplication, ReimbursementsService
from processes.sms.application import SmsApplication, SmsService
from tests.principals import TestPrincipal


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
    return create_app(config or ApiConfig(), routers, open_services, middleware=[TestPrincipal])


@contextlib.asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
