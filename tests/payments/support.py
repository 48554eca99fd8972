"""A tenant with Stripe connected (the sandbox, in-process), a client and invoices, and the payment use cases
wired to them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.clock import SystemClock
from adapters.crypto import KeyRing
from adapters.db.uow import SqlUnitOfWork
from adapters.stripe.client import stripe_client
from adapters.stripe.gateway import StripeGateway
from adapters.stripe.methods import StripeMethods
from adapters.vendor_config import StripeSettings
from domain.auth import ALL_SCOPES, Principal
from domain.clients import NewClient
from domain.connections import Connection, ConnectionStatus, Provider
from domain.ids import new_id
from domain.invoices import Invoice, NewInvoice, NewInvoiceLine
from domain.payments import Allocation, MethodKind, PaymentMethod, PayRequest
from domain.usecases import clients as client_uc
from domain.usecases import invoices as invoice_uc
from domain.usecases import payment_methods as methods_uc
from sandbox.stripe_sandbox import StripeState, create_app
from tests.conftest import new_tenant

BASE = "http://stripe.test"


@dataclass
class Shop:
    engine: AsyncEngine
    tenant_id: uuid.UUID
    stripe: StripeState
    account: str
    ring: KeyRing | None = None
    clock: SystemClock = field(default_factory=SystemClock)

    @property
    def principal(self) -> Principal:
        return Principal(self.tenant_id, "tests", ALL_SCOPES)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self.tenant_id, self.ring)

    def _client(self) -> Any:
        transport = httpx.ASGITransport(app=create_app(self.stripe))
        return stripe_client(StripeSettings(self.stripe.secret_key, api_url=BASE, connect_url=BASE), transport)

    def gateway(self) -> StripeGateway:
        return StripeGateway(self._client())

    def methods(self) -> StripeMethods:
        return StripeMethods(self._client())

    async def new_client(self, name: str = "Contoso Dental", state: str = "CA") -> uuid.UUID:
        from domain.clients import Address

        async with self.uow() as uow:
            c = await client_uc.create_client(
                uow,
                self.principal,
                self.clock,
                NewClient(name, "ap@contoso.example", Address(state=state, country="US")),
            )
            await uow.commit()
        return c.id

    async def new_invoice(self, client_id: uuid.UUID, amount: int = 50_000, currency: str = "USD") -> Invoice:
        today = date.today()
        new = NewInvoice(
            client_id, f"INV-{new_id().hex[-8:]}", currency, today, today + timedelta(days=30),
            [NewInvoiceLine("Managed services", Decimal(1), amount)],
        )  # fmt: skip
        async with self.uow() as uow:
            invoice = await invoice_uc.create_invoice(uow, self.principal, self.clock, new)
            await uow.commit()
        return invoice

    async def invoice(self, invoice_id: uuid.UUID) -> Invoice:
        async with self.uow() as uow:
            found = await uow.invoices.get(invoice_id)
        assert found is not None
        return found

    async def save_method(self, client_id: uuid.UUID, token: str = "pm_card_visa", kind: str = "card") -> PaymentMethod:
        mandate = ("203.0.113.9", "pytest") if kind == "us_bank_account" else None
        async with self.uow() as uow:
            started = await methods_uc.start_setup(
                uow, self.methods(), self.principal, self.clock, client_id, kind, token, mandate
            )
        assert started.method is not None, started
        return started.method

    async def attach_directly(self, client_id: uuid.UUID, token: str) -> PaymentMethod:
        """A card saved at Stripe without a SetupIntent (as a card saved long ago, before its bank started
        asking for 3-D Secure), made the client's default: how to test what happens to later charges."""
        async with self.uow() as uow:
            customer = await uow.payments.customer(client_id, self.account)
        assert customer, "save a method through the setup flow first: it creates the Stripe customer"
        pm = self.stripe.attach_method(customer, token, account=self.account)
        now = self.clock.now()
        card = pm["card"]
        method = PaymentMethod(
            new_id(), client_id, pm["id"], MethodKind.CARD, card["brand"], card["funding"], card["last4"],
            card["exp_month"], card["exp_year"], None, False, True, now, now,
        )  # fmt: skip
        async with self.uow() as uow:
            kept = await uow.payments.add_method(method)
            await uow.payments.make_default(kept, now)
            await uow.commit()
        return kept

    def pay_request(
        self, client_id: uuid.UUID, *parts: tuple[uuid.UUID, int], method_id: uuid.UUID | None = None
    ) -> PayRequest:
        return PayRequest(client_id, [Allocation(i, a) for i, a in parts], "USD", method_id)


async def shop(engine: AsyncEngine, name: str = "Payments MSP", state: StripeState | None = None) -> Shop:
    """`state`: a Stripe sandbox to share (the session's, whose webhooks reach the test app); else a new one."""
    creds = await new_tenant(engine, name)
    state = state or StripeState(seed=7)
    account = state.seed_account(name=name)
    now = SystemClock().now()
    connection = Connection(
        tenant_id=creds.tenant_id, id=new_id(), provider=Provider.STRIPE, status=ConnectionStatus.ACTIVE,
        external_id=account, display_name=name, scopes=["read_write"], created_at=now, updated_at=now,
    )  # fmt: skip
    async with SqlUnitOfWork(engine, creds.tenant_id) as uow:
        await uow.connections.save(connection)
        await uow.commit()
    return Shop(engine, creds.tenant_id, state, account)
