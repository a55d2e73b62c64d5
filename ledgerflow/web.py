"""The HTTP API of this process: every workflow's routers, served by the platform opened in
the app's lifespan, to the callers whose tokens the settings' issuer signed.

Tests pass what `open_platform` takes (`clock`, `only`, `ports`); a workflow left out by
`only` keeps its routes, which answer 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import timedelta
from typing import TypeVar

from fastapi import APIRouter, FastAPI

from adapters.attention import AttentionReader
from adapters.idempotency import IdempotencyStore
from adapters.messaging.factory import build_dead_letter_desk
from adapters.rate_limiter import RateLimiter, open_rate_limiter
from adapters.read_positions import ReadPositions
from adapters.set_aside.desk import SetAsideDesk
from adapters.status import StatusReader
from api import banks as banks_api
from api import billing as billing_api
from api import billing_reference as billing_reference_api
from api import lending as lending_api
from api import orders as orders_api
from api import reimbursements as reimbursements_api
from api import sms as sms_api
from api.app import ApiConfig
from api.app import create_app as create_api
from api.metrics import RequestMetrics
from api.services import ApiServices, WorkflowServices
from domain.clock import Clock
from ledgerflow.authentication import trust
from ledgerflow.bootstrap import Platform, platform_session
from ledgerflow.ports import Ports
from ledgerflow.settings import Settings, get_settings
from ledgerflow.workflow import Workflow
from ledgerflow.workflows import WORKFLOWS
from ledgerflow.workflows.billing import BillingWorkflow
from ledgerflow.workflows.lending import LendingWorkflow
from ledgerflow.workflows.orders import OrdersWorkflow
from ledgerflow.workflows.reimbursements import ReimbursementsWorkflow
from ledgerflow.workflows.sms import SmsWorkflow
from projections.overview import OverviewReader

W = TypeVar("W", bound=Workflow)

# The busiest endpoint's router, matched before every other route.
FIRST_ROUTERS: Sequence[APIRouter] = [orders_api.placement_router]
# Each workflow's routes (workers never import the API: this module is the API's wiring).
ROUTERS: Mapping[str, Sequence[APIRouter]] = {
    SmsWorkflow.name: [sms_api.router],
    OrdersWorkflow.name: [orders_api.router],
    BillingWorkflow.name: [billing_api.router, billing_reference_api.router],
    LendingWorkflow.name: [lending_api.router],
    ReimbursementsWorkflow.name: [
        reimbursements_api.router,
        reimbursements_api.members,
        banks_api.router,
        banks_api.members,
    ],
}


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    only: Collection[str] | None = None,
    ports: Ports | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    trusted = trust(settings)
    limits = settings.abuse_limits

    @contextlib.asynccontextmanager
    async def open_services() -> AsyncIterator[ApiServices]:
        async with (
            platform_session(settings, clock=clock, only=only, ports=ports) as platform,
            open_rate_limiter(
                limits.redis_url, limits.rate_limits, limits.rate_limit_lease_share
            ) as limiter,
        ):
            yield api_services(platform, limiter, settings)

    app = create_api(
        ApiConfig(
            opentelemetry=settings.opentelemetry,
            max_body_bytes=limits.max_body_bytes,
            test_mode=settings.test_mode,
            console_secret=(
                settings.console_secret.get_secret_value().encode()
                if settings.console_secret
                else None
            ),
        ),
        routers=[
            *FIRST_ROUTERS,
            *(router for workflow in WORKFLOWS for router in ROUTERS[workflow.name]),
        ],
        open_services=open_services,
        verifier=trusted.verifier,
        jwks=trusted.jwks,
    )
    if settings.metrics_port is not None:  # outermost: 401s and 413s are counted too
        app.add_middleware(RequestMetrics)
    return app


def api_services(
    platform: Platform, rate_limiter: RateLimiter | None = None, settings: Settings | None = None
) -> ApiServices:
    """What the routes use, from the workflows open in `platform`."""
    settings = settings or platform.settings
    sms = _opened(platform, SmsWorkflow)
    orders = _opened(platform, OrdersWorkflow)
    billing = _opened(platform, BillingWorkflow)
    lending = _opened(platform, LendingWorkflow)
    reimbursements = _opened(platform, ReimbursementsWorkflow)
    dead_letters = build_dead_letter_desk(
        platform.pool,
        settings.amqp_url,
        [queue for workflow in WORKFLOWS for queue in workflow.command_queues],
        [name for workflow in WORKFLOWS for name in workflow.subscribers],
    )
    return ApiServices(
        clock=platform.clock,
        status=StatusReader(
            platform.pool, timedelta(seconds=platform.settings.process_heartbeat_seconds)
        ),
        set_aside=SetAsideDesk(platform.pool),
        sms=WorkflowServices(sms.service, sms.queries) if sms else None,
        orders=WorkflowServices(orders.service, orders.queries) if orders else None,
        billing=WorkflowServices(billing.service, billing.queries) if billing else None,
        lending=WorkflowServices(lending.service, lending.queries) if lending else None,
        reimbursements=(
            WorkflowServices(reimbursements.service, reimbursements.queries)
            if reimbursements
            else None
        ),
        rate_limiter=rate_limiter,
        idempotency=IdempotencyStore(
            platform.pool, lifetime=timedelta(hours=settings.idempotency_key_hours)
        ),
        positions=ReadPositions(
            platform.pool, timeout_seconds=settings.read_your_writes_timeout_seconds
        ),
        attention=AttentionReader(
            platform.pool,
            [rows for workflow in WORKFLOWS for rows in workflow.parked],
            dead_letters,
        ),
        overview=OverviewReader(platform.pool),
        dead_letters=dead_letters,
    )


def _opened(platform: Platform, workflow_class: type[W]) -> W | None:
    workflow = platform.workflows.get(workflow_class.name)
    return workflow if isinstance(workflow, workflow_class) else None
