"""Read your writes: `Ledgerflow-Position` on every write, awaited by lists.

`WritePositions` (middleware) answers every request that recorded events with the
position of what it recorded, by log: `Ledgerflow-Position: sms:1234`. A list request
that sends it back waits (at most `LEDGERFLOW_READ_YOUR_WRITES_TIMEOUT_SECONDS`, 2 s by
default) until the list's read model has applied that position; if it has not by then,
the answer is 503 `read_model_behind` with `Retry-After`, never a page without the write.
A position of another log than the list's read model does not hold it up.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.read_positions import ReadPositions
from adapters.write_positions import (
    format_positions,
    parse_positions,
    start_recording,
    stop_recording,
)

POSITION_HEADER = "Ledgerflow-Position"
READ_MODEL_BEHIND = "read_model_behind"
RETRY_AFTER_SECONDS = 1
_HEADER = POSITION_HEADER.lower().encode()


class WritePositions:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        positions, token = start_recording()

        async def send_with_position(message: Message) -> None:
            if positions and message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if all(name != _HEADER for name, _ in headers):
                    headers.append((_HEADER, format_positions(positions).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_position)
        finally:
            stop_recording(token)


class ReadModelBehind(HTTPException):
    code = READ_MODEL_BEHIND

    def __init__(self, follower: str) -> None:
        super().__init__(
            status_code=503,
            detail=f"the read model {follower} has not caught up with the position asked for"
            f" in time; retry after {RETRY_AFTER_SECONDS} s",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )


PositionHeader = Annotated[
    str | None,
    Header(
        alias=POSITION_HEADER,
        max_length=400,
        pattern=r"^\s*[a-z_]+:[0-9]{1,18}(\s*,\s*[a-z_]+:[0-9]{1,18})*\s*$",
        description="The `Ledgerflow-Position` a write answered: the list waits (2 s at "
        "most) until its read model has applied it, else answers 503 `read_model_behind`.",
    ),
]


def caught_up(log: str, follower: str) -> Callable[..., Coroutine[Any, Any, None]]:
    """A list's dependency: wait until `follower` (its read model of `log`) has applied
    the position the request sends, if any."""

    async def wait(request: Request, position: PositionHeader = None) -> None:
        if position is None:
            return
        wanted = parse_positions(position).get(log)
        reader: ReadPositions | None = getattr(request.app.state.services, "positions", None)
        if wanted is None or reader is None:
            return
        if not await reader.reached(follower, log, wanted):
            raise ReadModelBehind(follower)

    wait.__name__ = f"caught_up_{follower}"
    return wait


def reads(log: str, follower: str) -> Any:
    """`dependencies=[reads("sms", "sms_view")]`: a list of that read model, which waits
    for the `Ledgerflow-Position` its request sends."""
    return Depends(caught_up(log, follower))
