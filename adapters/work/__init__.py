"""The work engine: due outbound calls in PostgreSQL, leased and made concurrently.

- `schema`: the table of due work.
- `scheduler`: `WorkScheduler`, a follower's processor that plans rows from events.
- `store`: `WorkStore`, the SQL of leasing and ending rows.
- `policy`: a policy bound to its payload type, one attempt through to its decision.
- `engine`: `WorkEngine`, the asyncio loop that leases, attempts and records.
"""

from adapters.work.engine import WorkEngine
from adapters.work.policy import AnyWorkPolicy
from adapters.work.scheduler import WorkScheduler
from adapters.work.store import WorkStore

__all__ = ["AnyWorkPolicy", "WorkEngine", "WorkScheduler", "WorkStore"]
