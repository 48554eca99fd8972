"""A client's stored payment methods: saving one (a Stripe SetupIntent), listing, the default, removing.

Saving happens in two steps, as Stripe designed it: `start_setup` makes (or reuses) the client's Stripe
customer on the MSP's connected account and a SetupIntent, whose client secret the front end confirms with
Stripe.js; `finish_setup` reads the SetupIntent back and keeps the method. A caller holding a PaymentMethod id
already (from Stripe.js, or a test method) can confirm in `start_setup` directly.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from domain.auth import Principal, Scope
from domain.connections import Provider
from domain.errors import FieldError, InvalidState, NotFound, ValidationFailed
from domain.events import DomainEvent
from domain.ids import new_id
from domain.payment_gateway import MethodsGateway, SetupOutcome
from domain.payments import MethodKind, PaymentMethod, PaymentRefused
from domain.ports import Clock
from domain.usecases.payment_ports import PaymentsUnitOfWork

METHOD_SAVED = "payment_method.saved"
METHOD_REMOVED = "payment_method.removed"


@dataclass(frozen=True)
class SetupStarted:
    setup_intent_id: str
    status: str
    client_secret: str | None
    method: PaymentMethod | None  # saved already when confirmed at once
    failure_message: str | None


def _kind(kind: str) -> MethodKind:
    try:
        return MethodKind(kind)
    except ValueError:
        raise ValidationFailed([FieldError("kind", "must be card or us_bank_account")]) from None


async def _account(uow: PaymentsUnitOfWork) -> str:
    connection = await uow.connections.by_provider(Provider.STRIPE)
    if connection is None or not connection.external_id:
        raise PaymentRefused("Stripe is not connected: connect it before saving payment methods.")
    return connection.external_id


async def start_setup(
    uow: PaymentsUnitOfWork,
    gateway: MethodsGateway,
    principal: Principal,
    clock: Clock,
    client_id: uuid.UUID,
    kind: str,
    payment_method: str | None = None,
    mandate: tuple[str, str] | None = None,
) -> SetupStarted:
    principal.require(Scope.PAYMENTS_WRITE)
    method_kind = _kind(kind)
    if method_kind is MethodKind.BANK and payment_method and mandate is None:
        raise ValidationFailed([FieldError("mandate", "a bank account needs the payer's mandate acceptance")])
    client = await uow.clients.get(client_id)
    if client is None:
        raise NotFound("client", client_id)
    account = await _account(uow)
    customer = await uow.payments.customer(client_id, account)
    if customer is None:
        customer = await gateway.create_customer(account, client.name, client.billing_email, str(client_id))
        await uow.payments.add_customer(client_id, account, customer, clock.now())
    key = f"arbridge-setup-{new_id()}"
    outcome = await gateway.setup(account, customer, method_kind.value, payment_method, key, mandate)
    saved = await _keep(uow, clock, client_id, outcome) if outcome.method is not None else None
    await uow.commit()  # the customer is kept even when the method was refused
    return SetupStarted(outcome.setup_intent_id, outcome.status, outcome.client_secret, saved, outcome.failure_message)


async def finish_setup(
    uow: PaymentsUnitOfWork, gateway: MethodsGateway, principal: Principal, clock: Clock, client_id: uuid.UUID,
    setup_intent_id: str,
) -> PaymentMethod:  # fmt: skip
    principal.require(Scope.PAYMENTS_WRITE)
    if await uow.clients.get(client_id) is None:
        raise NotFound("client", client_id)
    account = await _account(uow)
    customer = await uow.payments.customer(client_id, account)
    outcome = await gateway.setup_intent(account, setup_intent_id)
    if customer is None or outcome.customer != customer:
        raise NotFound("setup intent", setup_intent_id)  # not this client's: as if it did not exist
    if outcome.method is None:
        raise InvalidState(f"The setup is {outcome.status}: {outcome.failure_message or 'not finished yet'}.")
    kept = await _keep(uow, clock, client_id, outcome)
    await uow.commit()
    return kept


async def _keep(uow: PaymentsUnitOfWork, clock: Clock, client_id: uuid.UUID, outcome: SetupOutcome) -> PaymentMethod:
    assert outcome.method is not None
    d, now = outcome.method, clock.now()
    first = not await uow.payments.methods(client_id)
    method = PaymentMethod(
        id=new_id(), client_id=client_id, stripe_payment_method_id=d.stripe_id, kind=MethodKind(d.kind),
        brand=d.brand, funding=d.funding, last4=d.last4, exp_month=d.exp_month, exp_year=d.exp_year,
        bank_name=d.bank_name, is_default=first, active=True, created_at=now, updated_at=now,
    )  # fmt: skip
    kept = await uow.payments.add_method(method)
    await uow.outbox.add(DomainEvent(METHOD_SAVED, uow.tenant_id, kept.id, now, method_snapshot(kept)))
    return kept


def method_snapshot(m: PaymentMethod) -> dict[str, object]:
    return {
        "id": str(m.id), "client_id": str(m.client_id), "kind": m.kind.value, "brand": m.brand,
        "funding": m.funding, "last4": m.last4, "exp_month": m.exp_month, "exp_year": m.exp_year,
        "is_default": m.is_default,
    }  # fmt: skip


async def list_methods(uow: PaymentsUnitOfWork, principal: Principal, client_id: uuid.UUID) -> list[PaymentMethod]:
    principal.require(Scope.INVOICES_READ)
    return await uow.payments.methods(client_id)


async def _owned(uow: PaymentsUnitOfWork, method_id: uuid.UUID) -> PaymentMethod:
    method = await uow.payments.method(method_id)
    if method is None or not method.active:
        raise NotFound("payment method", method_id)
    return method


async def make_default(
    uow: PaymentsUnitOfWork, principal: Principal, clock: Clock, method_id: uuid.UUID
) -> PaymentMethod:
    principal.require(Scope.PAYMENTS_WRITE)
    method = await _owned(uow, method_id)
    await uow.payments.make_default(method, clock.now())
    method.is_default = True
    await uow.commit()
    return method


async def remove_method(
    uow: PaymentsUnitOfWork, gateway: MethodsGateway, principal: Principal, clock: Clock, method_id: uuid.UUID
) -> None:
    """Refused while a payment with this method is in flight (an ACH debit still settling, say)."""
    principal.require(Scope.PAYMENTS_WRITE)
    method = await _owned(uow, method_id)
    if await uow.payments.in_flight(method.id):
        raise InvalidState("A payment with this method is still in progress; remove it once the payment settles.")
    account = await _account(uow)
    await gateway.detach(account, method.stripe_payment_method_id)
    now = clock.now()
    await uow.payments.remove_method(method, now)
    await uow.outbox.add(DomainEvent(METHOD_REMOVED, uow.tenant_id, method.id, now, method_snapshot(method)))
    await uow.commit()


def last_day_window(today: date, days: int = 30) -> tuple[int, int]:
    """(year, month) of the last month a card must be valid through to still work `days` from `today`:
    a card valid through a month works until that month's end."""
    horizon = date.fromordinal(today.toordinal() + days)
    return (horizon.year, horizon.month - 1) if horizon.month > 1 else (horizon.year - 1, 12)


async def expiring_cards(
    uow: PaymentsUnitOfWork, principal: Principal, clock: Clock, days: int = 30
) -> list[PaymentMethod]:
    """Cards that stop working within `days` (so the MSP can ask for new ones before autopay fails)."""
    principal.require(Scope.INVOICES_READ)
    year, month = last_day_window(clock.now().date(), days)
    return await uow.payments.expiring(year, month)
