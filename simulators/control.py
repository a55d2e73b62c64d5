"""The one control surface every simulator shares (docs/third-parties.md, "Simulators").

A simulator is a FastAPI app built by `Simulator.create_app()`. The simulator only writes
its contract routes and calls `Simulator.record(...)` when a request had an effect; this
module supplies everything else, identically for every third party:

- `PUT/GET /__admin/faults`: latency and injected faults, drawn from `random.Random(seed)`.
- `GET/DELETE /__admin/ledger`: every request that had an effect, oldest first.
- `GET/DELETE /__admin/stats`: how many requests came in and how many faults were injected.
- `GET/PUT /__admin/settings`: the simulator's own contract-specific settings (a pydantic
  model it declares), partially updatable.

Faults are applied by a pure ASGI layer in front of the contract routes (never in front of
`/__admin/*` or the OpenAPI docs), so contract routes contain no fault code at all.

Contract routes (`SimulatorApp.add_contract_route`) are dispatched by the app itself behind
the fault layer only, bypassing FastAPI's middleware stack and router: under load about half
of a simulator's CPU per request went to framework layers these routes do not use, on the
machine it shares with the platform it measures. Everything else (`/__admin/*`, docs, 404s,
405s, WebSockets, lifespan) is FastAPI as usual.

Per contract request, exactly two numbers are drawn, in this order, at arrival (no await in
between, so the sequence is a function of the seed and the arrival order only):

1. `u_latency`: the delay is `latency_ms + u_latency * latency_jitter_ms`;
2. `u_fault`: compared cumulatively with `error_rate`, `timeout_rate`, `reset_rate`,
   `lost_response_rate` in that order (each rate is the exact probability of its fault as
   long as the rates sum to at most 1; beyond that the later ones are cut short).

Dropping a connection without an answer needs the server's transport: under uvicorn (h11 or
httptools, asyncio or uvloop) the ASGI `receive` callable is a bound method of the request
cycle that holds it, so `receive.__self__.transport.abort()` resets the TCP connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Body, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)

ADMIN_PREFIX = "/__admin"
# Paths that are part of no contract: never delayed nor faulted.
EXEMPT_PREFIXES: tuple[str, ...] = (ADMIN_PREFIX, "/docs", "/redoc", "/openapi.json")
DEFAULT_HOLD_SECONDS = 300.0

Fault = Literal["error", "timeout", "reset", "lost_response"]
SettingsT = TypeVar("SettingsT", bound=BaseModel)
# A contract route's endpoint: Starlette style, the request in, the answer out.
ContractEndpoint = Callable[[Request], Awaitable[Response]]
# How the fault layer waits out a request's latency, in seconds.
Sleep = Callable[[float], Awaitable[None]]

Rate = Field(default=0.0, ge=0.0, le=1.0)


class Faults(BaseModel):
    """The current misbehaviour of a simulator (the body of `GET /__admin/faults`)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    latency_ms: float = Field(default=0.0, ge=0.0)
    latency_jitter_ms: float = Field(default=0.0, ge=0.0)
    error_rate: float = Rate
    timeout_rate: float = Rate
    reset_rate: float = Rate
    lost_response_rate: float = Rate


class FaultsUpdate(BaseModel):
    """The body of `PUT /__admin/faults`: every field optional, omitted ones keep their value."""

    model_config = ConfigDict(extra="forbid")

    seed: int | None = None
    latency_ms: float | None = Field(default=None, ge=0.0)
    latency_jitter_ms: float | None = Field(default=None, ge=0.0)
    error_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    timeout_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    reset_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    lost_response_rate: float | None = Field(default=None, ge=0.0, le=1.0)


class FaultStats(BaseModel):
    """Counters since start (or the last `DELETE /__admin/stats`), so a test can bound the
    duplicates it accepts by the responses the simulator deliberately lost."""

    requests: int = 0
    errors: int = 0
    timeouts: int = 0
    resets: int = 0
    lost_responses: int = 0


class LedgerEntry(BaseModel):
    key: str | None
    at: datetime
    request: dict[str, Any]
    response: dict[str, Any]
    response_lost: bool


class Ledger(BaseModel):
    count: int
    items: list[LedgerEntry]


@dataclass(frozen=True)
class Decision:
    """What happens to one contract request."""

    delay_seconds: float
    fault: Fault | None


# True while a contract route runs for a request whose response will be dropped, so that
# `Simulator.record` can mark the ledger entry without the route knowing about faults.
_response_lost: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "simulator_response_lost", default=False
)


