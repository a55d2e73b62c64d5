"""The layers hold (ledgerflow > api > adapters > processes | projections > domain), the
domain imports no I/O framework and the simulators stand alone: the import-linter contracts
in pyproject.toml, checked against this checkout."""

from __future__ import annotations

import os
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
