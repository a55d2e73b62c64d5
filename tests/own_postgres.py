"""A PostgreSQL cluster a test starts itself, on its own port, to restart it (`pg_ctl
restart`) or stop it under the platform: never the shared server.

The binaries are the installed server's (`pg_config --bindir`, or Debian's
/usr/lib/postgresql/N/bin). PostgreSQL refuses to run as root: as root, the cluster
belongs to the `postgres` system user (the server's package creates it).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from tests.e2e.processes import free_port
from tests.services import unavailable


def _bin_dir() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        found = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        candidate = Path(found.stdout.strip())
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(directory) / "pg_ctl").exists():
            return Path(directory)
    return None


class OwnPostgres:
    """`initdb`, then `pg_ctl start` on 127.0.0.1 and a free port; `restart()`; `stop()`."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            unavailable("no PostgreSQL server binaries (pg_ctl, initdb) to start a cluster with")
        self.bin_dir = bin_dir
        self.user: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and no `postgres` system user to run a cluster as")
            self.user = "postgres"
        self.root = Path(tempfile.mkdtemp(prefix="ledgerflow-own-pg-"))
        self.data_dir = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [str(self.bin_dir / tool), *args],
            check=True,
            user=self.user,
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> str:
        self._run(
            "initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres", "-D", str(self.data_dir)
        )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log), "-o", options, "-w", "start"
        )
        return self.url

    def restart(self) -> None:
        """Stop (fast: every connection is cut) and start again on the same port."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> OwnPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
