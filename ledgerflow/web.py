"""The HTTP API of this process: every workflow's routers, served by the platform opened in
the app's lifespan.

Tests pass what `open_platform` takes (`clock`, `only`, `options`); a workflow left out by
`only` keeps its routes, which answer 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, TypeVar

from fastapi import FastAPI

from adapters.status import StatusReader
from api.app import ApiConfig
from api.app import create_app as create_api
from api.services import ApiServices, WorkflowServices
from domain.clock import Clock
from ledgerflow.bootstrap import Platform, platform_session
from ledgerflow.settings import Settings, get_settings
from ledgerflow.workflow import Workflow
from ledgerflow.workflows import WORKFLOWS
from ledgerflow.workflows.billing import BillingWorkflow
from ledgerflow.workflows.lending import LendingWorkflow
from ledgerflow.workflows.orders import OrdersWorkflow
from ledgerflow.workflows.reimbursements import ReimbursementsWorkflow
from ledgerflow.workflows.sms import SmsWorkflow

W = TypeVar("W", bound=Workflow)


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    only: Collection[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def open_services() -> AsyncIterator[ApiServices]:
        async with platform_session(settings, clock=clock, only=only, options=options) as platform:
            yield api_services(platform)

    return create_api(
        ApiConfig(opentelemetry=settings.opentelemetry),
        routers=[router for workflow in WORKFLOWS for router in workflow.routers],
        open_services=open_services,
        middleware=[layer for workflow in WORKFLOWS for layer in workflow.asgi_middleware],
    )


def api_services(platform: Platform) -> ApiServices:
    """What the routes use, from the workflows open in `platform`."""
    sms = _opened(platform, SmsWorkflow)
    orders = _opened(platform, OrdersWorkflow)
    billing = _opened(platform, BillingWorkflow)
    lending = _opened(platform, LendingWorkflow)
    reimbursements = _opened(platform, ReimbursementsWorkflow)
    return ApiServices(
        clock=platform.clock,
        status=StatusReader(platform.pool),
        sms=WorkflowServices(sms.service, sms.queries) if sms else None,
        orders=WorkflowServices(orders.service, orders.queries) if orders else None,
        billing=WorkflowServices(billing.service, billing.queries) if billing else None,
        lending=WorkflowServices(lending.service, lending.queries) if lending else None,
        reimbursements=(
            WorkflowServices(reimbursements.service, reimbursements.queries)
            if reimbursements
            else None
        ),
    )


def _opened(platform: Platform, workflow_class: type[W]) -> W | None:
    workflow = platform.workflows.get(workflow_class.name)
    return workflow if isinstance(workflow, workflow_class) else None
