"""Bank accounts are held in a currency: `reimbursement_accounts.currency`.

Accounts opened before had no currency; their events are upcast to the documented
default (EUR, `domain.reimbursements.reference.DEFAULT_ACCOUNT_CURRENCY`), which is also
the column's default for their rows, so nothing needs rebuilding.

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
        ALTER TABLE reimbursement_accounts
            ADD COLUMN IF NOT EXISTS currency text NOT NULL DEFAULT 'EUR';
        """
    )


def downgrade() -> None:
    raise NotImplementedError("0006 is not reversible")
