"""A tiny run of the orders benchmark, so it keeps working. No timing thresholds."""

from __future__ import annotations

import re

import pytest

from bench.orders import main

LINE = re.compile(r"baseline (?P<baseline>[\d.]+) .* ledgerflow (?P<ours>[\d.]+) .* ratio")


def test_the_orders_benchmark_runs(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--server-url", server_url]) == 0
    printed = capsys.readouterr().out
    figures = LINE.findall(printed)
    assert len(figures) == 2, printed
    assert all(float(baseline) > 0 and float(ours) > 0 for baseline, ours in figures), printed
    assert "reports/s" in printed
