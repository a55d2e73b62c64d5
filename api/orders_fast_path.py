"""`POST /orders` for well-formed requests, without FastAPI's routing and dependency solving.

The platform's busiest endpoint does little per request (validate, build an event,
join a group commit), and FastAPI's layers around it (route matching, solving the
header and services dependencies, parsing the query string, the exception middleware)
cost more CPU than all of that. This ASGI middleware answers the common case itself:
a JSON body that validates as `OrderCreate` and a well-formed `Idempotency-Key`, if
any. Everything else, whether another route, a body or header that does not validate
or a domain error answered before anything was written, passes to the regular route
in api/orders.py, which answers it. So a 4xx is always the regular route's answer, and
the route remains the endpoint's one definition (and its OpenAPI entry).
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import services_of
from api.orders import PLACEMENT_FAILED, OrderCreate, OrderPublic
from api.services import OrdersServices
from domain.orders.errors import OrderError

log = logging.getLogger(__name__)

KEY_HEADER = b"idempotency-key"
KEY_LENGTH = range(1, 201)  # as the route's `Header(min_length=1, max_length=200)`
JSON = b"application/json"
FAILED_BODY = bytes(JSONResponse(PLACEMENT_FAILED).body)  # the route's 500, byte for byte


class OrderAcceptFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/orders":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away
            return
        command, key = _well_formed(scope, body)
        orders = _orders(scope)
        if command is None or orders is None:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            order, created = await orders.service.place(command, key)
        except OrderError:  # refused before anything was written: the route answers it
            await self.app(scope, _replay(body, receive), send)
            return
        except Exception:
            log.exception("order placement failed")
            await _respond(send, 500, FAILED_BODY)
            return
        answer = OrderPublic.model_validate(order).model_dump_json()
        await _respond(send, 201 if created else 200, answer)


def _well_formed(scope: Scope, body: bytes) -> tuple[OrderCreate | None, str | None]:
    """The command and key when both validate as the route would take them."""
    content_type: bytes | None = None
    key: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == KEY_HEADER:
            if key is not None:  # repeated: the route decides what that means
                return None, None
            key = value
    if content_type is None or not content_type.startswith(JSON):
        return None, None
    text = None if key is None else key.decode("latin-1")  # as Starlette decodes headers
    if text is not None and len(text) not in KEY_LENGTH:
        return None, None
    try:
        return OrderCreate.model_validate_json(body), text
    except ValidationError:
        return None, None


def _orders(scope: Scope) -> OrdersServices | None:
    """The orders services the routes are handed, when this process serves orders."""
    services = services_of(scope["app"])
    return None if services is None else services.orders


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the route: the body already read, then the connection's own."""
    pending = True

    async def replayed() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _respond(send: Send, status: int, body: bytes | str) -> None:
    payload = body.encode() if isinstance(body, str) else body
    headers = [(b"content-type", JSON), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
