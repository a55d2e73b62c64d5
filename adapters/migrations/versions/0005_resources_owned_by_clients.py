"""SMS, orders and loan applications belong to the client that created them: a `client`
column on their read models (the token's subject), so a client's lists show its own. A
member lists its own accounts: an index of the accounts by member.

Rows from before have no owner (their events carry none: they read as `client: null`):
they stay NULL, reachable by operators and auditors only, so nothing needs rebuilding.

Revision 0005, after 0004.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLES = {
    "sms_view": "requested_at",
    "orders_view": "accepted_at",
    "lending_applications": "submitted_at",
}


def upgrade() -> None:
    for table, created in TABLES.items():
        op.execute(
            f"""
            ALTER TABLE {table} ADD COLUMN IF NOT EXISTS client text;
            CREATE INDEX IF NOT EXISTS {table}_client ON {table} (client, {created}, id);
            """
        )
    op.execute(
        """
        CREATE INDEX IF NOT EXISTS reimbursement_accounts_member
            ON reimbursement_accounts (bank_member_id, created_at, id);
        """
    )


def downgrade() -> None:
    raise NotImplementedError("0005 is not reversible")
