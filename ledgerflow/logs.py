"""Structured logs: one JSON object per line, with each record's `extra` fields.

Phone numbers and card numbers never reach a log: callers mask them
(`mask_phone_number`), and a last filter masks any long digit run that slipped through.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from domain.privacy import mask_phone_number

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_LONG_DIGITS = re.compile(r"\+?\d{8,19}")


def _mask(text: str) -> str:
    return _LONG_DIGITS.sub(lambda match: mask_phone_number(match.group()), text)


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
        return _mask(json.dumps(entry, default=str, ensure_ascii=False))


def configure_logging(level: str = "INFO", process: str = "ledgerflow") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
