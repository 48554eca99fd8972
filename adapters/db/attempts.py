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
from domain.usecases.payment_ports import AttemptFacts, Settlement

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


# The request keys' advisory locks (in key order), then the invoices' row locks in id order, in one statement:
# `k` (kept apart from the join by OFFSET 0) is computed, taking the locks, before the lateral scan that locks
# the invoices runs for its row. Requests with one key queue on its lock; requests for one invoice, on its row.
# Every payer takes all its keys before any invoice row, each kind in one order, so payers never deadlock. The
# arguments come through `k` too, so that custom plans look no cheaper than the generic one (see _OPEN).
_LOCK = Statement("""
SELECT count(*) FROM (
    SELECT COALESCE((
               SELECT bool_and(pg_advisory_xact_lock(
                          hashtextextended($tenant::uuid::text || ':payment:' || ks.key, 0))::text = '')
               FROM (SELECT DISTINCT unnest($keys::text[]) AS key ORDER BY 1) ks), true) AS done,
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


# One row per request asked about (a payment's one, or a run's many), in their order. The arguments come in
# through `arg`, a subquery the planner keeps apart (OFFSET 0): were they plain parameters, every custom plan
# would fold them in (one invoice, no method id) and look cheaper than the generic plan, and PostgreSQL would
# plan this statement of a dozen subqueries afresh on every execution. A request's invoices travel flattened,
# each with its request's number (`inv_requests`): PostgreSQL's arrays cannot hold lists of unequal length.
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
FROM (SELECT r.n, r.key, r.method_id, r.client_id,
             ARRAY(SELECT x.id FROM unnest($inv_requests::int[], $inv_ids::uuid[]) AS x(n, id)
                   WHERE x.n = r.n ORDER BY x.id) AS invoice_ids
      FROM unnest($keys::text[], $method_ids::uuid[], $client_ids::uuid[]) WITH ORDINALITY
           AS r(key, method_id, client_id, n)
      OFFSET 0) AS arg
LEFT JOIN LATERAL (
    SELECT external_id, settings FROM connections WHERE tenant_id = $tenant AND provider = 'stripe' LIMIT 1
) c ON true
ORDER BY arg.n
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

# Payments under their row locks, in id order, with their allocations (a run's settlement: its invoices are
# locked after all of its payments, by _LOCK_INVOICES, so it never holds an invoice while waiting for a payment).
_LOCK_PAYMENTS = Statement(f"""
SELECT {PAYMENT_COLUMNS},
    ARRAY(SELECT row(a.invoice_id, a.amount) FROM payment_allocations a
          WHERE a.tenant_id = $tenant AND a.payment_id = p.id ORDER BY a.invoice_id) AS allocations
FROM payments p WHERE p.tenant_id = $tenant AND p.id = ANY($ids::uuid[]) ORDER BY p.id FOR UPDATE OF p
""")

# Attempts and their allocations, any number, in one statement (the allocations' foreign key is checked at its
# end, after the payments are in).
_ADD = Statement("""
WITH p AS (
    INSERT INTO payments (tenant_id, id, client_id, method_id, kind, currency, amount, surcharge, status,
                          recovery_point, request_key, stripe_account, created_at, updated_at)
    SELECT $tenant, u.id, u.client_id, u.method_id, u.kind, u.currency, u.amount, u.surcharge, u.status,
           u.recovery_point, u.request_key, u.stripe_account, u.created_at, u.created_at
    FROM unnest($ids::uuid[], $clients::uuid[], $methods::uuid[], $kinds::text[], $currencies::text[],
                $amounts::bigint[], $surcharges::bigint[], $statuses::text[], $points::text[], $keys::text[],
                $accounts::text[], $created::timestamptz[])
         AS u(id, client_id, method_id, kind, currency, amount, surcharge, status, recovery_point, request_key,
              stripe_account, created_at)
)
INSERT INTO payment_allocations (tenant_id, payment_id, invoice_id, amount)
SELECT $tenant, a.payment_id, a.invoice_id, a.amount
FROM unnest($alloc_payments::uuid[], $alloc_invoices::uuid[], $alloc_amounts::bigint[])
     AS a(payment_id, invoice_id, amount)
""")

_LOCK_INVOICES = Statement(f"""
SELECT {_INVOICE} FROM invoices i WHERE i.tenant_id = $tenant AND i.id = ANY($ids::uuid[]) ORDER BY i.id FOR UPDATE
""")

_SETTLE = Statement(f"""
WITH pay AS (
    UPDATE payments p SET status = u.status, recovery_point = u.recovery_point,
        stripe_payment_intent_id = u.intent_id, failure_code = u.failure_code, decline_code = u.decline_code,
        failure_message = u.failure_message, updated_at = u.updated_at
    FROM unnest($pay_ids::uuid[], $pay_statuses::text[], $pay_points::text[], $pay_intents::text[],
                $pay_failures::text[], $pay_declines::text[], $pay_messages::text[], $pay_updated::timestamptz[])
         AS u(id, status, recovery_point, intent_id, failure_code, decline_code, failure_message, updated_at)
    WHERE p.tenant_id = $tenant AND p.id = u.id
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


def _facts(r: Any) -> AttemptFacts:
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


def _invoices(rows: Sequence[Any]) -> dict[uuid.UUID, Invoice]:
    found = (_to_invoice(r, []) for r in rows)  # lines are not read: nothing on this path needs them
    return {i.id: i for i in found}


class AttemptRows(TenantRows):
    async def open_attempt(self, request_key: str | None, request: PayRequest) -> AttemptFacts:
        await self.lock_attempts([request_key] if request_key else [], [a.invoice_id for a in request.allocations])
        return await self.read_attempt(request_key, request)

    async def lock_attempts(self, request_keys: Sequence[str], invoice_ids: Sequence[uuid.UUID]) -> None:
        await self._fetchrow(_LOCK, {"keys": list(request_keys), "invoice_ids": sorted(set(invoice_ids))})

    async def read_attempt(self, request_key: str | None, request: PayRequest) -> AttemptFacts:
        [facts] = await self.read_attempts([(request_key, request)])
        return facts

    async def read_attempts(self, requests: Sequence[tuple[str | None, PayRequest]]) -> list[AttemptFacts]:
        invoices = [(n, inv) for n, (_, r) in enumerate(requests, 1) for inv in {a.invoice_id for a in r.allocations}]
        values = {
            "keys": [key for key, _ in requests], "method_ids": [r.method_id for _, r in requests],
            "client_ids": [r.client_id for _, r in requests],
            "inv_requests": [n for n, _ in invoices], "inv_ids": [inv for _, inv in invoices],
        }  # fmt: skip
        rows = await self._fetch(_OPEN.sql, *_OPEN.args(values))
        return [_facts(r) for r in rows]

    async def add(self, p: Payment) -> None:
        await self.add_many([p])

    async def add_many(self, payments: Sequence[Payment]) -> None:
        allocations = [(p.id, a) for p in payments for a in p.allocations]
        values = {
            "ids": [p.id for p in payments], "clients": [p.client_id for p in payments],
            "methods": [p.method_id for p in payments], "kinds": [p.kind.value for p in payments],
            "currencies": [p.currency for p in payments], "amounts": [p.amount for p in payments],
            "surcharges": [p.surcharge for p in payments], "statuses": [p.status.value for p in payments],
            "points": [p.recovery_point.value for p in payments], "keys": [p.request_key for p in payments],
            "accounts": [p.stripe_account for p in payments], "created": [p.created_at for p in payments],
            "alloc_payments": [pid for pid, _ in allocations], "alloc_invoices": [a.invoice_id for _, a in allocations],
            "alloc_amounts": [a.amount for _, a in allocations],
        }  # fmt: skip
        await self._fetchrow(_ADD, values)

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

    async def lock_for_settling(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        rows = await self._fetch(_LOCK_PAYMENTS.sql, *_LOCK_PAYMENTS.args({"ids": sorted(set(payment_ids))}))
        return {r[0]: payment_of(r, _allocations(r["allocations"])) for r in rows}

    async def record_settlement(self, s: Settlement) -> None:
        await self.record_settlements([s])

    async def record_settlements(self, settlements: Sequence[Settlement]) -> None:
        """Every settlement's writes in one statement. An invoice settled by several payments appears once,
        as the last of them left it (each settlement saw the ones before it)."""
        payments = [s.payment for s in settlements]
        invoices = list({i.id: i for s in settlements for i in s.invoices}.values())
        events = [e for s in settlements for e in s.events]
        txs = [tx for s in settlements for tx in s.postings]
        assert all(e.tenant_id == self.tenant_id for e in events), "events belong to the unit of work's tenant"
        postings = record_values(txs)
        values = {
            "pay_ids": [p.id for p in payments], "pay_statuses": [p.status.value for p in payments],
            "pay_points": [p.recovery_point.value for p in payments],
            "pay_intents": [p.stripe_payment_intent_id for p in payments],
            "pay_failures": [p.failure_code for p in payments], "pay_declines": [p.decline_code for p in payments],
            "pay_messages": [p.failure_message for p in payments], "pay_updated": [p.updated_at for p in payments],
            "inv_ids": [i.id for i in invoices], "inv_paid": [i.amount_paid for i in invoices],
            "inv_statuses": [i.status.value for i in invoices], "inv_updated": [i.updated_at for i in invoices],
            "ob_ids": [e.id for e in events], "ob_types": [e.type for e in events],
            "ob_subjects": [e.subject_id for e in events], "ob_payloads": [json.dumps(e.data) for e in events],
            "ob_at": [e.occurred_at for e in events],
            **postings,
        }  # fmt: skip
        r = await self._fetchrow(_SETTLE, values)
        if r["payments"] != len({p.id for p in payments}):
            raise RuntimeError(f"{len(payments) - r['payments']} of these payments are not there to settle")
        await SqlLedger(self.conn, self.tenant_id).recorded(txs, postings, r["ledger_recorded"], r["ledger_posted"])
