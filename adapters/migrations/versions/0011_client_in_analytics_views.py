"""The client that created an SMS, an order or a loan application, in the analytics views.

Revision 0005 gave those read models a `client` column (the creating client's token
subject: a service account, not a person); analysts need it to split volumes, failures
and decision times per client. A view can only gain columns at its end, so each view is
replaced with `client` appended; rows from before 0005 read as NULL there too.

Revision 0011, after 0010.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

WITH_CLIENT = """
CREATE OR REPLACE VIEW analytics.sms_messages AS
SELECT id,
       message_id,
       correlation_id,
       status,
       attempts,
       provider_message_id,
       last_error,
       requested_at,
       CASE WHEN status = 'sent' THEN finished_at END AS sent_at,
       finished_at,
       updated_at,
       client
  FROM sms_view;

CREATE OR REPLACE VIEW analytics.orders AS
SELECT id,
       type,
       side,
       instrument,
       limit_price,
       quantity,
       status,
       attempts,
       last_error,
       exchange_order_id,
       accepted_at,
       placed_at,
       filled_quantity,
       round(filled_quantity::numeric / quantity, 4) AS fill_ratio,
       notional,
       round(notional / nullif(filled_quantity, 0), 4) AS average_price,
       updated_at,
       client
  FROM orders_view;

CREATE OR REPLACE VIEW analytics.loan_applications AS
SELECT id,
       amount,
       currency,
       term_months,
       status,
       job_id,
       note,
       submitted_at,
       decided_at,
       CASE WHEN status IN ('completed', 'rejected')
            THEN extract(epoch FROM decided_at - submitted_at) END AS seconds_to_decide,
       updated_at,
       client
  FROM lending_applications;
"""


def upgrade() -> None:
    op.execute(WITH_CLIENT)


def downgrade() -> None:
    raise NotImplementedError("0011 is not reversible")
