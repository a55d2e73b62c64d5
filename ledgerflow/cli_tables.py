"""Tables for the command line that fit the terminal, whatever its width.

A `Rows` prints as a table whose columns wrap between words, each at least as wide as its
longest word (an id or a time stays whole, to copy); when those widths side by side are
more than the terminal has, each row prints as a block of `header  value` lines instead,
long words folded. Nothing is cut with an ellipsis or cropped at the terminal's edge (as
rich does with a column too narrow, or a table wider than the console).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType
from rich.table import Column, Table


@dataclass
class Rows:
    headers: Sequence[str]
    rows: list[Sequence[str]] = field(default_factory=list)
    title: str | None = None

    def add(self, *values: str) -> None:
        self.rows.append(values)

    def __len__(self) -> int:
        return len(self.rows)

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        widths = [
            max(_longest_word(text) for text in (header, *(row[index] for row in self.rows)))
            for index, header in enumerate(self.headers)
        ]
        # Each cell padded by one on either side, a border between and around the columns.
        if sum(widths) + 3 * len(widths) + 1 <= options.max_width:
            yield self.table(widths)
        else:
            yield self.records()

    def table(self, widths: Sequence[int]) -> Table:
        """Columns that wrap between words, none narrower than its longest word."""
        table = Table(
            *(
                Column(header, min_width=width, overflow="fold")
                for header, width in zip(self.headers, widths, strict=True)
            ),
            title=self.title,
        )
        for row in self.rows:
            table.add_row(*row)
        return table

    def records(self) -> Table:
        """One block per row: each header beside its value."""
        table = Table(
            Column(style="bold", overflow="fold"),
            Column(overflow="fold"),
            show_header=False,
            title=self.title,
        )
        for row in self.rows:
            for index, (header, value) in enumerate(zip(self.headers, row, strict=True)):
                table.add_row(header, value, end_section=index == len(self.headers) - 1)
        return table


def _longest_word(text: str) -> int:
    return max((cell_len(word) for word in text.split()), default=0)
