"""The MSP's surcharge policy (kept on its Stripe connection) and the quote a payer sees before paying.

A surcharge is only ever added to a payment whose payer was shown it: the front end asks for a quote (the
disclosure text, the surcharge and the total card price), shows it, and sends the accepted surcharge with the
payment, which is checked again against the rules at that moment (domain/surcharge.py).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from domain.auth import Principal, Scope
from domain.clients import Client
from domain.connections import Connection, Provider
from domain.errors import NotFound
from domain.payments import MethodKind, PaymentMethod, PaymentRefused
from domain.ports import Clock, ConnectionsUnitOfWork
from domain.surcharge import (
    CardFacts,
    Payer,
    SurchargeDecision,
    SurchargePolicy,
    decide,
)
from domain.surcharge_disclosure import disclosure_text
from domain.surcharge_receipts import ReceiptLine, receipt_lines


def policy_to_json(p: SurchargePolicy) -> dict[str, Any]:
    data = asdict(p)
    data["notice_given_on"] = p.notice_given_on.isoformat() if p.notice_given_on else None
    data["exempt_client_ids"] = sorted(str(c) for c in p.exempt_client_ids)
    return data


def policy_from_json(data: dict[str, Any] | None) -> SurchargePolicy:
    if not data:
        return SurchargePolicy()
    notice = data.get("notice_given_on")
    fields = {k: v for k, v in data.items() if k in SurchargePolicy.__dataclass_fields__}
    return replace(
        SurchargePolicy(),
        **{
            **fields,
            "notice_given_on": date.fromisoformat(notice) if notice else None,
            "exempt_client_ids": frozenset(uuid.UUID(c) for c in data.get("exempt_client_ids", ())),
        },
    )


def surcharge_policy_of(stripe_connection: Connection) -> SurchargePolicy:
    return policy_from_json(stripe_connection.settings.get("surcharge"))


async def _stripe(uow: ConnectionsUnitOfWork, *, for_update: bool = False) -> Connection:
    connection = await uow.connections.by_provider(Provider.STRIPE, for_update=for_update)
    if connection is None:
        raise PaymentRefused("Stripe is not connected: connect it before setting a surcharge policy.")
    return connection


async def get_policy(uow: ConnectionsUnitOfWork, principal: Principal) -> SurchargePolicy:
    principal.require(Scope.INVOICES_READ)
    return surcharge_policy_of(await _stripe(uow))


async def set_policy(
    uow: ConnectionsUnitOfWork, principal: Principal, clock: Clock, policy: SurchargePolicy
) -> SurchargePolicy:
    """Opting in is the MSP's decision (and its acquirer notice date starts the 30-day clock). Caller commits."""
    principal.require(Scope.ADMIN)
    checked = policy.validated()
    connection = await _stripe(uow, for_update=True)
    connection.settings = {**connection.settings, "surcharge": policy_to_json(checked)}
    connection.updated_at = clock.now()
    await uow.connections.save(connection)
    return checked


def decision_for(
    policy: SurchargePolicy, client: Client, method: PaymentMethod, amount: int, currency: str, today: date
) -> SurchargeDecision:
    """The rules applied to one payment: this client, this stored method, this amount, today."""
    card = CardFacts(method.brand or "unknown", method.funding or "unknown") if method.kind is MethodKind.CARD else None
    return decide(policy, card, Payer.of(client), amount, currency, on=today)


@dataclass(frozen=True)
class Quote:
    decision: SurchargeDecision
    disclosure: str | None  # what the payer must read before paying; None when no surcharge can apply
    receipt: list[ReceiptLine]


async def quote(
    uow: Any, principal: Principal, clock: Clock, client_id: uuid.UUID, method_id: uuid.UUID, amount: int,
    currency: str,
) -> Quote:  # fmt: skip
    """The surcharge (if any) for paying `amount` with this stored method, and the words to show first."""
    principal.require(Scope.INVOICES_READ)
    client = await uow.clients.get(client_id)
    method = await uow.payments.method(method_id)
    if client is None:
        raise NotFound("client", client_id)
    if method is None or method.client_id != client_id or not method.active:
        raise NotFound("payment method", method_id)
    policy = surcharge_policy_of(await _stripe(uow))
    today = clock.now().date()
    decision = decision_for(policy, client, method, amount, currency, today)
    text = disclosure_text(
        policy, Payer.of(client), on=today, brand=method.brand, amount_minor=amount, currency=currency
    )
    return Quote(decision, text if decision.reason.surcharges else None, receipt_lines(decision))
