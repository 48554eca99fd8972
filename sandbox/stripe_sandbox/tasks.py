"""Work Stripe does later, run by the state's schedule when the sandbox clock reaches it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sandbox.stripe_sandbox import attempts, charges, payouts, refunds

if TYPE_CHECKING:
    from sandbox.stripe_sandbox.context import Op

TASKS: dict[str, Callable[[Op, str], None]] = {
    "ach_settle": attempts.settle_ach,  # an ACH debit's result comes back from the bank
    "txn_available": charges.make_available,  # pending funds become available for payout
    "payout_paid": payouts.mark_paid,  # a payout arrives at the bank
    "refund_settle": refunds.settle,  # an ACH refund completes
}


def run(op: Op, kind: str, obj_id: str) -> None:
    TASKS[kind](op, obj_id)
