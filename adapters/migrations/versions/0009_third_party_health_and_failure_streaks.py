"""Third parties' health, shared by every worker process, and failure streaks on work.

- `ledgerflow_third_party_health`: one row per third party, its circuit breaker
  (domain/health.py): state, consecutive failures, the current window's calls and
  failures, when it last changed, when probes may go out next, the last error.
- `ledgerflow_work` gains the failure streak of a row: how many attempts in a row failed
  with the same kind of error, the first one's error and time, the last one's time (its
  error is `last_error`). A long outage updates the row instead of adding an event per
  attempt. Rows from before have no streak (0, NULL): nothing needs filling in.

Revision 0009, after 0008.
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE IF NOT EXISTS ledgerflow_third_party_health (
            party text PRIMARY KEY,
            state text NOT NULL DEFAULT 'closed'
                CHECK (state IN ('closed', 'open', 'half_open')),
            consecutive_failures integer NOT NULL DEFAULT 0,
            window_started_at timestamptz,
            window_calls integer NOT NULL DEFAULT 0,
            window_failures integer NOT NULL DEFAULT 0,
            changed_at timestamptz,
            retry_at timestamptz,
            last_error text
        );
        ALTER TABLE ledgerflow_work
            ADD COLUMN IF NOT EXISTS failures integer NOT NULL DEFAULT 0,
            ADD COLUMN IF NOT EXISTS first_error text,
            ADD COLUMN IF NOT EXISTS first_failed_at timestamptz,
            ADD COLUMN IF NOT EXISTS last_failed_at timestamptz;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS ledgerflow_third_party_health;
        ALTER TABLE ledgerflow_work
            DROP COLUMN IF EXISTS failures,
            DROP COLUMN IF EXISTS first_error,
            DROP COLUMN IF EXISTS first_failed_at,
            DROP COLUMN IF EXISTS last_failed_at;
        """
    )
