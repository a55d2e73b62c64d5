"""The baseline of benchmark (a): a bare FastAPI app, one psycopg INSERT per request.

`BENCH_BARE_DATABASE_URL=... python -m uvicorn bench.bare_app:app --port M --loop uvloop
--http httptools --no-access-log`. `POST /sms` takes the same body as ours and inserts
one row through a psycopg async pool (autocommit: one transaction per request).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

SCHEMA = """
CREATE TABLE IF NOT EXISTS bare_sms (
    id bigserial PRIMARY KEY,
    message_id text NOT NULL,
    phone_number text NOT NULL,
    text text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


class SmsBody(BaseModel):
    message_id: str
    phone_number: str
    text: str


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        os.environ["BENCH_BARE_DATABASE_URL"],
        min_size=int(os.environ.get("BENCH_BARE_POOL_SIZE", "10")),
        max_size=int(os.environ.get("BENCH_BARE_POOL_SIZE", "10")),
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


@app.post("/sms", status_code=202)
async def create_sms(body: SmsBody) -> dict[str, Any]:
    async with app.state.pool.connection() as conn:
        cur = await conn.execute(
            "INSERT INTO bare_sms (message_id, phone_number, text) VALUES (%s, %s, %s)"
            " RETURNING id",
            (body.message_id, body.phone_number, body.text),
        )
        row = await cur.fetchone()
    return {"id": row[0] if row else None, "message_id": body.message_id, "status": "accepted"}
