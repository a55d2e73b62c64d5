"""`Idempotency-Key` on every create: one behaviour, one implementation.

A route takes a key by declaring the `Idempotent` dependency (which documents the header)
and being served by `IdempotentRoute`. A request with a key is then answered once per
key of its caller (the token's subject, `api.callers.client_of`): the same key and body
again answer the first answer's status, body and `Ledgerflow-Position`, with
`Idempotent-Replayed: true`; the same key with another body or operation answers 409
`idempotency_key_conflict`; while the first is still running, 409
`idempotency_key_in_use`. Only a successful (2xx) answer is kept: after an error the
key is free for a retry. Keys live 24 hours (adapters/idempotency.py keeps them).

Two creates keep their own storage behind the same behaviour: `POST /orders` (the
order's id follows from the caller's key, so the write itself is the claim, in one
round trip: api/orders.py) and `POST /sms` (its `message_id` is its key).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.application import Application
from fastapi import Depends, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from adapters.eventstore import notification_id_of
from adapters.idempotency import Answer, Claimed, Conflict, IdempotencyStore, fingerprint
from adapters.write_positions import format_positions, note_recorded, recorded
from api.callers import client_of
from api.errors import error_response

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEY_CONFLICT = "idempotency_key_conflict"
KEY_IN_USE = "idempotency_key_in_use"
# What a replay repeats of the first answer besides its status and body.
REPLAYED_HEADERS = frozenset({"content-type", "ledgerflow-position", "location"})

KeyHeader = Annotated[
    str | None,
    # Named by the parameter (`idempotency_key`: FastAPI reads `idempotency-key`): an
    # explicit alias would take `POST /orders` off its lean path (api/lean_route.py).
    Header(
        min_length=1,
        max_length=200,
        description="Makes retries safe: the same key and body answer the first answer "
        "again (`Idempotent-Replayed: true`); another body, 409. Scoped to the caller, "
        "kept at least 24 hours.",
    ),
]


async def idempotency_key(idempotency_key: KeyHeader = None) -> str | None:
    """The request's key (validated and documented by FastAPI)."""
    return idempotency_key


Idempotent = Depends(idempotency_key)

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class IdempotentRoute(APIRoute):
    """Serves a route that declares `Idempotent` once per caller's key; any other route
    as FastAPI does."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if not _declares(self.dependant, idempotency_key):
            return handler

        async def once_per_key(request: Request) -> Response:
            key = request.headers.get(HEADER)
            services = getattr(request.app.state, "services", None)
            store: IdempotencyStore | None = getattr(services, "idempotency", None)
            if key is None or store is None or services is None or not 0 < len(key) <= 200:
                return await handler(request)  # FastAPI refuses a key out of bounds
            return await answered_once(
                store, client_of(request) or "", key, request, handler, services.clock.now()
            )

        return once_per_key


async def answered_once(
    store: IdempotencyStore,
    client: str,
    key: str,
    request: Request,
    handler: Handler,
    now: datetime,
) -> Response:
    """Claim the caller's key, then answer: the stored first answer, a conflict, or what
    `handler` answers (kept when it succeeded, the key released otherwise)."""
    claim = await store.claim(
        client, key, fingerprint(request.method, request.url.path, await request.body()), now
    )
    if isinstance(claim, Answer):
        return replay(claim.status, claim.body, claim.headers)
    if isinstance(claim, Conflict):
        return key_conflict()
    if not isinstance(claim, Claimed):
        return error_response(
            409, "a request with this Idempotency-Key is still being answered", KEY_IN_USE
        )
    try:
        response = await handler(request)
    except BaseException:
        await store.release(client, key)
        raise
    if 200 <= response.status_code < 300:
        headers = [
            (name, value) for name, value in response.headers.items() if name in REPLAYED_HEADERS
        ]
        if positions := recorded():  # `WritePositions` adds it to the first answer itself
            headers.append(("ledgerflow-position", format_positions(positions)))
        await store.complete(
            client, key, Answer(response.status_code, headers, bytes(response.body))
        )
    else:
        await store.release(client, key)
    return response


async def note_first_position(application: Application, aggregate_id: UUID) -> None:
    """For a create with storage of its own (SMS, orders): a replay names the position
    of the first answer's write, as the first answer did."""
    position = await asyncio.to_thread(notification_id_of, application, aggregate_id, 1)
    if position is not None:
        note_recorded(application.name, position)


def replay(status: int, body: bytes, headers: list[tuple[str, str]]) -> Response:
    response = Response(body, status_code=status)
    response.headers.update(dict(headers))
    response.headers[REPLAYED] = "true"
    return response


def key_conflict() -> Response:
    return error_response(
        409, "this Idempotency-Key was already used with another request", KEY_CONFLICT
    )


def _declares(dependant: Dependant, call: Callable[..., Any]) -> bool:
    return any(sub.call is call or _declares(sub, call) for sub in dependant.dependencies)
