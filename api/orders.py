"""`/orders`: place an order, read it, list them, read its history.

`POST /orders` answers 201 once the order is durably recorded; its placement at the
exchange happens in the background (the work engine), so the exchange's latency and
failures never reach the client. Any internal error, the database down included,
answers 500 with exactly `{"message": "Internal server error while placing the order"}`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer
from pydantic.config import JsonDict
from starlette.exceptions import HTTPException

from api.access import allow, client_filter, reach
from api.audit import EventPublic
from api.deps import DEFAULT_PAGE_SIZE, Cursor, Limit, Orders
from api.errors import responses
from api.lean_route import LeanRoute
from api.pages import Page
from api.rate_limits import rate_limited
from domain.access import Principal, Role, Scope
from domain.errors import DomainError
from domain.orders.commands import OrderSide, OrderType, PlaceOrder
from domain.orders.errors import OrderNotFound

log = logging.getLogger(__name__)

PLACEMENT_FAILED: JsonDict = {"message": "Internal server error while placing the order"}


class PlacementRoute(LeanRoute):
    """The platform's busiest endpoint: lean (api/lean_route.py) when the request is
    well-formed. Any error that is not a client's (validation, a domain error with its
    own status) answers the contract's fixed 500 body, never a stack trace or a half
    answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            # Starlette's: FastAPI raises it for a body it cannot read (a client's error).
            except (HTTPException, RequestValidationError, DomainError):
                raise
            except Exception:
                log.exception("order placement failed")
                return JSONResponse(PLACEMENT_FAILED, status_code=500)

        return guarded


placement_router = APIRouter(prefix="/orders", tags=["orders"], route_class=PlacementRoute)
router = APIRouter(prefix="/orders", tags=["orders"])

# Clients place and read their own orders; operators and auditors read everyone's.
PLACE = allow(Role.CLIENT, scope=Scope.ORDERS_WRITE)
Placer = Annotated[Principal, Depends(PLACE)]
Reader = Annotated[
    Principal, Depends(allow(Role.CLIENT, Role.OPERATOR, Role.AUDITOR, scope=Scope.ORDERS_READ))
]

OrderStatusName = Literal["accepted", "placed", "partially_filled", "filled", "rejected"]
DecimalText = Annotated[Decimal, PlainSerializer(lambda d: f"{d:.2f}", return_type=str)]
PriceText = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str)]


class OrderCreate(PlaceOrder):
    """The body of `POST /orders`: exactly the template's fields."""


ORDER_EXAMPLE: JsonDict = {
    "id": "0b7e3c1a-58f4-4a52-9f37-2d2b9f6d8e11",
    "created_at": "2026-11-21T10:00:00Z",
    "type": "limit",
    "side": "buy",
    "instrument": "US0378331005",
    "limit_price": "189.25",
    "quantity": 10,
    "status": "partially_filled",
    "attempts": 2,
    "last_error": None,
    "next_attempt_at": None,
    "exchange_order_id": "EX4f0c3b7a9e1d4c2b8a6f",
    "placed_at": "2026-11-21T10:00:01Z",
    "filled_quantity": 4,
    "average_price": "189.2500",
}


class OrderPublic(BaseModel):
    # Read from the aggregate or a read-model row: both carry these attributes.
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [ORDER_EXAMPLE]})

    id: UUID
    # The aggregate and its row say `accepted_at`; a client reads `created_at`.
    created_at: datetime = Field(validation_alias=AliasChoices("accepted_at", "created_at"))
    type: OrderType
    side: OrderSide
    instrument: str
    limit_price: DecimalText | None
    quantity: int
    status: OrderStatusName
    attempts: int = Field(description="Placement attempts made so far.")
    last_error: str | None = Field(description="Why the last placement attempt failed.")
    next_attempt_at: datetime | None
    exchange_order_id: str | None
    placed_at: datetime | None
    filled_quantity: int
    average_price: PriceText | None = Field(description="Of the fills so far (4 decimals).")


class OrderPage(Page[OrderPublic]):
    """A page of orders, oldest first."""


class PlacementError(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PLACEMENT_FAILED]})

    message: str


@placement_router.post(
    "",
    status_code=201,
    response_model=OrderPublic,
    responses={
        200: {"model": OrderPublic, "description": "A retry: the same key and body"},
        **responses(409, 429),
        500: {"model": PlacementError, "description": "Internal error: nothing was recorded"},
    },
    # Plain async dependencies of the `Request`: the route stays lean. The caller's rule
    # first: a refused caller spends none of its rate limit.
    dependencies=[Depends(PLACE), Depends(rate_limited("orders"))],
    summary="Place a stock order",
    description="Answers 201 once the order is durably recorded; from then on its placement "
    "at the exchange is guaranteed (in the background, retried until placed). With an "
    "`Idempotency-Key` header, a retry with the same key and body answers the same order "
    "(200); the same key with another body answers 409. Keys are the client's own: "
    "another client's same key is another order. Each client's orders are limited "
    "(429 with `Retry-After` beyond its rate limit).",
)
async def place_order(
    # A JSON body, an optional text header, a plain async dependency and a `Response`:
    # a shape `LeanRoute` serves without FastAPI's per-request solving.
    body: OrderCreate,
    orders: Orders,
    caller: Placer,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=200, description="Makes retries safe.")
    ] = None,
) -> Response:
    order, created = await orders.service.place(body, caller.actor, idempotency_key)
    # Serialized here, once: returned as a model, FastAPI would validate it all again
    # against `response_model` (the hot path of the platform's busiest endpoint).
    return Response(
        OrderPublic.model_validate(order).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.get(
    "",
    response_model=OrderPage,
    summary="List orders, oldest first",
    description="Reads the `orders_view` read model, a few milliseconds behind the events: "
    "filter by `status` (and `accepted_before`), page with `limit` and `cursor`.",
    responses=responses(400),
)
async def list_orders(
    orders: Orders,
    caller: Reader,
    status: Annotated[
        OrderStatusName | None, Query(description="Only orders in this status.")
    ] = None,
    accepted_before: Annotated[
        datetime | None,
        Query(
            description="Only orders accepted before this time: with `status=accepted`, "
            "the orders still unplaced since then (for operators)."
        ),
    ] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> OrderPage:
    page = await orders.queries.list(
        status=status,
        accepted_before=accepted_before,
        limit=limit,
        cursor=cursor,
        client=client_filter(caller),
    )
    return OrderPage.model_validate(page)


@router.get(
    "/{order_id}",
    response_model=OrderPublic,
    responses=responses(404),
    summary="Read one order (always current: read from its events)",
    description="The order as its events make it now: placement attempts, the exchange's "
    "order id, fills and their average price; 404 for an unknown id, or another client's.",
)
async def get_order(order_id: UUID, orders: Orders, caller: Reader) -> OrderPublic:
    order = await orders.service.get(order_id)
    reach(caller, order, OrderNotFound(order_id))
    return OrderPublic.model_validate(order)


@router.get(
    "/{order_id}/events",
    response_model=list[EventPublic],
    responses=responses(404),
    summary="The order's audit trail: every event, in order",
    description="Every event of the order in version order: accepted, each placement "
    "attempt that failed, placed, each fill.",
)
async def order_events(order_id: UUID, orders: Orders, caller: Reader) -> list[EventPublic]:
    reach(caller, await orders.service.get(order_id), OrderNotFound(order_id))
    return [EventPublic.model_validate(entry) for entry in await orders.service.history(order_id)]
