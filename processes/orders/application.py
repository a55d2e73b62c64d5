"""The orders application service: accept `PlaceOrder`, read orders, record fills."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from domain.access import Actor
from domain.clock import Clock
from domain.orders.aggregate import Order
from domain.orders.commands import PlaceOrder
from domain.orders.errors import ExecutionNotApplicable, IdempotencyKeyReused, OrderNotFound
from domain.orders.ports import ExecutionReport
from processes.applications import WorkflowApplication
from processes.audit import AuditEntry, audit_trail

log = logging.getLogger(__name__)

SaveAggregates = Callable[..., Awaitable[None]]
# Fills are facts the exchange reports and the ingester records.
INGESTER = Actor.system("orders-ingester")


class OrdersApplication(WorkflowApplication):
    name = "orders"

    def get_order(self, order_id: UUID) -> Order:
        try:
            order: Order = self.repository.get(order_id)
        except AggregateNotFoundError:
            raise OrderNotFound(order_id) from None
        return order


@dataclass(frozen=True)
class ExecutionsRecorded:
    """What one batch of execution reports did."""

    recorded: int
    duplicates: int
    unknown_orders: int
    not_applicable: int


class OrdersService:
    """Commands of the orders workflow. `save` group-commits (adapters.eventstore)."""

    def __init__(self, application: OrdersApplication, save: SaveAggregates, clock: Clock) -> None:
        self.application = application
        self._save = save
        self.clock = clock

    async def place(
        self, command: PlaceOrder, actor: Actor, idempotency_key: str | None = None
    ) -> tuple[Order, bool]:
        """Record the order (durably, one transaction); answer it and whether this call
        created it. From then on the work engine guarantees its placement.

        With an idempotency key the order id follows from `client` and the key: a repeat
        collides with the stored order; the same body returns it, another body conflicts;
        another client's same key is another order.
        """
        order = Order(
            type=command.type,
            side=command.side,
            instrument=command.instrument,
            limit_price=command.limit_price,
            quantity=command.quantity,
            idempotency_key=idempotency_key,
            accepted_at=self.clock.now(),
            actor=actor,
            client=actor.client,
        )
        try:
            await self._save(order)
        except IntegrityError:
            if idempotency_key is None:
                raise
            existing = await self.get(order.id)
            if existing.fingerprint != order.fingerprint:
                raise IdempotencyKeyReused() from None
            return existing, False
        return order, True

    async def get(self, order_id: UUID) -> Order:
        return await asyncio.to_thread(self.application.get_order, order_id)

    async def history(self, order_id: UUID) -> list[AuditEntry]:
        entries = await asyncio.to_thread(audit_trail, self.application, order_id)
        if not entries:
            raise OrderNotFound(order_id)
        return entries

    async def record_executions(
        self, reports: Sequence[ExecutionReport], *, conflict_retries: int = 5
    ) -> ExecutionsRecorded:
        """Record a batch of fills: each order loaded once, all saved together (group
        commit). A version conflict (the placement recorded meanwhile) reloads and
        applies that order's fills again; duplicates are dropped by execution id."""
        by_order: dict[UUID, list[ExecutionReport]] = {}
        for report in reports:
            by_order.setdefault(report.order_id, []).append(report)
        totals = {"recorded": 0, "duplicates": 0, "unknown_orders": 0, "not_applicable": 0}
        pending = by_order
        for _ in range(conflict_retries + 1):
            applied = await asyncio.to_thread(self._apply, pending, totals)
            results = await asyncio.gather(
                *(self._save(order) for order, _ in applied.values()), return_exceptions=True
            )
            conflicts: dict[UUID, list[ExecutionReport]] = {}
            for (order_id, (_, count)), result in zip(applied.items(), results, strict=True):
                if isinstance(result, IntegrityError):
                    conflicts[order_id] = pending[order_id]
                elif isinstance(result, BaseException):
                    raise result
                else:
                    totals["recorded"] += count
            if not conflicts:
                return ExecutionsRecorded(**totals)
            pending = conflicts
        raise RuntimeError(f"execution reports kept conflicting for {len(pending)} orders")

    def _apply(
        self, by_order: dict[UUID, list[ExecutionReport]], totals: dict[str, int]
    ) -> dict[UUID, tuple[Order, int]]:
        """In a worker thread: load each order and apply its reports (oldest first)."""
        applied: dict[UUID, tuple[Order, int]] = {}
        for order_id, reports in by_order.items():
            try:
                order = self.application.get_order(order_id)
            except OrderNotFound:
                totals["unknown_orders"] += len(reports)
                log.warning(
                    "execution reports for an unknown order ignored",
                    extra={"order_id": str(order_id), "reports": len(reports)},
                )
                continue
            count = 0
            for report in sorted(reports, key=lambda r: r.sequence):
                try:
                    if order.record_execution(
                        report.execution_id,
                        report.quantity,
                        report.price,
                        report.executed_at,
                        actor=INGESTER,
                    ):
                        count += 1
                    else:
                        totals["duplicates"] += 1
                except ExecutionNotApplicable as error:
                    totals["not_applicable"] += 1
                    log.warning(
                        "execution report not applicable",
                        extra={
                            "order_id": str(order_id),
                            "execution_id": report.execution_id,
                            "reason": str(error),
                        },
                    )
            if count:
                applied[order_id] = (order, count)
        return applied
