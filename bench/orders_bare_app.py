"""The baseline of the orders benchmark: a bare FastAPI app, one psycopg INSERT per order.

`BENCH_BARE_DATABASE_URL=... python -m uvicorn bench.orders_bare_app:app --port M --loop
uvloop --http httptools --no-access-log`. `POST /orders` takes the same body as ours and
inserts one row through a psycopg async pool (autocommit: one transaction per request).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_orders (
    id bigserial PRIMARY KEY,
    type text NOT NULL,
    side text NOT NULL,
    instrument text NOT NULL,
    limit_price numeric,
    quantity bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class OrderBody(BaseModel):
    type: str
    side: str
    instrument: str
    limit_price: Decimal | None = None
    quantity: int


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


@app.post("/orders", status_code=201)
async def create_order(body: OrderBody) -> dict[str, Any]:
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO bare_orders (type, side, instrument, limit_price, quantity)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id, created_at",
            (body.type, body.side, body.instrument, body.limit_price, body.quantity),
        )
        row = await cur.fetchone()
    assert row is not None
    return {"id": row[0], "created_at": row[1], **body.model_dump(), "status": "accepted"}
