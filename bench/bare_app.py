"""The baselines of benchmark (a) and the orders benchmark: a bare FastAPI app, one
psycopg INSERT per request.

`BENCH_BARE_DATABASE_URL=... BENCH_BARE_SHAPE=sms|orders python -m uvicorn bench.bare_app:app
--port M --loop uvloop --http httptools --no-access-log` (`bench.bare_app_command` builds
this). The shape (default `sms`) picks the route, its body (the same as ours) and the
table: `POST /sms` inserts into `bare_sms`, `POST /orders` into `bare_orders`, one row
through a psycopg async pool (autocommit: one transaction per request).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel


class SmsBody(BaseModel):
    message_id: str
    phone_number: str
    text: str


class OrderBody(BaseModel):
    type: str
    side: str
    instrument: str
    limit_price: Decimal | None = None
    quantity: int


@dataclass(frozen=True)
class Shape:
    """What one baseline accepts: `POST path` with `body`, inserted into `table`."""

    path: str
    status_code: int
    body: type[BaseModel]
    table: str
    columns: str
    """The table's columns besides `id` and `created_at` (the body's fields)."""
    answer: Callable[[Any, Any, Any], dict[str, Any]]
    """(body, id, created_at) -> the response."""


SHAPES = {
    "sms": Shape(
        path="/sms",
        status_code=202,
        body=SmsBody,
        table="bare_sms",
        columns="message_id text NOT NULL, phone_number text NOT NULL, text text NOT NULL",
        answer=lambda body, id_, _at: {
            "id": id_,
            "message_id": body.message_id,
            "status": "accepted",
        },
    ),
    "orders": Shape(
        path="/orders",
        status_code=201,
        body=OrderBody,
        table="bare_orders",
        columns="type text NOT NULL, side text NOT NULL, instrument text NOT NULL,"
        " limit_price numeric, quantity bigint NOT NULL",
        answer=lambda body, id_, at: {
            "id": id_,
            "created_at": at,
            **body.model_dump(),
            "status": "accepted",
        },
    ),
}

SHAPE = SHAPES[os.environ.get("BENCH_BARE_SHAPE", "sms")]
FIELDS = tuple(SHAPE.body.model_fields)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {SHAPE.table} (
    id bigserial PRIMARY KEY,
    {SHAPE.columns},
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = (
    f"INSERT INTO {SHAPE.table} ({', '.join(FIELDS)})"
    f" VALUES ({', '.join(['%s'] * len(FIELDS))}) RETURNING id, created_at"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    size = int(os.environ.get("BENCH_BARE_POOL_SIZE", "10"))
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        os.environ["BENCH_BARE_DATABASE_URL"],
        min_size=size,
        max_size=size,
        open=False,
        kwargs={"autocommit": True},
    )
    await pool.open(wait=True, timeout=15)
    async with pool.connection() as conn:
        await conn.execute(SCHEMA)
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def create(body: BaseModel) -> dict[str, Any]:
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(INSERT, [getattr(body, name) for name in FIELDS])
        row = await cur.fetchone()
    assert row is not None
    return SHAPE.answer(body, row[0], row[1])


# FastAPI reads the body's model from the annotation: the shape's, chosen at import.
create.__annotations__ = {**create.__annotations__, "body": SHAPE.body}
app.post(SHAPE.path, status_code=SHAPE.status_code)(create)
