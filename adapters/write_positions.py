"""Where a request's writes landed in the event logs, for `Ledgerflow-Position`.

Whoever serves a request opens `recording()`; the group committer notes the position
(notification id) of each save made meanwhile, by log (the application's name). A
client sends it back on a list request to read its own writes (api/read_your_writes.py).
The notes are a dict shared by everything the request runs, tasks it starts included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar, Token

_RECORDED: ContextVar[dict[str, int] | None] = ContextVar("ledgerflow_recorded", default=None)


@contextlib.contextmanager
def recording() -> Iterator[dict[str, int]]:
    """The positions noted while the block runs: log -> the last notification id."""
    positions: dict[str, int] = {}
    token = _RECORDED.set(positions)
    try:
        yield positions
    finally:
        _RECORDED.reset(token)


def start_recording() -> tuple[dict[str, int], Token[dict[str, int] | None]]:
    """`recording()` without a context manager's cost, for a middleware on every request:
    hand the token to `stop_recording` when the request is done."""
    positions: dict[str, int] = {}
    return positions, _RECORDED.set(positions)


def stop_recording(token: Token[dict[str, int] | None]) -> None:
    _RECORDED.reset(token)


def recorded() -> dict[str, int]:
    """The positions noted so far in this request (empty outside `recording()`)."""
    return dict(_RECORDED.get() or {})


def note_recorded(log: str, position: int) -> None:
    positions = _RECORDED.get()
    if positions is not None and position > positions.get(log, 0):
        positions[log] = position


def format_positions(positions: dict[str, int]) -> str:
    """`sms:1234`, or `billing:88, orders:5` for writes to several logs."""
    return ", ".join(f"{log}:{position}" for log, position in sorted(positions.items()))


def parse_positions(text: str) -> dict[str, int]:
    """The inverse of `format_positions`; `ValueError` for anything else."""
    positions: dict[str, int] = {}
    for part in text.split(","):
        log, _, position = part.strip().partition(":")
        if not log or not position.isdigit():
            raise ValueError(f"not a position: {part.strip()!r}")
        positions[log] = max(positions.get(log, 0), int(position))
    return positions
