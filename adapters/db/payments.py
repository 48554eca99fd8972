"""Payments, their allocations, stored methods and Stripe customers: one tenant's rows, on the driver."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.db.attempts import METHOD_COLUMNS, PAYMENT_COLUMNS, AttemptRows, method_of, payment_of
from adapters.db.driver import driver
from domain.ids import new_id
from domain.pagination import Page, PageRequest, page_of
from domain.payments import Allocation, Payment, PaymentMethod

_PAYMENT, _METHOD, _method, _payment = PAYMENT_COLUMNS, METHOD_COLUMNS, method_of, payment_of


class SqlPayments(AttemptRows):
    """Payments and methods; the attempt's hot path (open, lock, settle) is AttemptRows's (attempts.py)."""

    # -- payments ---------------------------------------------------------------------------------------

    async def _allocations(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Allocation]]:
        rows = await self._fetch(
            "SELECT payment_id, invoice_id, amount FROM payment_allocations WHERE tenant_id = $1 "
            "AND payment_id = ANY($2::uuid[]) ORDER BY invoice_id",
            list(payment_ids),
        )
        found: dict[uuid.UUID, list[Allocation]] = {}
        for r in rows:
            found.setdefault(r[0], []).append(Allocation(r[1], r[2]))
        return found

    async def _payments(self, where: str, *args: Any) -> list[Payment]:
        rows = await self._fetch(f"SELECT {_PAYMENT} FROM payments WHERE tenant_id = $1 {where}", *args)
        allocations = await self._allocations([r[0] for r in rows]) if rows else {}
        return [_payment(r, allocations.get(r[0], [])) for r in rows]

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        found = await self._payments("AND id = $2" + (" FOR UPDATE" if for_update else ""), payment_id)
        return found[0] if found else None

    async def by_request_key(self, key: str) -> Payment | None:
        found = await self._payments("AND request_key = $2", key)
        return found[0] if found else None

    async def list_page(self, page: PageRequest, client_id: uuid.UUID | None = None) -> Page[Payment]:
        where, args = "", list[Any]()
        if client_id is not None:
            args.append(client_id)
            where += f" AND client_id = ${len(args) + 1}"
        if page.after is not None:
            args.append(page.after)
            where += f" AND id < ${len(args) + 1}"
        args.append(page.limit + 1)
        found = await self._payments(f"{where} ORDER BY id DESC LIMIT ${len(args) + 1}", *args)
        return page_of(found, page.limit)

    async def held(self, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        """What attempts still in flight (started, or ACH processing) hold against each invoice."""
        rows = await self._fetch(
            "SELECT a.invoice_id, sum(a.amount) FROM payment_allocations a JOIN payments p "
            "ON p.tenant_id = a.tenant_id AND p.id = a.payment_id WHERE a.tenant_id = $1 "
            "AND a.invoice_id = ANY($2::uuid[]) AND p.status IN ('started', 'processing') GROUP BY a.invoice_id",
            list(invoice_ids),
        )
        return {r[0]: int(r[1]) for r in rows}

    async def update(self, p: Payment, now: datetime) -> None:
        await self._execute(
            "UPDATE payments SET status = $3, recovery_point = $4, stripe_payment_intent_id = $5, failure_code = $6, "
            "decline_code = $7, failure_message = $8, updated_at = $9 WHERE tenant_id = $1 AND id = $2",
            p.id, p.status.value, p.recovery_point.value, p.stripe_payment_intent_id, p.failure_code,
            p.decline_code, p.failure_message, now,
        )  # fmt: skip

    # -- methods and customers --------------------------------------------------------------------------

    async def method(self, method_id: uuid.UUID) -> PaymentMethod | None:
        rows = await self._fetch(f"SELECT {_METHOD} FROM payment_methods WHERE tenant_id = $1 AND id = $2", method_id)
        return _method(rows[0]) if rows else None

    async def default_method(self, client_id: uuid.UUID) -> PaymentMethod | None:
        rows = await self._fetch(
            f"SELECT {_METHOD} FROM payment_methods WHERE tenant_id = $1 AND client_id = $2 "
            "AND is_default AND status = 'active'",
            client_id,
        )
        return _method(rows[0]) if rows else None

    async def customer(self, client_id: uuid.UUID, account: str) -> str | None:
        rows = await self._fetch(
            "SELECT stripe_customer_id FROM stripe_customers WHERE tenant_id = $1 AND client_id = $2 "
            "AND stripe_account = $3",
            client_id,
            account,
        )
        return str(rows[0][0]) if rows else None

    async def add_customer(self, client_id: uuid.UUID, account: str, customer: str, now: datetime) -> None:
        await self._execute(
            "INSERT INTO stripe_customers (tenant_id, id, client_id, stripe_account, stripe_customer_id, created_at) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, client_id, stripe_account) DO NOTHING",
            new_id(),
            client_id,
            account,
            customer,
            now,
        )

    async def add_method(self, m: PaymentMethod) -> PaymentMethod:
        """Insert, or return the one already saved with this Stripe id (a setup confirmed twice)."""
        await self._execute(
            "INSERT INTO payment_methods (tenant_id, id, client_id, stripe_payment_method_id, kind, brand, funding, "
            "last4, exp_month, exp_year, bank_name, is_default, status, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'active', $13, $13) "
            "ON CONFLICT (tenant_id, stripe_payment_method_id) DO NOTHING",
            m.id, m.client_id, m.stripe_payment_method_id, m.kind.value, m.brand, m.funding, m.last4, m.exp_month,
            m.exp_year, m.bank_name, m.is_default, m.created_at,
        )  # fmt: skip
        rows = await self._fetch(
            f"SELECT {_METHOD} FROM payment_methods WHERE tenant_id = $1 AND stripe_payment_method_id = $2",
            m.stripe_payment_method_id,
        )
        return _method(rows[0])

    async def methods(self, client_id: uuid.UUID) -> list[PaymentMethod]:
        rows = await self._fetch(
            f"SELECT {_METHOD} FROM payment_methods WHERE tenant_id = $1 AND client_id = $2 "
            "AND status = 'active' ORDER BY is_default DESC, id",
            client_id,
        )
        return [_method(r) for r in rows]

    async def expiring(self, year: int, month: int) -> list[PaymentMethod]:
        """Active cards whose last valid month is at or before (year, month)."""
        rows = await self._fetch(
            f"SELECT {_METHOD} FROM payment_methods WHERE tenant_id = $1 AND status = 'active' "
            "AND kind = 'card' AND (exp_year, exp_month) <= ($2, $3) ORDER BY exp_year, exp_month, id",
            year,
            month,
        )
        return [_method(r) for r in rows]

    async def make_default(self, m: PaymentMethod, now: datetime) -> None:
        await self._execute(
            "UPDATE payment_methods SET is_default = false, updated_at = $3 WHERE tenant_id = $1 AND client_id = $2 "
            "AND is_default",
            m.client_id,
            now,
        )
        await self._execute(
            "UPDATE payment_methods SET is_default = true, updated_at = $3 WHERE tenant_id = $1 AND id = $2", m.id, now
        )

    async def remove_method(self, m: PaymentMethod, now: datetime) -> None:
        await self._execute(
            "UPDATE payment_methods SET status = 'removed', is_default = false, updated_at = $3 "
            "WHERE tenant_id = $1 AND id = $2",
            m.id,
            now,
        )

    async def in_flight(self, method_id: uuid.UUID) -> bool:
        rows = await self._fetch(
            "SELECT 1 FROM payments WHERE tenant_id = $1 AND method_id = $2 AND status IN ('started', 'processing') "
            "LIMIT 1",
            method_id,
        )
        return bool(rows)

    # -- Stripe's webhook events -----------------------------------------------------------------------

    async def receive_event(
        self, event_id: str, event_type: str, account: str | None, payload: dict[str, Any], now: datetime
    ) -> uuid.UUID | None:
        rows = await self._fetch(
            "INSERT INTO stripe_events (tenant_id, id, event_id, event_type, stripe_account, payload, received_at) "
            "VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7) ON CONFLICT (tenant_id, event_id) DO NOTHING "
            "RETURNING id",
            new_id(),
            event_id,
            event_type,
            account,
            json.dumps(payload),
            now,
        )
        return rows[0][0] if rows else None

    async def event_payload(self, row_id: uuid.UUID) -> dict[str, Any] | None:
        rows = await self._fetch("SELECT payload::text FROM stripe_events WHERE tenant_id = $1 AND id = $2", row_id)
        return json.loads(rows[0][0]) if rows else None


async def tenant_of_stripe_account(conn: AsyncConnection, account: str) -> uuid.UUID | None:
    """Whose connected account this is (a Connect webhook names only the account)."""
    raw = await driver(conn)
    found = await raw.fetchval("SELECT tenant_id FROM find_tenant_by_stripe_account($1)", account)
    return found if isinstance(found, uuid.UUID) else None
