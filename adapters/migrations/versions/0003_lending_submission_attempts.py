"""Loan applications show their failed submission attempts: `attempts` (the number of
the round's last failed one, 0 for none) and `last_error` (why it failed).

Rows of applications from before have no such events: 0 and NULL are their values, so
nothing needs rebuilding.

Revision 0003, after 0002.
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE lending_applications
            ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS last_error text;
        """
    )


def downgrade() -> None:
    raise NotImplementedError("0003 is not reversible")
