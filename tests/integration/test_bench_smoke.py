"""A tiny run of each benchmark, so `make bench` keeps working. No timing thresholds."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.run import main

LINE = re.compile(
    r"^\((?P<key>[abc])\) \S+\s+baseline (?P<baseline>[\d.]+) \S+ \(.+\)"
    r"\s+ledgerflow (?P<ours>[\d.]+) \S+\s+ratio (?P<ratio>[\d.]+)x$",
    re.MULTILINE,
)


@pytest.mark.parametrize("key", ["a", "b", "c"])
def test_benchmark_runs(
    key: str, server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "latest.json"

    assert (
        main(["--smoke", "--only", key, "--server-url", server_url, "--output", str(output)]) == 0
    )

    printed = capsys.readouterr().out
    match = LINE.search(printed)
    assert match, printed
    assert match["key"] == key
    for figure in ("baseline", "ours", "ratio"):
        assert float(match[figure]) > 0, printed
    result = json.loads(output.read_text())["results"][key]
    assert result["baseline"] > 0
    assert result["ours"] > 0
    assert result["ratio"] > 0
