"""Disputes, payouts and payout lines: one tenant's rows, on the driver (tables of migration 0006)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from adapters.db.driver import TenantRows, driver
from domain.pagination import Page, PageRequest, page_of
from domain.usecases.disputes import Dispute
from domain.usecases.payouts import Payout, PayoutLine

_DISPUTE = "id, payment_id, stripe_dispute_id, currency, amount, fee, reason, status, created_at, updated_at"
_PAYOUT = (
    "p.id, p.stripe_payout_id, p.currency, p.amount, p.status, p.arrival_date, p.created_at, p.updated_at, "
    "COALESCE(t.gross, 0), COALESCE(t.fees, 0)"
)
_PAYOUT_FROM = (
    "payouts p LEFT JOIN LATERAL (SELECT sum(gross) AS gross, sum(fee) AS fees FROM payout_lines l "
    "WHERE l.tenant_id = p.tenant_id AND l.payout_id = p.id) t ON true"
)
# How far along a payout is: an event read earlier but committed later never moves it back (a bounced
# payout may still turn from paid to failed).
_RANK = "CASE {0} WHEN 'paid' THEN 1 WHEN 'failed' THEN 2 WHEN 'canceled' THEN 2 ELSE 0 END"


def _dispute(r: Any) -> Dispute:
    return Dispute(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9])


def _payout(r: Any) -> Payout:
    return Payout(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], gross=int(r[8]), fees=int(r[9]))


class SqlDisputesPayouts(TenantRows):
    # -- disputes ---------------------------------------------------------------------------------------

    async def save_dispute(self, d: Dispute) -> Dispute:
        rows = await self._fetch(
            "INSERT INTO disputes (tenant_id, id, payment_id, stripe_dispute_id, currency, amount, fee, reason, "
            "status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) "
            "ON CONFLICT (tenant_id, stripe_dispute_id) DO UPDATE SET amount = EXCLUDED.amount, "
            "fee = EXCLUDED.fee, reason = EXCLUDED.reason, updated_at = EXCLUDED.updated_at, "
            "status = CASE WHEN disputes.status IN ('won', 'lost') THEN disputes.status ELSE EXCLUDED.status END "
            f"RETURNING {_DISPUTE}",
            d.id, d.payment_id, d.stripe_dispute_id, d.currency, d.amount, d.fee, d.reason, d.status, d.created_at,
        )  # fmt: skip
        return _dispute(rows[0])

    async def disputes(self, page: PageRequest, payment_id: uuid.UUID | None = None) -> Page[Dispute]:
        where, args = "", list[Any]()
        if payment_id is not None:
            args.append(payment_id)
            where += f" AND payment_id = ${len(args) + 1}"
        if page.after is not None:
            args.append(page.after)
            where += f" AND id < ${len(args) + 1}"
        args.append(page.limit + 1)
        rows = await self._fetch(
            f"SELECT {_DISPUTE} FROM disputes WHERE tenant_id = $1{where} ORDER BY id DESC LIMIT ${len(args) + 1}",
            *args,
        )
        return page_of([_dispute(r) for r in rows], page.limit)

    async def match_payments(self, ids: Sequence[uuid.UUID], intents: Sequence[str]) -> dict[str, uuid.UUID]:
        if not ids and not intents:
            return {}
        rows = await self._fetch(
            "SELECT id, stripe_payment_intent_id FROM payments WHERE tenant_id = $1 "
            "AND (id = ANY($2::uuid[]) OR stripe_payment_intent_id = ANY($3::text[]))",
            list(ids),
            list(intents),
        )
        found: dict[str, uuid.UUID] = {}
        for payment_id, intent in rows:
            found[str(payment_id)] = payment_id
            if intent:
                found[intent] = payment_id
        return found

    # -- payouts ----------------------------------------------------------------------------------------

    async def save_payout(self, p: Payout) -> Payout:
        rows = await self._fetch(
            "INSERT INTO payouts (tenant_id, id, stripe_payout_id, currency, amount, status, arrival_date, "
            "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) "
            "ON CONFLICT (tenant_id, stripe_payout_id) DO UPDATE SET updated_at = EXCLUDED.updated_at, "
            "amount = EXCLUDED.amount, arrival_date = EXCLUDED.arrival_date, "
            f"status = CASE WHEN {_RANK.format('EXCLUDED.status')} >= {_RANK.format('payouts.status')} "
            "THEN EXCLUDED.status ELSE payouts.status END "
            "RETURNING id, stripe_payout_id, currency, amount, status, arrival_date, created_at, updated_at, 0, 0",
            p.id, p.stripe_payout_id, p.currency, p.amount, p.status, p.arrival_date, p.created_at,
        )  # fmt: skip
        return _payout(rows[0])

    async def add_payout_lines(self, payout_id: uuid.UUID, lines: Sequence[PayoutLine]) -> None:
        if not lines:
            return
        await (await driver(self.conn)).execute(
            "INSERT INTO payout_lines (tenant_id, payout_id, balance_transaction_id, kind, payment_id, gross, fee, "
            "net) SELECT $1, $2, u.bt, u.kind, u.payment_id, u.gross, u.fee, u.net FROM unnest($3::text[], "
            "$4::text[], $5::uuid[], $6::bigint[], $7::bigint[], $8::bigint[]) AS u(bt, kind, payment_id, gross, "
            "fee, net) ON CONFLICT (tenant_id, payout_id, balance_transaction_id) DO NOTHING",
            self.tenant_id, payout_id, [x.balance_transaction_id for x in lines], [x.kind for x in lines],
            [x.payment_id for x in lines], [x.gross for x in lines], [x.fee for x in lines], [x.net for x in lines],
        )  # fmt: skip

    async def payout(self, payout_id: uuid.UUID) -> Payout | None:
        rows = await self._fetch(
            f"SELECT {_PAYOUT} FROM {_PAYOUT_FROM} WHERE p.tenant_id = $1 AND p.id = $2", payout_id
        )
        if not rows:
            return None
        found = _payout(rows[0])
        lines = await self._fetch(
            "SELECT balance_transaction_id, kind, payment_id, gross, fee, net FROM payout_lines "
            "WHERE tenant_id = $1 AND payout_id = $2 ORDER BY balance_transaction_id",
            payout_id,
        )
        found.lines = [PayoutLine(*r) for r in lines]
        return found

    async def payouts(self, page: PageRequest) -> Page[Payout]:
        args: list[Any] = []
        where = ""
        if page.after is not None:
            args.append(page.after)
            where = f" AND p.id < ${len(args) + 1}"
        args.append(page.limit + 1)
        rows = await self._fetch(
            f"SELECT {_PAYOUT} FROM {_PAYOUT_FROM} WHERE p.tenant_id = $1{where} ORDER BY p.id DESC "
            f"LIMIT ${len(args) + 1}",
            *args,
        )
        return page_of([_payout(r) for r in rows], page.limit)
