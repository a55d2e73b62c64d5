"""The command line's tables fit the terminal: columns wrap between words with ids and
times whole, or, too narrow for that, each row prints as a block; nothing is cut."""

from __future__ import annotations

import io
import uuid

from rich.console import Console

from ledgerflow.cli_tables import Rows

ID = str(uuid.uuid4())
ERROR = "ValueError: the amount 12.345 has more decimal places than EUR allows"


def printed(rows: Rows, width: int) -> list[str]:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(rows)
    return out.getvalue().splitlines()


def rows() -> Rows:
    table = Rows(("id", "follower", "aggregate", "error", "since"), title="set aside")
    table.add("7", "orders_view", ID, ERROR, "2026-12-01T00:00:30+00:00")
    return table


def test_a_wide_terminal_gets_one_line_per_row_with_every_word_whole() -> None:
    lines = printed(rows(), 200)
    assert max(map(len, lines)) <= 200
    [row] = [line for line in lines if ID in line]
    assert ERROR in row and "2026-12-01T00:00:30+00:00" in row


def test_a_table_wraps_between_words_rather_than_cut_them() -> None:
    lines = printed(rows(), 110)
    assert max(map(len, lines)) <= 110
    text = "\n".join(lines)
    assert "…" not in text
    assert any(ID in line for line in lines) and any(
        "2026-12-01T00:00:30" in line for line in lines
    )
    assert "ValueError:" in text and "allows" in text  # the error wraps onto more lines


def test_a_narrow_terminal_gets_a_block_per_row() -> None:
    lines = printed(rows(), 60)
    assert max(map(len, lines)) <= 60
    assert "…" not in "\n".join(lines)
    assert any("aggregate" in line and ID in line for line in lines)  # header beside value
