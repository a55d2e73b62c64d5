"""How a set-aside event's error is kept: its type and message, without the values it
quoted."""

from __future__ import annotations

from uuid import uuid4

import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError

from adapters.set_aside.errors import RetryLater, describe, is_transient, redact


def test_quoted_values_e_mail_addresses_and_long_numbers_are_left_out() -> None:
    message = (
        "member 'Jane Doe' <jane.doe@example.com> phone +254712345678 amount 10000000000000000000"
    )
    assert redact(message, keep=set()) == "member '…' <…> phone +… amount …"


def test_the_platforms_ids_and_the_names_of_its_tables_stay() -> None:
    aggregate = uuid4()
    message = f'null value in column "status" of relation "orders_view" for \'{aggregate}\''
    kept = redact(message, keep={"status", "orders_view"})
    assert kept == message


def test_a_python_error_keeps_its_type_and_first_line() -> None:
    described = describe(AttributeError("'str' object has no attribute 'isoformat'\nmore"))
    assert described.type == "AttributeError"
    assert described.message == "'…' object has no attribute '…'"
    assert str(described) == "AttributeError: '…' object has no attribute '…'"


def test_a_long_message_is_cut() -> None:
    assert len(describe(ValueError("x" * 5000)).message) == 500


def test_database_errors_are_transient_only_when_they_are_the_platforms() -> None:
    assert is_transient(psycopg.OperationalError("server closed the connection"))
    assert is_transient(psycopg.errors.SerializationFailure())
    assert is_transient(psycopg.errors.DeadlockDetected())
    assert is_transient(psycopg.errors.LockNotAvailable())
    assert is_transient(psycopg.InterfaceError("the connection is closed"))
    assert is_transient(StoreOperationalError())
    assert is_transient(ConnectionResetError())
    assert is_transient(RetryLater())
    assert not is_transient(psycopg.errors.NumericValueOutOfRange())
    assert not is_transient(psycopg.errors.InvalidDatetimeFormat())
    assert not is_transient(psycopg.errors.UniqueViolation())
    assert not is_transient(KeyError("topic"))
    assert not is_transient(ValueError())
