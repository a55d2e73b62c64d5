"""FastAPI dependencies as `Annotated` aliases: routers ask for what they use.

Each answers from the `ApiServices` the app's lifespan stored on `app.state`. They are
`async` on purpose: a plain function would cost a thread-pool hop on every request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from starlette.applications import Starlette

from api.services import (
    ApiServices,
    BillingServices,
    LendingServices,
    OrdersServices,
    ReimbursementsServices,
    SmsServices,
)
from projections.pagination import DEFAULT_LIMIT, MAX_LIMIT

T = TypeVar("T")


def services_of(app: Starlette) -> ApiServices | None:
    """What the lifespan handed over; `None` before startup (or after shutdown)."""
    services: ApiServices | None = getattr(app.state, "services", None)
    return services


async def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


def _workflow(
    name: str, served: Callable[[ApiServices], T | None]
) -> Callable[[Request], Awaitable[T]]:
    """A dependency answering one workflow's services, if this process serves it."""

    async def get(request: Request) -> T:
        services = served(request.app.state.services)
        if services is None:
            raise LookupError(f"the {name} workflow is not open in this process")
        return services

    return get


Services = Annotated[ApiServices, Depends(_services)]
# Who the route's commands are recorded as (the caller's token).
Sms = Annotated[SmsServices, Depends(_workflow("sms", lambda s: s.sms))]
Orders = Annotated[OrdersServices, Depends(_workflow("orders", lambda s: s.orders))]
Billing = Annotated[BillingServices, Depends(_workflow("billing", lambda s: s.billing))]
Lending = Annotated[LendingServices, Depends(_workflow("lending", lambda s: s.lending))]
Reimbursements = Annotated[
    ReimbursementsServices, Depends(_workflow("reimbursements", lambda s: s.reimbursements))
]

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size (max 500).")]
Cursor = Annotated[str | None, Query(description="Opaque `next_cursor` from the previous page.")]
DEFAULT_PAGE_SIZE = DEFAULT_LIMIT
