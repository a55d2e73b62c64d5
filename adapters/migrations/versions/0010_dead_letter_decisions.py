"""Operators' decisions on dead letters, kept for good.

- `ledgerflow_dead_letter_decisions`: one row per replay or discard: the letter as its
  list names it (a `ledgerflow_dead_letters` id, or a RabbitMQ dead letter's message id),
  the dead-letter queue it was on, its message's id, the decision, who made it (role and
  subject), when (the platform's clock) and an optional note. On PostgreSQL the row is
  written in the transaction that replays or discards the letter.

Revision 0010, after 0009.
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS ledgerflow_dead_letter_decisions (
            id bigserial PRIMARY KEY,
            letter text NOT NULL,
            queue text NOT NULL,
            message_id text NOT NULL,
            decision text NOT NULL CHECK (decision IN ('replay', 'discard')),
            actor_role text NOT NULL,
            actor_subject text NOT NULL,
            decided_at timestamptz NOT NULL,
            note text
        );
        CREATE INDEX IF NOT EXISTS ledgerflow_dead_letter_decisions_recent
            ON ledgerflow_dead_letter_decisions (decided_at DESC, id DESC);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS ledgerflow_dead_letter_decisions")
