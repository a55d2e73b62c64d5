"""The layers hold (ledgerflow > api > adapters > processes | projections > domain), the
domain imports no I/O framework and the simulators stand alone: the import-linter contracts
in pyproject.toml, checked against this checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint_imports = shutil.which("lint-imports") or str(
        Path(sys.executable).with_name("lint-imports")
    )
    # The checkout's packages, not an installed copy of them, and its pyproject.toml.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [lint_imports], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


# The platform's tables change only through migrations: start-up code holds no DDL.
_DDL = re.compile(r"\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE\s+INDEX)\b", re.IGNORECASE)
_MIGRATIONS = ROOT / "adapters" / "migrations"


def test_only_the_migrations_create_or_change_the_platforms_tables() -> None:
    packages = ("domain", "processes", "projections", "adapters", "api", "ledgerflow")
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if _MIGRATIONS not in path.parents
        for match in _DDL.finditer(path.read_text())
    ]
    assert not offenders, "schema changes belong in adapters/migrations/versions/"
