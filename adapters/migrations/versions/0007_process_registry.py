"""The platform's long-running processes, as operators see them: `ledgerflow_processes`.

Each process (the API, each worker) registers its row by name and host when it starts
and heartbeats `last_seen_at`; the supervisor of `ledgerflow up` counts the restarts
of a child and records how it last exited (the count survives the child's own crash).

Revision 0007, after 0006.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS ledgerflow_processes (
            name text NOT NULL,
            host text NOT NULL,
            pid integer,
            started_at timestamptz,
            last_seen_at timestamptz,
            restarts integer NOT NULL DEFAULT 0,
            last_exit_code integer,
            last_exit_signal text,
            last_exit_at timestamptz,
            PRIMARY KEY (name, host)
        );
        """
    )


def downgrade() -> None:
    raise NotImplementedError("0007 is not reversible")
