"""Set-aside events: what a follower could not apply, the events waiting behind it, and
what operators decided about them.

A follower that cannot apply an event sets its aggregate aside (one open item per
follower and aggregate) and carries on; the aggregate's later events wait behind the
item, in log order, until an operator has it retried or skipped. Operators' requests
are rows of their own, carried out by the follower itself (the only writer of its read
model), each kept with who asked, when and what came of it.

Revision 0002, after 0001.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# `resolution` stays null while the item is open: `retried` (applied after a fix),
# `skipped` (never applied, `reason` says why) or `rebuilt` (the read model was rebuilt).
SET_ASIDE = """
CREATE TABLE IF NOT EXISTS ledgerflow_set_aside (
    id bigserial PRIMARY KEY,
    follower text NOT NULL,
    upstream text NOT NULL,
    aggregate_id uuid NOT NULL,
    notification_id bigint NOT NULL,
    version bigint NOT NULL,
    topic text NOT NULL,
    error_type text NOT NULL,
    error text NOT NULL,
    failures integer NOT NULL DEFAULT 1,
    set_aside_at timestamptz NOT NULL,
    failed_at timestamptz NOT NULL,
    resolution text CHECK (resolution IN ('retried', 'skipped', 'rebuilt')),
    resolved_by text,
    resolved_at timestamptz,
    reason text,
    CHECK ((resolution IS NULL) = (resolved_at IS NULL))
);
-- One open item per follower and aggregate; a follower reads its open items on every
-- catch-up, by this index.
CREATE UNIQUE INDEX IF NOT EXISTS ledgerflow_set_aside_open
    ON ledgerflow_set_aside (follower, upstream, aggregate_id) WHERE resolved_at IS NULL;

CREATE TABLE IF NOT EXISTS ledgerflow_set_aside_waiting (
    item_id bigint NOT NULL REFERENCES ledgerflow_set_aside (id) ON DELETE CASCADE,
    notification_id bigint NOT NULL,
    version bigint NOT NULL,
    topic text NOT NULL,
    PRIMARY KEY (item_id, notification_id)
);

CREATE TABLE IF NOT EXISTS ledgerflow_set_aside_actions (
    id bigserial PRIMARY KEY,
    item_id bigint NOT NULL REFERENCES ledgerflow_set_aside (id) ON DELETE CASCADE,
    action text NOT NULL CHECK (action IN ('retry', 'skip')),
    actor text NOT NULL,
    reason text,
    requested_at timestamptz NOT NULL,
    done_at timestamptz,
    outcome text CHECK (outcome IN ('applied', 'failed', 'skipped', 'superseded')),
    applied integer,
    error text,
    CHECK ((outcome IS NULL) = (done_at IS NULL))
);
CREATE INDEX IF NOT EXISTS ledgerflow_set_aside_actions_item
    ON ledgerflow_set_aside_actions (item_id, id);
-- At most one request waits per item: a second one is refused until it is carried out.
CREATE UNIQUE INDEX IF NOT EXISTS ledgerflow_set_aside_actions_pending
    ON ledgerflow_set_aside_actions (item_id) WHERE done_at IS NULL;
"""


def upgrade() -> None:
    op.execute(SET_ASIDE)


def downgrade() -> None:
    raise NotImplementedError("0002 is not reversible")
