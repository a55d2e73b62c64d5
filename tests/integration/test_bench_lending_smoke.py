"""A tiny run of the lending benchmark, so `python -m bench.lending` keeps working.
No timing thresholds: it checks that each figure is printed and positive."""

from __future__ import annotations

import re

import pytest

from bench.lending import main

LINE = re.compile(
    r"^\((?P<key>lending-\w+)\) \S+\s+baseline (?P<baseline>[\d.]+) \S+ \(.+\)"
    r"\s+ledgerflow (?P<ours>[\d.]+) \S+\s+ratio (?P<ratio>[\d.]+)x$",
    re.MULTILINE,
)


def test_the_lending_benchmark_runs(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--server-url", server_url]) == 0
    printed = capsys.readouterr().out
    found = {match["key"]: match for match in LINE.finditer(printed)}
    assert set(found) == {"lending-requests", "lending-latency"}, printed
    for match in found.values():
        assert float(match["baseline"]) > 0 and float(match["ours"]) > 0, printed
