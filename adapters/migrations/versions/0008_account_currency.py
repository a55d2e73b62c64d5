"""Bank accounts are held in a currency: `reimbursement_accounts.currency`.

Accounts opened before had no currency; their events are upcast to the documented
default (EUR, `domain.reimbursements.reference.DEFAULT_ACCOUNT_CURRENCY`), which is also
the column's default for their rows, so nothing needs rebuilding.

Revision 0008, after 0007.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
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
    raise NotImplementedError("0008 is not reversible")
