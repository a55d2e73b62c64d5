"""Workers give up CPU priority in a way the Linux scheduler honours."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ledgerflow.priority import AUTOGROUP

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, os, pathlib
from ledgerflow.priority import lower_cpu_priority
lower_cpu_priority(7)
group = pathlib.Path("/proc/self/autogroup")
print(json.dumps({"nice": os.nice(0), "group": group.read_text() if group.exists() else None}))
"""


def _lowered(*, own_session: bool) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        start_new_session=own_session,
    ).stdout
    return dict(json.loads(out))


def test_a_session_leader_lowers_its_session_too() -> None:
    # `ledgerflow up` starts each process in a session of its own: with autogrouping,
    # the process's nice value alone would not put it behind the API.
    lowered = _lowered(own_session=True)
    assert lowered["nice"] == 7
    if AUTOGROUP.exists():  # a kernel without autogrouping has nothing more to lower
        assert str(lowered["group"]).strip().endswith("nice 7")


def test_a_process_sharing_a_session_leaves_the_session_alone() -> None:
    # In a session shared with others (the API started from the same shell, say),
    # lowering the session would lower them too.
    lowered = _lowered(own_session=False)
    assert lowered["nice"] == 7
    if lowered["group"] is not None:
        assert not str(lowered["group"]).strip().endswith("nice 7")
