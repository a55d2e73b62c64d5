"""Idempotency keys: the first answer to each client's key, for its retries.

A create that carries a key claims `(client, key)` with its request's fingerprint before
it runs, then completes the claim with its answer (status, the headers worth replaying,
body). A later request with the same key finds the answer (same fingerprint: replayed),
another request's fingerprint (a conflict), or a claim still running (in progress). A
key is kept for `lifetime` (24 h by default): after that, a new request takes it over.
A claim whose request failed is released, so a retry runs again; one left by a process
that died mid-request is taken over after `abandoned_after`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

LIFETIME = timedelta(hours=24)
ABANDONED_AFTER = timedelta(seconds=60)
PURGE_EVERY = timedelta(hours=1)


@dataclass(frozen=True)
class Answer:
    """What the first request was answered."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class Claimed:
    """The key is this request's: run it, then `complete` or `release`."""


@dataclass(frozen=True)
class Conflict:
    """The key was used for another request (another body or operation)."""


@dataclass(frozen=True)
class InProgress:
    """The key's first request is still running."""


Claim = Claimed | Answer | Conflict | InProgress

_CLAIM = """
WITH claimed AS (
    INSERT INTO ledgerflow_idempotency_keys AS k (client, key, fingerprint, claimed_at)
    VALUES (%(client)s, %(key)s, %(fingerprint)s, %(now)s)
    ON CONFLICT (client, key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, claimed_at = EXCLUDED.claimed_at,
            status = NULL, headers = NULL, body = NULL
        WHERE k.claimed_at < %(expired)s OR (k.status IS NULL AND k.claimed_at < %(abandoned)s)
    RETURNING true AS mine
)
SELECT true, NULL, NULL, NULL, NULL FROM claimed
UNION ALL
SELECT false, fingerprint, status, headers, body FROM ledgerflow_idempotency_keys
    WHERE client = %(client)s AND key = %(key)s AND NOT EXISTS (SELECT 1 FROM claimed)
"""


class IdempotencyStore:
    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        lifetime: timedelta = LIFETIME,
        abandoned_after: timedelta = ABANDONED_AFTER,
    ) -> None:
        self.pool = pool
        self.lifetime = lifetime
        self.abandoned_after = abandoned_after
        self._purged_at: datetime | None = None

    async def claim(self, client: str, key: str, fingerprint: str, now: datetime) -> Claim:
        parameters = {
            "client": client,
            "key": key,
            "fingerprint": fingerprint,
            "now": now,
            "expired": now - self.lifetime,
            "abandoned": now - self.abandoned_after,
        }
        async with self.pool.connection() as conn:
            if self._purged_at is None or now - self._purged_at >= PURGE_EVERY:
                self._purged_at = now
                await conn.execute(
                    "DELETE FROM ledgerflow_idempotency_keys WHERE claimed_at < %s",
                    (now - self.lifetime,),
                )
            # A row a concurrent request committed after this statement's snapshot is
            # neither claimed nor seen: ask again.
            for _ in range(3):
                cur = await conn.execute(_CLAIM, parameters)
                row = await cur.fetchone()
                if row is not None:
                    break
            else:
                return InProgress()
        mine, stored_fingerprint, status, headers, body = row
        if mine:
            return Claimed()
        if stored_fingerprint != fingerprint:
            return Conflict()
        if status is None:
            return InProgress()
        return Answer(int(status), [(str(n), str(v)) for n, v in headers], bytes(body))

    async def complete(self, client: str, key: str, answer: Answer) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "UPDATE ledgerflow_idempotency_keys SET status = %s, headers = %s, body = %s"
                " WHERE client = %s AND key = %s",
                (answer.status, Jsonb(answer.headers), answer.body, client, key),
            )

    async def release(self, client: str, key: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                "DELETE FROM ledgerflow_idempotency_keys"
                " WHERE client = %s AND key = %s AND status IS NULL",
                (client, key),
            )


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The request, as far as a key's retries must repeat it: the operation and the body
    (JSON compared as data: key order and spacing do not count)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()
