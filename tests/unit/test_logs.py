"""Logs are JSON lines with the record's extra fields, and never show a full number."""

from __future__ import annotations

import json
import logging
import sys

from ledgerflow.logs import JsonFormatter


def format_record(message: str, **extra: object) -> dict[str, object]:
    record = logging.makeLogRecord({"msg": message, "levelname": "INFO", "name": "t", **extra})
    return dict(json.loads(JsonFormatter().format(record)))


def test_extra_fields_become_json_fields() -> None:
    entry = format_record("sms accepted", sms_id="abc", new=True)
    assert (entry["message"], entry["sms_id"], entry["new"]) == ("sms accepted", "abc", True)


def test_a_phone_or_card_number_that_slips_through_is_masked() -> None:
    entry = format_record("sent to +254712345678, card 4111111111111111")
    assert "+254712345678" not in str(entry) and "4111111111111111" not in str(entry)
    assert "+254*******78" in str(entry["message"])


def test_an_address_that_slips_through_loses_its_local_part_anywhere_in_a_line() -> None:
    try:
        raise ValueError("refused <astrid.berg@example.com>")
    except ValueError:
        record = logging.makeLogRecord(
            {
                "msg": "mail to %s failed",
                "args": ("astrid.berg@example.com",),
                "levelname": "WARNING",
                "name": "t",
                "exc_info": sys.exc_info(),
                "error": {"to": ["astrid.berg@example.com"], "phone": "+45 20 12 34 56"},
            }
        )
    line = JsonFormatter().format(record)
    assert "astrid.berg" not in line and "20 12 34 56" not in line
    entry = json.loads(line)
    assert entry["message"] == "mail to …@example.com failed"
    assert entry["error"] == {"to": ["…@example.com"], "phone": "+452*****56"}
    assert "<…@example.com>" in entry["exception"]


def test_a_masked_number_keeps_the_line_json_and_small_numbers_stay_numbers() -> None:
    entry = format_record("done", phone=4520123456, count=1234567, seconds=0.30000000000000004)
    assert entry["phone"] == "4520****56"
    assert (entry["count"], entry["seconds"]) == (1234567, 0.30000000000000004)


def test_every_logger_call_in_the_platform_uses_allowed_extra_keys() -> None:
    reserved = set(vars(logging.makeLogRecord({})))
    import pathlib
    import re

    pattern = re.compile(r"(?<!\w)extra=\{([^}]*)\}", re.S)
    for path in pathlib.Path().glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for block in pattern.findall(path.read_text()):
            keys = set(re.findall(r'"(\w+)":', block))
            assert not keys & reserved, f"{path}: {keys & reserved} would overwrite LogRecord"
