"""CPU priority of worker processes: behind the API when the machine is busy."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

AUTOGROUP = Path("/proc/self/autogroup")


def lower_cpu_priority(nice: int) -> None:
    """Give up `nice` steps of CPU priority, for this process and where Linux needs it.

    On Linux with autogrouping (the default on most distributions) the scheduler first
    shares the CPU between sessions, and a process's nice value only counts against the
    processes of its own session. `ledgerflow up` starts every process in a session of
    its own, so there a niced worker would still get as much CPU as the API: its
    session's nice value is lowered too. Only when the process leads its session: in a
    session shared with the API, that would lower the API as well.
    """
    if nice <= 0:
        return
    os.nice(nice)
    if os.getsid(0) != os.getpid() or not AUTOGROUP.exists():
        return
    with contextlib.suppress(OSError):  # no autogrouping, or not allowed: the nice above stands
        AUTOGROUP.write_text(str(nice))
        log.debug("session CPU priority lowered", extra={"nice": nice})
