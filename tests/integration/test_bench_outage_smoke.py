"""A tiny run of the outage benchmark, so `python -m bench.outage` keeps working.
No timing thresholds: it checks that each figure is printed and positive."""

from __future__ import annotations

import re

import pytest

from bench.outage import main

LINE = re.compile(
    r"^\((?P<key>outage-\w+)\) \S+\s+baseline (?P<baseline>[\d.]+) \S+ \(.+\)"
    r"\s+ledgerflow (?P<ours>[\d.]+) \S+\s+ratio (?P<ratio>[\d.]+)x$",
    re.MULTILINE,
)


def test_the_outage_benchmark_runs(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--server-url", server_url]) == 0
    printed = capsys.readouterr().out
    found = {match["key"]: match for match in LINE.finditer(printed)}
    assert set(found) == {"outage-calls", "outage-drain"}, printed
    for match in found.values():
        assert float(match["baseline"]) > 0 and float(match["ours"]) > 0, printed
