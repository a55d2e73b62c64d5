"""A tiny run of the billing benchmark, so it keeps working. No timing thresholds."""

from __future__ import annotations

import re

import pytest

from bench.billing import main


def test_billing_benchmark_runs(server_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--smoke", "--workers", "2", "--server-url", server_url]) == 0
    printed = capsys.readouterr().out
    match = re.search(r"ratio (?P<ratio>[\d.]+)x .*double charges (?P<doubles>\d+)", printed)
    assert match, printed
    assert float(match["ratio"]) > 0 and match["doubles"] == "0"
