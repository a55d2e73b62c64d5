"""Structured logs: one JSON object per line, with each record's `extra` fields.

Personal data never reaches a log: callers mask phone numbers (`mask_phone_number`),
adapters scrub a third party's words where they become our text, and, as a second line
of defence, every text of every line goes through the same scrubber (`scrub`: e-mail
addresses, phone numbers, any long digit run) before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from domain.privacy import scrub

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# An integer this long may be a phone or card number: it is written as a masked string.
_LONG_INTEGER = 10_000_000


def _scrubbed(value: object) -> object:
    """`value` as JSON will write it, every text scrubbed. Scrubbing each value rather
    than the written line keeps the line valid JSON (a masked number is a string)."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        return value if abs(value) < _LONG_INTEGER else scrub(str(value))
    if isinstance(value, Mapping):
        return {scrub(str(key)): _scrubbed(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrubbed(item) for item in value]
    return scrub(value if isinstance(value, str) else str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(_scrubbed(entry), ensure_ascii=False)


def configure_logging(level: str = "INFO", process: str = "ledgerflow") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
