"""A tiny run of the reimbursements benchmark, so it keeps working. No timing thresholds."""

from __future__ import annotations

import re

import pytest

from bench.reimbursements import main

LINE = re.compile(
    r"^\(reimbursements\) payments\s+baseline (?P<baseline>[\d.]+) paid/s \(.+\)"
    r"\s+ledgerflow (?P<ours>[\d.]+) paid/s\s+ratio (?P<ratio>[\d.]+)x$",
    re.MULTILINE,
)


def test_the_benchmark_prints_baseline_ours_and_ratio(
    server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--smoke", "--server-url", server_url]) == 0
    printed = capsys.readouterr().out
    match = LINE.search(printed)
    assert match, printed
    for figure in ("baseline", "ours", "ratio"):
        assert float(match[figure]) > 0, printed
