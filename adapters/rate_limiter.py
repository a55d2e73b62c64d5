"""Per-client request limits on the `limits` library's fixed windows, in memory (one API
process) or in Redis (every API process shares them).

A request costs no round trip to the storage in the common case: a process takes a
*lease* of `lease` units of a window at once (one `incr` by `lease` in the library's
storage, the same counter its `FixedWindowRateLimiter.hit` keeps) and spends it locally.
The last lease of a window is partial (exactly what was left), and a window found spent
refuses locally until it ends, so a client over its limit costs no round trip either.
Measured (bench/rate_limits.py): a Redis round trip costs a request ~150-200 us of CPU
through the library's async client; in leases of 50, ~5 us.

What that trades: units a process leased but did not spend before its window ended are
lost to the other processes (at most `lease - 1` per process and window, which is why a
lease is a small share of the limit); with one process nothing is lost. A process learns
a window's end from the window it opened, or else from the storage (Redis keeps it to
the second), and stops spending a lease at that end: where that estimate runs late, up
to one lease more passes at a window's turn. `Retry-After` comes from the library's
window stats.

When the storage fails (Redis down), requests pass for `STORAGE_RETRY_SECONDS` before
the next try: an abuse limit must not take the API down with it.

Time is the library's (wall clock for its windows, a monotonic clock for leases), not
the platform's `Clock`: moving the platform's clock in test mode does not move limits.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import redis.asyncio
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.errors import StorageError

log = logging.getLogger(__name__)

STORAGE_RETRY_SECONDS = 1.0
# Redis keeps a window's end to the (rounded) second.
ROUNDING_SECONDS = 0.5
# Windows of clients no longer seen are forgotten once this many are held.
MAX_WINDOWS_HELD = 10_000


def parse_rate_limit(notation: str) -> RateLimitItem:
    """`"100/second"`, `"6000 per minute"`: the library's notation (ValueError if not)."""
    return parse(notation)


@dataclass(frozen=True)
class Refused:
    """Over the limit: try again in `retry_after_seconds` (at least 1)."""

    retry_after_seconds: int


@dataclass(frozen=True)
class Rule:
    limit: RateLimitItem
    lease: int


@dataclass
class _Window:
    """What this process knows of one key's current window."""

    ends_at: float  # monotonic
    left: int = 0  # leased units not spent yet
    spent: bool = False  # no lease left to take: refuse once `left` is 0
    reset_at: float | None = None  # wall clock, from the library's window stats


class RateLimiter:
    """The limit of each endpoint, per client: `hit(endpoint, kind, client)`."""

    def __init__(
        self, storage: Storage, limits: Mapping[str, RateLimitItem], lease_share: float
    ) -> None:
        """`lease_share`: the share of a window's limit a process leases at a time (a
        lease is at least 1 unit)."""
        self.storage = storage
        self.library = FixedWindowRateLimiter(storage)
        self.rules = {
            endpoint: Rule(limit, max(1, math.floor(limit.amount * lease_share)))
            for endpoint, limit in limits.items()
        }
        self._windows: dict[tuple[str, ...], _Window] = {}
        self._storage_down_until = 0.0

    async def hit(self, endpoint: str, *client: str) -> Refused | None:
        """Count one request of `client` (its identifiers, e.g. `("subject", "c-1")`) on
        `endpoint`: `None` when it may pass."""
        rule = self.rules.get(endpoint)
        if rule is None:
            return None
        identifiers = (endpoint, *client)
        now = time.monotonic()
        window = self._windows.get(identifiers)
        if window is not None and now < window.ends_at:
            if window.left > 0:
                window.left -= 1
                return None
            if window.spent:
                return await self._refusal(rule, identifiers, window)
        if now < self._storage_down_until:
            return None
        try:
            return await self._lease(rule, identifiers, now)
        except StorageError as error:
            self._storage_down_until = time.monotonic() + STORAGE_RETRY_SECONDS
            log.warning(
                "rate limit storage failed; requests pass for %.0f s",
                STORAGE_RETRY_SECONDS,
                extra={"error": f"{type(error.storage_error).__name__}: {error.storage_error}"},
            )
            return None

    async def _lease(self, rule: Rule, identifiers: tuple[str, ...], now: float) -> Refused | None:
        key = rule.limit.key_for(*identifiers)
        expiry = rule.limit.get_expiry()
        count = await self.storage.incr(key, expiry, amount=rule.lease)
        granted = max(0, min(rule.lease, rule.limit.amount - (count - rule.lease)))
        window = self._windows.get(identifiers)
        if count == rule.lease:  # this lease opened the window: it ends `expiry` on
            window = _Window(ends_at=now + expiry)
            self._hold(identifiers, window)
        elif window is None or window.ends_at <= now:
            window = await self._window_of(rule, identifiers, now)
            self._hold(identifiers, window)
        window.left += granted
        if granted < rule.lease:
            window.spent = True
        if window.left > 0:
            window.left -= 1
            return None
        return await self._refusal(rule, identifiers, window)

    async def _window_of(self, rule: Rule, identifiers: tuple[str, ...], now: float) -> _Window:
        """A window another process opened: its end from the library's storage, which
        Redis rounds to the second (so a window seen to end at once is given half
        a second: spending the lease then costs no further round trips)."""
        reset_at = await self.storage.get_expiry(rule.limit.key_for(*identifiers))
        return _Window(ends_at=now + max(ROUNDING_SECONDS, reset_at - time.time()))

    async def _refusal(self, rule: Rule, identifiers: tuple[str, ...], window: _Window) -> Refused:
        if window.reset_at is None:
            try:
                stats = await self.library.get_window_stats(rule.limit, *identifiers)
                window.reset_at = stats.reset_time
            except StorageError:
                window.reset_at = time.time() + max(0.0, window.ends_at - time.monotonic())
        return Refused(max(1, math.ceil(window.reset_at - time.time())))

    def _hold(self, identifiers: tuple[str, ...], window: _Window) -> None:
        if len(self._windows) >= MAX_WINDOWS_HELD:
            now = time.monotonic()
            self._windows = {k: w for k, w in self._windows.items() if now < w.ends_at}
        self._windows[identifiers] = window


@contextlib.asynccontextmanager
async def rate_limit_storage(redis_url: str | None) -> AsyncIterator[Storage]:
    """Redis when `redis_url` is given (`redis://host:port/db`), else this process's
    memory; storage errors are raised as the library's `StorageError`."""
    if redis_url is None:
        yield MemoryStorage(wrap_exceptions=True)
        return
    # redis-py's asyncio client (`limits[redis]`): of the library's two Redis clients,
    # the one costing less CPU per call (bench/rate_limits.py). Its pool is ours to close.
    pool = redis.asyncio.ConnectionPool.from_url(
        redis_url,
        # A Redis that does not answer costs a request this much at most.
        socket_connect_timeout=0.5,
        socket_timeout=0.5,
    )
    try:
        yield RedisStorage(
            f"async+{redis_url}",
            wrap_exceptions=True,
            implementation="redispy",
            connection_pool=pool,  # type: ignore[arg-type]  # documented; typed narrower
        )
    finally:
        await pool.aclose()


@contextlib.asynccontextmanager
async def open_rate_limiter(
    redis_url: str | None, limits: Mapping[str, str], lease_share: float
) -> AsyncIterator[RateLimiter]:
    """A limiter on `limits` (endpoint -> the library's notation) for an app's lifetime."""
    parsed = {endpoint: parse_rate_limit(notation) for endpoint, notation in limits.items()}
    async with rate_limit_storage(redis_url) as storage:
        yield RateLimiter(storage, parsed, lease_share)
