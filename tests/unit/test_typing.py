"""The domain and the process managers stay strictly typed, and each policy stays the
`WorkPolicy` of the types it declares (tests/unit/policy_conformance.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_domain_and_processes_pass_mypy_strict() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "domain",
            "processes",
            "tests/unit/policy_conformance.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
