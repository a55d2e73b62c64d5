"""Idempotency keys of the API's creates: the first answer to each client's key, replayed
to a retry with the same body (`adapters/idempotency.py`).

A row is claimed (no status yet) before the create runs and completed with its answer;
rows older than the keys' lifetime (24 h by default) are taken over by a new request
and purged.

Revision 0006, after 0005.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS ledgerflow_idempotency_keys (
            client text NOT NULL,
            key text NOT NULL,
            fingerprint text NOT NULL,
            claimed_at timestamptz NOT NULL,
            status integer,
            headers jsonb,
            body bytea,
            PRIMARY KEY (client, key)
        );
        CREATE INDEX IF NOT EXISTS ledgerflow_idempotency_keys_claimed_at
            ON ledgerflow_idempotency_keys (claimed_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ledgerflow_idempotency_keys")
