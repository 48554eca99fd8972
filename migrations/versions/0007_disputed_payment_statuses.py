"""A payment's status follows its dispute: `disputed` while a chargeback is open, `dispute_lost` when it was
lost, `returned` for an ACH debit returned after it settled (back to `succeeded` when a dispute is won).

Payments disputed before this revision kept `succeeded`; they are brought up to what their disputes say. That
update reads and writes every tenant's rows, so row-level security is lifted from the two tables for the
length of this transaction only (their owner, who runs migrations, is otherwise held to it by FORCE).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from migrations.sql import run_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD = "'started', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled'"
_NEW = f"{_OLD}, 'disputed', 'dispute_lost', 'returned'"
# Stripe's dispute statuses that leave the money with the MSP: won, and the inquiries (no funds withdrawn).
_NOT_HELD = "'won', 'lost', 'warning_needs_response', 'warning_under_review', 'warning_closed'"


def _without_rls(statements: str) -> str:
    return f"""
    ALTER TABLE payments NO FORCE ROW LEVEL SECURITY;
    ALTER TABLE disputes NO FORCE ROW LEVEL SECURITY;
    {statements}
    ALTER TABLE payments FORCE ROW LEVEL SECURITY;
    ALTER TABLE disputes FORCE ROW LEVEL SECURITY;
    """


def upgrade() -> None:
    run_script(f"""
    ALTER TABLE payments DROP CONSTRAINT payments_status_check;
    ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ({_NEW}));
    """)
    run_script(
        _without_rls(f"""
    WITH outcome AS (
        SELECT tenant_id, payment_id, bool_or(status = 'lost') AS lost,
               bool_or(status NOT IN ({_NOT_HELD})) AS held
        FROM disputes GROUP BY tenant_id, payment_id
    )
    UPDATE payments p
    SET status = CASE WHEN NOT o.lost THEN 'disputed'
                      WHEN p.kind = 'us_bank_account' THEN 'returned'
                      ELSE 'dispute_lost' END
    FROM outcome o
    WHERE p.tenant_id = o.tenant_id AND p.id = o.payment_id AND p.status = 'succeeded' AND (o.lost OR o.held);
    """)
    )


def downgrade() -> None:
    # The earlier code knew a disputed payment only as `succeeded` (its dispute rows said the rest).
    run_script(
        _without_rls(
            "UPDATE payments SET status = 'succeeded' WHERE status IN ('disputed', 'dispute_lost', 'returned');"
        )
    )
    run_script(f"""
    ALTER TABLE payments DROP CONSTRAINT payments_status_check;
    ALTER TABLE payments ADD CONSTRAINT payments_status_check CHECK (status IN ({_OLD}));
    """)