class Simulator(Generic[SettingsT]):
    """Faults, seeded generator, ledger, counters and settings of one simulator.

    Single process, asyncio only: every mutation happens on the event loop without an
    await in between, so no lock is needed. `sleep` waits out a request's latency; a test
    may put one that records the delays instead of measuring elapsed time.
    """

    def __init__(
        self,
        name: str,
        settings: SettingsT,
        *,
        faults: Faults | None = None,
        hold_seconds: float = DEFAULT_HOLD_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.name = name
        self.settings: SettingsT = settings
        self.faults = faults or Faults()
        self.hold_seconds = hold_seconds
        self.sleep = sleep
        self.stats = FaultStats()
        self.ledger: list[LedgerEntry] = []
        self._rng = random.Random(self.faults.seed)

    # -- faults -------------------------------------------------------------------------

    def update_faults(self, update: FaultsUpdate) -> Faults:
        """Apply a partial update; a seed in the update reseeds the generator."""
        changes = update.model_dump(exclude_unset=True, exclude_none=True)
        self.faults = self.faults.model_copy(update=changes)
        if "seed" in changes:
            self._rng = random.Random(self.faults.seed)
        return self.faults

    def draw(self) -> Decision:
        """Draw the fate of one contract request (always two draws, see module docstring)."""
        faults = self.faults
        u_latency = self._rng.random()
        u_fault = self._rng.random()
        delay_ms = faults.latency_ms + u_latency * faults.latency_jitter_ms
        fault: Fault | None = None
        threshold = 0.0
        for name, rate in (
            ("error", faults.error_rate),
            ("timeout", faults.timeout_rate),
            ("reset", faults.reset_rate),
            ("lost_response", faults.lost_response_rate),
        ):
            threshold += rate
            if u_fault < threshold:
                fault = name  # type: ignore[assignment]
                break
        self.stats.requests += 1
        if fault == "error":
            self.stats.errors += 1
        elif fault == "timeout":
            self.stats.timeouts += 1
        elif fault == "reset":
            self.stats.resets += 1
        elif fault == "lost_response":
            self.stats.lost_responses += 1
        return Decision(delay_seconds=delay_ms / 1000.0, fault=fault)

    # -- ledger -------------------------------------------------------------------------

    def record(
        self, key: str | None, request: Mapping[str, Any], response: Mapping[str, Any]
    ) -> LedgerEntry:
        """Called by a contract route once its effect happened."""
        # Built from values of its fields' types: not validated again on every call.
        entry = LedgerEntry.model_construct(
            key=key,
            at=datetime.now(UTC),
            request=dict(request),
            response=dict(response),
            response_lost=_response_lost.get(),
        )
        self.ledger.append(entry)
        return entry

    # -- settings -----------------------------------------------------------------------

    def update_settings(self, changes: Mapping[str, Any]) -> SettingsT:
        """Partially update the contract settings; raises `ValidationError` or `KeyError`."""
        model = type(self.settings)
        unknown = sorted(set(changes) - set(model.model_fields))
        if unknown:
            raise KeyError(", ".join(unknown))
        merged = {**self.settings.model_dump(), **changes}
        # Built through the constructor so pydantic-settings models validate the same way.
        self.settings = model(**merged)
        return self.settings

    # -- the app ------------------------------------------------------------------------

    def create_app(
        self, *, title: str | None = None, description: str | None = None
    ) -> SimulatorApp:
        """An app carrying the control surface and the fault layer; the caller adds its
        contract routes with `add_contract_route`."""
        app = SimulatorApp(
            self, title=title or f"{self.name} simulator", description=description or ""
        )
        app.state.simulator = self
        app.include_router(admin_router(self))
        return app


class SimulatorApp(FastAPI):
    """A FastAPI app whose contract routes skip FastAPI's stack (see module docstring).

    Every HTTP request goes through the `FaultLayer` first (which lets `/__admin/*` and the
    docs through untouched), then to a contract route that fully matches, else to FastAPI.
    Middleware added with `add_middleware` therefore never sees contract requests.
    """

    def __init__(self, simulator: Simulator[Any], *, title: str, description: str) -> None:
        super().__init__(title=title, description=description)
        self._contract_routes: list[tuple[APIRoute, ContractEndpoint]] = []
        self._entry: ASGIApp = FaultLayer(self._dispatch, simulator)

    def add_contract_route(
        self, path: str, endpoint: ContractEndpoint, *, methods: Sequence[str]
    ) -> None:
        """Register a contract route: `endpoint(request)` answers with a `Response`."""
        # Registered with FastAPI too, and matched through that very route object, so the
        # answers left to FastAPI stay what they were (405 with `Allow` for another method,
        # 307 for a trailing slash) and the route is in the OpenAPI docs.
        self.add_api_route(path, endpoint, methods=list(methods), response_model=None)
        route = self.router.routes[-1]
        assert isinstance(route, APIRoute) and route.endpoint is endpoint
        self._contract_routes.append((route, endpoint))

    @property
    def contract_routes(self) -> tuple[APIRoute, ...]:
        return tuple(route for route, _ in self._contract_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._entry(scope, receive, send)
        else:  # lifespan, WebSockets
            await super().__call__(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A fully matching contract route answers; anything else is FastAPI's."""
        if self.root_path:
            scope["root_path"] = self.root_path
        for route, endpoint in self._contract_routes:
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope.update(child_scope)
                scope["app"] = self
                try:
                    response = await endpoint(Request(scope, receive, send))
                except Exception:
                    # What FastAPI's ServerErrorMiddleware answered (no debug, no handler);
                    # the server then logs the error and closes the connection.
                    error = PlainTextResponse("Internal Server Error", status_code=500)
                    await error(scope, receive, send)
                    raise
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def admin_router(simulator: Simulator[Any]) -> APIRouter:
    """The `/__admin/*` routes, bound to one simulator."""
    router = APIRouter(prefix=ADMIN_PREFIX, tags=["simulator control"])

    @router.get("/faults", response_model=Faults)
    async def get_faults() -> Faults:
        return simulator.faults

    @router.put("/faults", response_model=Faults)
    async def put_faults(update: FaultsUpdate) -> Faults:
        return simulator.update_faults(update)

    @router.get("/stats", response_model=FaultStats)
    async def get_stats() -> FaultStats:
        return simulator.stats

    @router.delete("/stats", status_code=204)
    async def delete_stats() -> None:
        simulator.stats = FaultStats()

    @router.get("/ledger", response_model=Ledger)
    async def get_ledger() -> Ledger:
        return Ledger(count=len(simulator.ledger), items=list(simulator.ledger))

    @router.delete("/ledger", status_code=204)
    async def delete_ledger() -> None:
        simulator.ledger.clear()

    @router.get("/settings")
    async def get_settings() -> dict[str, Any]:
        return simulator.settings.model_dump(mode="json")

    @router.put("/settings", response_model=None)
    async def put_settings(changes: dict[str, Any] = Body(...)) -> Any:
        try:
            settings = simulator.update_settings(changes)
        except KeyError as error:
            return JSONResponse(
                {"detail": [{"loc": ["body", *error.args], "msg": "unknown setting"}]},
                status_code=422,
            )
        except ValidationError as error:
            return JSONResponse(
                {"detail": error.errors(include_url=False, include_context=False)},
                status_code=422,
            )
        return settings.model_dump(mode="json")

    return router


class FaultLayer:
    """Pure ASGI layer that delays and faults contract requests (see module docstring);
    `SimulatorApp` puts it in front of every HTTP request, exempt paths pass through."""

    def __init__(self, app: ASGIApp, simulator: Simulator[Any]) -> None:
        self.app = app
        self.simulator = simulator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope["path"]).startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        decision = self.simulator.draw()
        if decision.delay_seconds > 0:
            await self.simulator.sleep(decision.delay_seconds)
        if decision.fault is None:
            await self.app(scope, receive, send)
        elif decision.fault == "error":
            response = JSONResponse(
                {"error": "service unavailable (injected fault)"}, status_code=503
            )
            await response(scope, receive, send)
        elif decision.fault == "timeout":
            await _hold(receive, self.simulator.hold_seconds)
            await _drop_connection(receive)
        elif decision.fault == "reset":
            await _drop_connection(receive)
        else:  # lost_response: the work happens, the answer never leaves.
            token = _response_lost.set(True)
            try:
                await self.app(scope, receive, _discard)
            finally:
                _response_lost.reset(token)
            await _drop_connection(receive)


async def _discard(message: Message) -> None:
    """A `send` that loses every message."""


async def _hold(receive: Receive, seconds: float) -> None:
    """Keep the request open for `seconds`, or until the client gives up (so a server with
    held requests can still shut down promptly)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while (await receive())["type"] != "http.disconnect":
                pass


async def _drop_connection(receive: Receive) -> None:
    """Reset the TCP connection without an answer."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    abort: Callable[[], None] | None = getattr(transport, "abort", None)
    if abort is None:
        # Not under uvicorn: nothing to abort; the server will answer on its own.
        logger.warning("cannot drop the connection: no transport behind this ASGI server")
        return
    abort()
    # Let the server run connection_lost, so it does not answer a 500 for us.
    for _ in range(2):
        await asyncio.sleep(0)


def refusal(error: str, status: int = 400) -> JSONResponse:
    """A contract's plain refusal: `{"error": ...}`."""
    return JSONResponse({"error": error}, status_code=status)


async def json_body(request: Request, not_json: Callable[[], JSONResponse] | None = None) -> Any:
    """The request's JSON body, or, as a `JSONResponse`, the answer to give instead: the
    one `not_json` makes (by default a 400) when it is not JSON, and a 499 nobody reads
    when the caller went away mid-request (the request had no effect)."""
    try:
        return await request.json()
    except ValueError:
        return not_json() if not_json is not None else refusal("body is not JSON")
    except ClientDisconnect:
        return JSONResponse({"error": "client disconnected"}, status_code=499)
