"""Refunds and their parts per invoice: one tenant's rows, on the driver (like adapters/db/payments.py)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from adapters.db.driver import TenantRows
from domain.pagination import Page, PageRequest, page_of
from domain.payments import Allocation
from domain.refunds import Refund, RefundStatus

_REFUND = (
    "r.id, r.payment_id, r.currency, r.amount, r.surcharge, r.status, r.reason, r.reopen_invoices, r.request_key, "
    "r.created_at, r.updated_at, r.stripe_refund_id, r.failure_reason"
)


def _refund(r: Any, allocations: list[Allocation]) -> Refund:
    return Refund(
        id=r[0], payment_id=r[1], currency=r[2], amount=r[3], surcharge=r[4], allocations=allocations,
        status=RefundStatus(r[5]), reason=r[6], reopen_invoices=r[7], request_key=r[8], created_at=r[9],
        updated_at=r[10], stripe_refund_id=r[11], failure_reason=r[12],
    )  # fmt: skip


class SqlRefunds(TenantRows):
    async def _allocations(self, refund_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Allocation]]:
        rows = await self._fetch(
            "SELECT refund_id, invoice_id, amount FROM refund_allocations WHERE tenant_id = $1 "
            "AND refund_id = ANY($2::uuid[]) ORDER BY invoice_id",
            list(refund_ids),
        )
        found: dict[uuid.UUID, list[Allocation]] = {}
        for r in rows:
            found.setdefault(r[0], []).append(Allocation(r[1], r[2]))
        return found

    async def _refunds(self, where: str, *args: Any, extra: str = "") -> list[tuple[Refund, Any]]:
        rows = await self._fetch(f"SELECT {_REFUND}{extra} FROM refunds r {where}", *args)
        allocations = await self._allocations([r[0] for r in rows]) if rows else {}
        return [(_refund(r, allocations.get(r[0], [])), r) for r in rows]

    async def get(self, refund_id: uuid.UUID, *, for_update: bool = False) -> Refund | None:
        lock = " FOR UPDATE" if for_update else ""
        found = await self._refunds(f"WHERE r.tenant_id = $1 AND r.id = $2{lock}", refund_id)
        return found[0][0] if found else None

    async def by_request_key(self, key: str) -> Refund | None:
        found = await self._refunds("WHERE r.tenant_id = $1 AND r.request_key = $2", key)
        return found[0][0] if found else None

    async def of_payment(self, payment_id: uuid.UUID) -> list[Refund]:
        found = await self._refunds("WHERE r.tenant_id = $1 AND r.payment_id = $2 ORDER BY r.id", payment_id)
        return [refund for refund, _ in found]

    async def unsettled_for_intent(self, payment_intent: str) -> list[tuple[Refund, str]]:
        found = await self._refunds(
            "JOIN payments p ON p.tenant_id = r.tenant_id AND p.id = r.payment_id WHERE r.tenant_id = $1 "
            "AND p.stripe_payment_intent_id = $2 AND r.status IN ('started', 'pending') ORDER BY r.id",
            payment_intent,
            extra=", p.stripe_account",
        )
        return [(refund, str(row[-1])) for refund, row in found]

    async def list_page(self, page: PageRequest, payment_id: uuid.UUID | None = None) -> Page[Refund]:
        where, args = "WHERE r.tenant_id = $1", list[Any]()
        if payment_id is not None:
            args.append(payment_id)
            where += f" AND r.payment_id = ${len(args) + 1}"
        if page.after is not None:
            args.append(page.after)
            where += f" AND r.id < ${len(args) + 1}"
        args.append(page.limit + 1)
        found = await self._refunds(f"{where} ORDER BY r.id DESC LIMIT ${len(args) + 1}", *args)
        return page_of([refund for refund, _ in found], page.limit)

    async def add(self, r: Refund) -> None:
        await self._execute(
            "INSERT INTO refunds (tenant_id, id, payment_id, currency, amount, surcharge, status, reason, "
            "reopen_invoices, request_key, stripe_refund_id, failure_reason, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
            r.id, r.payment_id, r.currency, r.amount, r.surcharge, r.status.value, r.reason, r.reopen_invoices,
            r.request_key, r.stripe_refund_id, r.failure_reason, r.created_at,
        )  # fmt: skip
        await self._execute(
            "INSERT INTO refund_allocations (tenant_id, refund_id, invoice_id, amount) "
            "SELECT $1, $2, u.invoice_id, u.amount FROM unnest($3::uuid[], $4::bigint[]) AS u(invoice_id, amount)",
            r.id,
            [a.invoice_id for a in r.allocations],
            [a.amount for a in r.allocations],
        )

    async def update(self, r: Refund, now: datetime) -> None:
        await self._execute(
            "UPDATE refunds SET status = $3, stripe_refund_id = $4, failure_reason = $5, updated_at = $6 "
            "WHERE tenant_id = $1 AND id = $2",
            r.id, r.status.value, r.stripe_refund_id, r.failure_reason, now,
        )  # fmt: skip
