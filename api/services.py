"""What the routes use, handed to the API by whoever opens the platform.

The API builds nothing itself: the composition root opens the platform and hands over an
`ApiServices` (see `api.app.create_app`). A process may serve only some workflows; a
workflow it does not serve is `None` here, and its routes answer 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from adapters.attention import AttentionReader
from adapters.idempotency import IdempotencyStore
from adapters.messaging.dead_letter_desk import DeadLetterDesk
from adapters.rate_limiter import RateLimiter
from adapters.read_positions import ReadPositions
from adapters.set_aside.desk import SetAsideDesk
from adapters.status import StatusReader
from domain.clock import Clock
from processes.billing.application import BillingService
from processes.lending.application import LendingService
from processes.orders.application import OrdersService
from processes.reimbursements.application import ReimbursementsService
from processes.sms.application import SmsService
from projections.billing import BillingQueries
from projections.lending import LendingQueries
from projections.orders import OrdersQueries
from projections.overview import OverviewReader
from projections.reimbursements import ReimbursementsQueries
from projections.sms import SmsQueries

S = TypeVar("S")
Q = TypeVar("Q")


@dataclass(frozen=True)
class WorkflowServices(Generic[S, Q]):
    """A workflow's application service (commands, current state from the events) and its
    read model's queries (lists)."""

    service: S
    queries: Q


SmsServices = WorkflowServices[SmsService, SmsQueries]
OrdersServices = WorkflowServices[OrdersService, OrdersQueries]
BillingServices = WorkflowServices[BillingService, BillingQueries]
LendingServices = WorkflowServices[LendingService, LendingQueries]
ReimbursementsServices = WorkflowServices[ReimbursementsService, ReimbursementsQueries]


@dataclass(frozen=True)
class ApiServices:
    clock: Clock
    status: StatusReader
    set_aside: SetAsideDesk
    sms: SmsServices | None = None
    orders: OrdersServices | None = None
    billing: BillingServices | None = None
    lending: LendingServices | None = None
    reimbursements: ReimbursementsServices | None = None
    # Per-client limits of the endpoints that name one (api/rate_limits.py); `None`: none.
    rate_limiter: RateLimiter | None = None
    # Creates' idempotency keys (api/idempotency.py); `None`: keys are not honoured.
    idempotency: IdempotencyStore | None = None
    # Read models' positions, awaited by lists (api/read_your_writes.py); `None`: no wait.
    positions: ReadPositions | None = None
    # What waits for operators, and each workflow's read model at a glance (the console).
    attention: AttentionReader | None = None
    overview: OverviewReader | None = None
    dead_letters: DeadLetterDesk | None = None  # the messaging backend's, and the decisions
