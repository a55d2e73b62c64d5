"""Third parties' health in PostgreSQL: one breaker row per party, shared by every worker.

Every attempt's outcome is an observation of its party; the observations of many attempts
are folded into the row in one transaction (`FOR UPDATE`, so two processes never lose
each other's). Workers read the rows before leasing: a party whose breaker is open gets
none of its work leased, except the few probes `claim_probes` lets through, one process
at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncCursor
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from domain.health import BreakerSettings, BreakerState, Health, observe, probing

COLUMNS = (
    "party",
    "state",
    "consecutive_failures",
    "window_started_at",
    "window_calls",
    "window_failures",
    "changed_at",
    "retry_at",
    "last_error",
)
TABLE = "ledgerflow_third_party_health"


@dataclass(frozen=True)
class Observation:
    party: str
    succeeded: bool
    error: str | None
    at: datetime


class HealthStore:
    def __init__(
        self, pool: AsyncConnectionPool[Any], settings: BreakerSettings | None = None
    ) -> None:
        self.pool = pool
        self.settings = settings or BreakerSettings()

    async def read(self, parties: Iterable[str]) -> dict[str, Health]:
        """Each party's breaker (closed when it has no row yet)."""
        wanted = sorted(set(parties))
        async with self.pool.connection() as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(f"SELECT * FROM {TABLE} WHERE party = ANY(%s)", (wanted,))
            rows = {row["party"]: _health(row) for row in await cur.fetchall()}
        return {party: rows.get(party, Health(party)) for party in wanted}

    async def observe(self, observations: Sequence[Observation]) -> None:
        """A batch of observations (a work engine's batch of outcomes), folded into their
        parties' breakers in one transaction."""
        parties: dict[str, list[Observation]] = {}
        for item in observations:
            parties.setdefault(item.party, []).append(item)
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            for party in sorted(parties):  # one order of locks for every process
                health = await _locked(cur, party)
                folded = health
                for item in parties[party]:
                    folded = observe(folded, item.succeeded, item.error, item.at, self.settings)
                if folded != health:
                    await _store(cur, folded)

    async def claim_probes(self, party: str, now: datetime) -> bool:
        """Whether this worker may send a round of probes to `party` now; if so, the
        breaker is half-open and no other worker may until the next round is due."""
        async with self.pool.connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=dict_row)
            health = await _locked(cur, party)
            if not health.probes_due(now):
                return False
            await _store(cur, probing(health, now, self.settings))
            return True


async def third_party_health(pool: AsyncConnectionPool[Any]) -> list[Health]:
    """Every party's breaker that has seen a call, by name (for status and metrics)."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute("SELECT to_regclass(%s) IS NOT NULL AS present", (TABLE,))
        present = await cur.fetchone()
        if not (present and present["present"]):
            return []
        await cur.execute(f"SELECT * FROM {TABLE} ORDER BY party")
        return [_health(row) for row in await cur.fetchall()]


async def _locked(cur: AsyncCursor[dict[str, Any]], party: str) -> Health:
    """The party's row, locked; created first when the party has none (once per party)."""
    lock = f"SELECT * FROM {TABLE} WHERE party = %s FOR UPDATE"
    row = await (await cur.execute(lock, (party,))).fetchone()
    if row is None:
        await cur.execute(
            f"INSERT INTO {TABLE} (party) VALUES (%s) ON CONFLICT (party) DO NOTHING", (party,)
        )
        row = await (await cur.execute(lock, (party,))).fetchone()
    assert row is not None
    return _health(row)


async def _store(cur: AsyncCursor[dict[str, Any]], health: Health) -> None:
    values = asdict(health)
    values["state"] = health.state.value
    assignments = ", ".join(f"{column} = %({column})s" for column in COLUMNS[1:])
    await cur.execute(f"UPDATE {TABLE} SET {assignments} WHERE party = %(party)s", values)


def _health(row: dict[str, Any]) -> Health:
    return Health(
        **{column: row[column] for column in COLUMNS if column != "state"},
        state=BreakerState(row["state"]),
    )
