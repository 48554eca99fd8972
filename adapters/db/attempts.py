"""A payment attempt's hot path on the driver: each step's reads in one statement, its writes in another.

Autopay runs this once per charge, and on this path a round trip to PostgreSQL (a socket write and a wake-up on
each side) costs more CPU than the SQL it carries; SQLAlchemy's execution layer costs as much again. So:
- `open_attempt`: one statement takes the locks (the request key's advisory lock, then the invoices' row locks
  in id order), a second reads everything recording the attempt needs. Two, not one: in READ COMMITTED a
  statement reads as of its start, so what other attempts hold must be read by a statement that starts after
  the locks are ours, or two attempts could both see the balance free.
- `locked_for_settling`: the payment's row lock, its allocations and (for a success) its invoices' row locks,
  in one statement; locked rows are returned as they are once locked.
- `record_settlement`: the payment, its invoices, the outbox events and the ledger postings (adapters/db/
  ledger.py's RECORD_CTES, with the database's own checks) in one statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from adapters.db.driver import Statement, TenantRows
from adapters.db.invoices import _INVOICE_COLUMNS, _to_invoice
from adapters.db.ledger import RECORD_CTES, RECORD_RESULT, SqlLedger, record_values
from domain.invoices import Invoice
from domain.payments import Allocation, MethodKind, Payment, PaymentMethod, PaymentStatus, PayRequest, RecoveryPoint
from domain.usecases.payments import AttemptFacts, Settlement

PAYMENT_COLUMNS = (
    "id, client_id, method_id, kind, currency, amount, surcharge, status, recovery_point, request_key, "
    "stripe_account, created_at, updated_at, stripe_payment_intent_id, failure_code, decline_code, failure_message"
)
METHOD_COLUMNS = (
    "id, client_id, stripe_payment_method_id, kind, brand, funding, last4, exp_month, exp_year, bank_name, "
    "is_default, status = 'active', created_at, updated_at"
)
_INVOICE = ", ".join(f"i.{c.name}" for c in _INVOICE_COLUMNS)  # the order adapters/db/invoices.py unpacks


def method_of(r: Any) -> PaymentMethod:
    (id_, client_id, stripe_id, kind, brand, funding, last4, exp_month, exp_year, bank, default, active, at, upd) = r
    return PaymentMethod(
        id_, client_id, stripe_id, MethodKind(kind), brand, funding, last4, exp_month, exp_year, bank, default,
        active, at, upd,
    )  # fmt: skip


def payment_of(r: Any, allocations: list[Allocation]) -> Payment:
    return Payment(
        id=r[0], client_id=r[1], method_id=r[2], kind=MethodKind(r[3]), currency=r[4], amount=r[5],
        surcharge=r[6], allocations=allocations, status=PaymentStatus(r[7]), recovery_point=RecoveryPoint(r[8]),
        request_key=r[9], stripe_account=r[10], created_at=r[11], updated_at=r[12],
        stripe_payment_intent_id=r[13], failure_code=r[14], decline_code=r[15], failure_message=r[16],
    )  # fmt: skip


# The request key's advisory lock, then the invoices' row locks in id order, in one statement: `k` (kept apart
# from the join by OFFSET 0) is computed, taking the lock, before the lateral scan that locks the invoices runs
# for its row. Requests with one key queue on the first lock; requests for one invoice, on its row. The
# arguments come through `k` too, so that custom plans look no cheaper than the generic one (see _OPEN).
_LOCK = Statement("""
SELECT count(*) FROM (
    SELECT $key::text IS NULL
           OR pg_advisory_xact_lock(hashtextextended($tenant::uuid::text || ':payment:' || $key, 0))::text = ''
           AS done,
           $invoice_ids::uuid[] AS invoice_ids
    OFFSET 0
) k
CROSS JOIN LATERAL (
    SELECT 1 FROM invoices i
    WHERE i.tenant_id = $tenant AND i.id = ANY(k.invoice_ids) AND k.done
    ORDER BY i.id FOR UPDATE OF i
) l
""")
_LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || ':payment:' || $2, 0))"


# The arguments come in through `arg`, a subquery the planner keeps apart (OFFSET 0): were they plain parameters,
# every custom plan would fold them in (one invoice, no method id) and look cheaper than the generic plan, and
# PostgreSQL would plan this statement of a dozen subqueries afresh on every execution.
_OPEN = Statement(f"""
SELECT
    (SELECT row({PAYMENT_COLUMNS}) FROM payments WHERE tenant_id = $tenant AND request_key = arg.key) AS existing,
    ARRAY(SELECT row(a.invoice_id, a.amount) FROM payment_allocations a
          JOIN payments p ON p.tenant_id = a.tenant_id AND p.id = a.payment_id
          WHERE a.tenant_id = $tenant AND p.request_key = arg.key ORDER BY a.invoice_id) AS existing_allocations,
    c.external_id AS stripe_account,
    c.settings::text AS stripe_settings,
    COALESCE(
        (SELECT row({METHOD_COLUMNS}) FROM payment_methods WHERE tenant_id = $tenant AND id = arg.method_id),
        (SELECT row({METHOD_COLUMNS}) FROM payment_methods
         WHERE tenant_id = $tenant AND arg.method_id IS NULL AND client_id = arg.client_id AND is_default
           AND status = 'active')
    ) AS method,
    (SELECT stripe_customer_id FROM stripe_customers
     WHERE tenant_id = $tenant AND client_id = arg.client_id AND stripe_account = c.external_id) AS customer,
    -- One primary-key lookup per invoice asked for (LIMIT keeps the planner from joining the tenant's invoices).
    ARRAY(SELECT row({_INVOICE}) FROM unnest(arg.invoice_ids) AS x(id)
          CROSS JOIN LATERAL (SELECT * FROM invoices WHERE tenant_id = $tenant AND id = x.id LIMIT 1) i) AS invoices,
    -- What attempts in flight (started, or ACH processing) hold against each invoice.
    ARRAY(SELECT row(a.invoice_id, sum(a.amount)::bigint) FROM payment_allocations a
          JOIN payments p ON p.tenant_id = a.tenant_id AND p.id = a.payment_id
          WHERE a.tenant_id = $tenant AND a.invoice_id = ANY(arg.invoice_ids)
            AND p.status IN ('started', 'processing')
          GROUP BY a.invoice_id) AS held
FROM (SELECT $key::text AS key, $method_id::uuid AS method_id, $client_id::uuid AS client_id,
             $invoice_ids::uuid[] AS invoice_ids OFFSET 0) AS arg
LEFT JOIN LATERAL (
    SELECT external_id, settings FROM connections WHERE tenant_id = $tenant AND provider = 'stripe' LIMIT 1
) c ON true
""")

# The payment locked first; the subqueries refer to it, so they run (and lock the invoices) after it.
_SETTLING = """
WITH p AS (SELECT {payment} FROM payments WHERE tenant_id = $tenant AND id = $payment_id FOR UPDATE)
SELECT p.*,
    ARRAY(SELECT row(a.invoice_id, a.amount) FROM payment_allocations a
          WHERE a.tenant_id = $tenant AND a.payment_id = p.id ORDER BY a.invoice_id) AS allocations,
    {invoices} AS invoices
FROM p
"""
_SETTLING_INVOICES = f"""ARRAY(
    SELECT row({_INVOICE}) FROM invoices i
    WHERE i.tenant_id = $tenant
      AND i.id IN (SELECT a.invoice_id FROM payment_allocations a WHERE a.tenant_id = $tenant AND a.payment_id = p.id)
    ORDER BY i.id FOR UPDATE)"""
_LOCKED = Statement(_SETTLING.format(payment=PAYMENT_COLUMNS, invoices=_SETTLING_INVOICES))
_LOCKED_ALONE = Statement(_SETTLING.format(payment=PAYMENT_COLUMNS, invoices="ARRAY[]::record[]"))

_LOCK_INVOICES = Statement(f"""
SELECT {_INVOICE} FROM invoices i WHERE i.tenant_id = $tenant AND i.id = ANY($ids::uuid[]) ORDER BY i.id FOR UPDATE
""")

_SETTLE = Statement(f"""
WITH pay AS (
    UPDATE payments SET status = $status, recovery_point = $recovery_point,
        stripe_payment_intent_id = $intent_id, failure_code = $failure_code, decline_code = $decline_code,
        failure_message = $failure_message, updated_at = $updated_at
    WHERE tenant_id = $tenant AND id = $payment_id
    RETURNING 1
), inv AS (
    UPDATE invoices i SET amount_paid = u.amount_paid, status = u.status, updated_at = u.updated_at
    FROM unnest($inv_ids::uuid[], $inv_paid::bigint[], $inv_statuses::text[], $inv_updated::timestamptz[])
         AS u(id, amount_paid, status, updated_at)
    WHERE i.tenant_id = $tenant AND i.id = u.id
    RETURNING 1
), ob AS (
    INSERT INTO outbox (tenant_id, id, event_type, subject_id, payload, occurred_at)
    SELECT $tenant, o.id, o.event_type, o.subject_id, o.payload::jsonb, o.occurred_at
    FROM unnest($ob_ids::uuid[], $ob_types::text[], $ob_subjects::uuid[], $ob_payloads::text[],
                $ob_at::timestamptz[]) AS o(id, event_type, subject_id, payload, occurred_at)
    RETURNING 1
), {RECORD_CTES}
SELECT (SELECT count(*) FROM pay) AS payments, {RECORD_RESULT}
""")


def _allocations(rows: Sequence[Any]) -> list[Allocation]:
    return [Allocation(invoice_id, amount) for invoice_id, amount in rows]


def _invoices(rows: Sequence[Any]) -> dict[uuid.UUID, Invoice]:
    found = (_to_invoice(r, []) for r in rows)  # lines are not read: nothing on this path needs them
    return {i.id: i for i in found}


class AttemptRows(TenantRows):
    async def open_attempt(self, request_key: str | None, request: PayRequest) -> AttemptFacts:
        invoice_ids = sorted({a.invoice_id for a in request.allocations})
        await self._fetchrow(_LOCK, {"key": request_key, "invoice_ids": invoice_ids})
        values = {"key": request_key, "method_id": request.method_id, "client_id": request.client_id,
                  "invoice_ids": invoice_ids}  # fmt: skip
        r = await self._fetchrow(_OPEN, values)
        existing = payment_of(r["existing"], _allocations(r["existing_allocations"])) if r["existing"] else None
        return AttemptFacts(
            existing=existing,
            stripe_account=r["stripe_account"],
            stripe_settings=json.loads(r["stripe_settings"]) if r["stripe_settings"] else {},
            method=method_of(r["method"]) if r["method"] else None,
            customer=r["customer"],
            invoices=_invoices(r["invoices"]),
            held={invoice_id: held for invoice_id, held in r["held"]},
        )

    async def lock_request_key(self, key: str) -> None:
        await self._execute(_LOCK_KEY, key)

    async def locked_for_settling(
        self, payment_id: uuid.UUID, *, with_invoices: bool
    ) -> tuple[Payment, dict[uuid.UUID, Invoice]] | None:
        r = await self._fetchrow(_LOCKED if with_invoices else _LOCKED_ALONE, {"payment_id": payment_id})
        if r is None:
            return None
        return payment_of(r, _allocations(r["allocations"])), _invoices(r["invoices"])

    async def lock_invoices(self, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Invoice]:
        raw = await self._driver()
        rows = await raw.fetch(_LOCK_INVOICES.sql, self.tenant_id, *_LOCK_INVOICES.args({"ids": list(invoice_ids)}))
        return _invoices(rows)

    async def record_settlement(self, s: Settlement) -> None:
        p = s.payment
        assert all(e.tenant_id == self.tenant_id for e in s.events), "events belong to the unit of work's tenant"
        postings = record_values(s.postings)
        values = {
            "payment_id": p.id, "status": p.status.value, "recovery_point": p.recovery_point.value,
            "intent_id": p.stripe_payment_intent_id, "failure_code": p.failure_code, "decline_code": p.decline_code,
            "failure_message": p.failure_message, "updated_at": p.updated_at,
            "inv_ids": [i.id for i in s.invoices], "inv_paid": [i.amount_paid for i in s.invoices],
            "inv_statuses": [i.status.value for i in s.invoices], "inv_updated": [i.updated_at for i in s.invoices],
            "ob_ids": [e.id for e in s.events], "ob_types": [e.type for e in s.events],
            "ob_subjects": [e.subject_id for e in s.events], "ob_payloads": [json.dumps(e.data) for e in s.events],
            "ob_at": [e.occurred_at for e in s.events],
            **postings,
        }  # fmt: skip
        r = await self._fetchrow(_SETTLE, values)
        if r["payments"] != 1:
            raise RuntimeError(f"payment {p.id} is not there to settle")
        await SqlLedger(self.conn, self.tenant_id).recorded(
            s.postings, postings, r["ledger_recorded"], r["ledger_posted"]
        )
