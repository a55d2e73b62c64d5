"""Analytics views and an analyst role.

The `analytics` schema holds one view per read model (docs/read-models.md): the interface
analysts query, kept stable while the tables behind it change. Personal data (phone
numbers, message texts, names, email addresses, free-text descriptions) stays out of it.

The role `<database>_analyst` (the database's name, at most its first 55 characters,
then `_analyst`: roles are cluster-wide) may connect, and read those views and nothing
else: neither the event store (`*_events`) nor the platform's own tables nor the read
models' tables themselves (a view reads them with its owner's rights). It cannot log in:
an operator grants it to a login role (`GRANT <database>_analyst TO alice`). Views a later
revision adds to the schema are granted to it by the default privileges set here, when
the same role migrates.

Revision 0004, after 0003.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VIEWS = """
CREATE SCHEMA IF NOT EXISTS analytics;
COMMENT ON SCHEMA analytics IS
    'Views over the read models for analysts (docs/read-models.md); no personal data.';

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
       updated_at
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
       updated_at
  FROM orders_view;

CREATE OR REPLACE VIEW analytics.billing_customers AS
SELECT ref_id AS customer_id,
       currency,
       registered_at
  FROM billing_customers;

CREATE OR REPLACE VIEW analytics.invoices AS
SELECT ref_id AS invoice_id,
       customer_ref_id AS customer_id,
       amount,
       currency,
       status,
       cycle AS dunning_cycle,
       attempts,
       run_id,
       reason,
       last_error,
       next_charge_at,
       issued_at,
       updated_at
  FROM billing_invoices;

CREATE OR REPLACE VIEW analytics.charge_attempts AS
SELECT invoice.ref_id AS invoice_id,
       attempt.attempt,
       attempt.cycle AS dunning_cycle,
       attempt.key AS idempotency_key,
       attempt.run_id,
       attempt.started_at,
       attempt.outcome,
       attempt.detail,
       attempt.finished_at
  FROM billing_charge_attempts attempt
  JOIN billing_invoices invoice ON invoice.id = attempt.invoice_id;

CREATE OR REPLACE VIEW analytics.billing_runs AS
SELECT id AS run_id,
       period,
       trigger,
       started_at,
       selected,
       selection_complete
  FROM billing_runs;

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
       updated_at
  FROM lending_applications;

CREATE OR REPLACE VIEW analytics.banks AS
SELECT id,
       uid,
       name,
       location,
       created_at AS registered_at
  FROM reimbursement_banks;

CREATE OR REPLACE VIEW analytics.reimbursements AS
SELECT reimbursement.id,
       reimbursement.bank_id,
       bank.name AS bank_name,
       reimbursement.bank_account_id,
       reimbursement.member_id,
       reimbursement.amount,
       reimbursement.currency,
       reimbursement.status,
       reimbursement.payment_status,
       reimbursement.decided_by,
       reimbursement.submitted_at,
       reimbursement.decided_at,
       reimbursement.updated_at
  FROM reimbursements_view reimbursement
  LEFT JOIN reimbursement_banks bank ON bank.id = reimbursement.bank_id;
"""

# `quote_ident` rather than `format('%I')`: the statement passes through the driver,
# where `%` would be read as a placeholder.
ANALYST = """
DO $analyst$
DECLARE
    analyst text := left(current_database(), 55) || '_analyst';
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = analyst) THEN
        EXECUTE 'CREATE ROLE ' || quote_ident(analyst) || ' NOLOGIN';
    END IF;
    EXECUTE 'COMMENT ON ROLE ' || quote_ident(analyst) || ' IS '
        || quote_literal('Reads the analytics views of the database '
                         || current_database() || ' and nothing else');
    EXECUTE 'GRANT CONNECT ON DATABASE ' || quote_ident(current_database())
        || ' TO ' || quote_ident(analyst);
    EXECUTE 'GRANT USAGE ON SCHEMA analytics TO ' || quote_ident(analyst);
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA analytics TO ' || quote_ident(analyst);
    EXECUTE 'ALTER DEFAULT PRIVILEGES IN SCHEMA analytics GRANT SELECT ON TABLES TO '
        || quote_ident(analyst);
END
$analyst$;
"""

# Dropping the schema drops its views, their grants and its default privileges; then
# nothing of this database refers to the role any more.
DROP = """
DROP SCHEMA IF EXISTS analytics CASCADE;
DO $analyst$
DECLARE
    analyst text := left(current_database(), 55) || '_analyst';
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = analyst) THEN
        EXECUTE 'REVOKE CONNECT ON DATABASE ' || quote_ident(current_database())
            || ' FROM ' || quote_ident(analyst);
        EXECUTE 'DROP ROLE ' || quote_ident(analyst);
    END IF;
END
$analyst$;
"""


def upgrade() -> None:
    op.execute(VIEWS)
    op.execute(ANALYST)


def downgrade() -> None:
    op.execute(DROP)
