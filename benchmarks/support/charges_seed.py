"""The data benchmarks/charges.py charges: tenants with Stripe connected, clients with a saved card, invoices.

Everything goes through the use cases and the sandbox over HTTP, as in production: per tenant a connected
account in the sandbox and its Stripe connection row (as tests/payments/support.py builds them); per client
`create_client`, then `start_setup` with the test token `pm_card_visa` (a Stripe customer on the account and a
confirmed SetupIntent: the client's default card); per invoice `create_invoice` and its `invoice_issued`
posting (AR / revenue), what the outbox handler would post, so the books the charges post to are whole.

`Charge` is one invoice to pay in full: its tenant, client and amount for our job, and the connected account,
customer and card for the baseline, which charges the same cards the same amounts.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.auth.clients import create_tenant
from adapters.clock import SystemClock
from adapters.db.uow import SqlUnitOfWork, tenant_transaction
from adapters.stripe.client import stripe_client
from adapters.stripe.methods import StripeMethods
from adapters.vendor_config import StripeSettings
from benchmarks.support.charges_sandbox import SECRET_KEY, sandbox_call
from benchmarks.support.servers import Served
from domain import ledger
from domain.auth import ALL_SCOPES, Principal
from domain.clients import Address, NewClient
from domain.connections import Connection, ConnectionStatus, Provider
from domain.ids import new_id
from domain.invoices import NewInvoice, NewInvoiceLine
from domain.usecases import clients as client_uc
from domain.usecases import invoices as invoice_uc
from domain.usecases import payment_methods as methods_uc

T = TypeVar("T")
CARD = "pm_card_visa"
SEEDED_TABLES = (
    "tenants", "connections", "clients", "stripe_customers", "payment_methods", "invoices", "invoice_lines",
    "ledger_accounts", "ledger_transactions", "ledger_entries", "outbox",
)  # fmt: skip


@dataclass(frozen=True)
class Charge:
    tenant_id: uuid.UUID
    client_id: uuid.UUID
    invoice_id: uuid.UUID
    amount: int  # minor units (USD cents): the invoice's total, paid in full
    account: str  # the tenant's connected account
    customer: str  # the client's Stripe customer on it
    payment_method: str  # the client's saved card

    def run_charge(self) -> dict[str, Any]:
        """This charge in a run job (workers/payments.py run_items): the invoice in full, autopay's key."""
        return {
            "client_id": str(self.client_id), "currency": "USD", "request_key": f"autopay-{self.invoice_id}",
            "invoices": [[str(self.invoice_id), self.amount]],
        }  # fmt: skip

    def baseline_args(self) -> list[Any]:
        return [self.account, self.customer, self.payment_method, self.amount]


@dataclass(frozen=True)
class Customer:
    tenant_id: uuid.UUID
    client_id: uuid.UUID
    account: str
    customer: str
    payment_method: str


@dataclass
class Seeded:
    tenants: list[uuid.UUID]
    charges: list[Charge]
    clients: int
    seconds: dict[str, float]


def amount_of(n: int) -> int:
    """Invoice totals from $50 to $999.99, spread evenly (never below Stripe's $0.50 minimum)."""
    return 5_000 + (n * 7_919) % 95_000


async def bounded(concurrency: int, items: Iterable[T], work: Callable[[T], Awaitable[Any]]) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(item: T) -> Any:
        async with sem:
            return await work(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


class Seeder:
    def __init__(self, engine: AsyncEngine, sandbox: Served, concurrency: int) -> None:
        self.engine, self.sandbox, self.concurrency = engine, sandbox, concurrency
        self.clock = SystemClock()
        settings = StripeSettings(SECRET_KEY, api_url=sandbox.url, connect_url=sandbox.url)
        self.methods = StripeMethods(stripe_client(settings))

    def uow(self, tenant_id: uuid.UUID) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id)

    async def tenant(self, n: int) -> tuple[uuid.UUID, str]:
        name = f"Charges MSP {n + 1}"
        tenant_id = await create_tenant(self.engine, name)
        account = str((await sandbox_call(self.sandbox, "POST", "/bench/account", name=name))["account"])
        now = self.clock.now()
        connection = Connection(
            tenant_id=tenant_id, id=new_id(), provider=Provider.STRIPE, status=ConnectionStatus.ACTIVE,
            external_id=account, display_name=name, scopes=["read_write"], created_at=now, updated_at=now,
        )  # fmt: skip
        async with self.uow(tenant_id) as uow:
            await uow.connections.save(connection)
            await uow.commit()
        return tenant_id, account

    async def customer(self, spec: tuple[uuid.UUID, str, int]) -> Customer:
        """A client with its card saved through the SetupIntent flow (the card becomes its default)."""
        tenant_id, account, n = spec
        principal = Principal(tenant_id, "bench", ALL_SCOPES)
        address = Address(state="CA", country="US")
        async with self.uow(tenant_id) as uow:
            new = NewClient(f"Client {n + 1} Dental", f"ap{n + 1}@client{n + 1}.example", address)
            client = await client_uc.create_client(uow, principal, self.clock, new)
            await uow.commit()
        async with self.uow(tenant_id) as uow:
            started = await methods_uc.start_setup(uow, self.methods, principal, self.clock, client.id, "card", CARD)
        if started.method is None:
            raise RuntimeError(f"saving {CARD} failed: {started.status} {started.failure_message}")
        async with self.uow(tenant_id) as uow:
            customer = await uow.payments.customer(client.id, account)
        assert customer is not None
        return Customer(tenant_id, client.id, account, customer, started.method.stripe_payment_method_id)

    async def invoice(self, spec: tuple[Customer, int]) -> Charge:
        """An open invoice of one line, and its invoice_issued posting, in one transaction."""
        c, n = spec
        principal = Principal(c.tenant_id, "bench", ALL_SCOPES)
        today = date.today()
        amount = amount_of(n)
        new = NewInvoice(
            c.client_id, f"INV-{n + 1:07d}", "USD", today, today + timedelta(days=30),
            [NewInvoiceLine("Managed services", Decimal(1), amount)],
        )  # fmt: skip
        async with self.uow(c.tenant_id) as uow:
            inv = await invoice_uc.create_invoice(uow, principal, self.clock, new)
            posting = ledger.invoice_issued(inv.id, amount=inv.total, currency=inv.currency, occurred_at=inv.created_at)
            await uow.ledger.record(posting)
            await uow.commit()
        return Charge(c.tenant_id, c.client_id, inv.id, inv.total, c.account, c.customer, c.payment_method)


async def seed(
    engine: AsyncEngine, owner_url: str, sandbox: Served, charges: int, tenants: int, clients_per_tenant: int
) -> Seeded:
    """`charges` invoices over `tenants` x `clients_per_tenant` clients (fewer clients when there are fewer
    invoices than that). The charges come back interleaved: tenant by tenant, then client by client, so the
    worker's concurrent jobs spread over every tenant and client rather than queueing behind one."""
    s = Seeder(engine, sandbox, concurrency=20)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    made = [await s.tenant(n) for n in range(tenants)]
    per_tenant = max(1, min(clients_per_tenant, -(-charges // tenants)))
    specs = [(tid, account, t * per_tenant + k) for k in range(per_tenant) for t, (tid, account) in enumerate(made)]
    customers: list[Customer] = await bounded(s.concurrency, specs, s.customer)
    seconds["tenants_and_cards"] = time.perf_counter() - started
    started = time.perf_counter()
    # customers are interleaved by tenant already: charge n goes to customer n mod len(customers).
    work = [(customers[n % len(customers)], n) for n in range(charges)]
    result: list[Charge] = await bounded(s.concurrency, work, s.invoice)
    seconds["invoices"] = time.perf_counter() - started
    await analyze(owner_url)
    return Seeded([tid for tid, _ in made], result, len(customers), seconds)


async def analyze(owner_url: str) -> None:
    """Settle the planner's statistics on the freshly filled tables (autovacuum may not have run yet); as the
    schema owner, the only role that may."""
    conn = await asyncpg.connect(owner_url)
    try:
        await conn.execute(f"ANALYZE {', '.join(SEEDED_TABLES)}")
    finally:
        await conn.close()


async def counts(engine: AsyncEngine, tenants: list[uuid.UUID]) -> dict[str, Any]:
    """What the charges left in the database, summed over the tenants: payments by status, invoices paid,
    ledger transactions by kind and entries; and the ledger's checks (stored balances = recomputed ones,
    no unbalanced transaction)."""
    out: dict[str, Any] = {"payments": {}, "invoices": {}, "ledger_transactions": {}, "ledger_entries": 0}
    problems: list[str] = []
    for tid in tenants:
        async with tenant_transaction(engine, tid) as conn:
            for key, sql in (
                ("payments", "SELECT status, count(*) FROM payments GROUP BY status"),
                ("invoices", "SELECT status, count(*) FROM invoices GROUP BY status"),
                ("ledger_transactions", "SELECT kind, count(*) FROM ledger_transactions GROUP BY kind"),
            ):
                for k, v in (await conn.execute(text(sql))).all():
                    out[key][k] = out[key].get(k, 0) + v
            out["ledger_entries"] += (await conn.execute(text("SELECT count(*) FROM ledger_entries"))).scalar_one()
        async with SqlUnitOfWork(engine, tid) as uow:
            stored, recomputed = await uow.ledger.balances(), await uow.ledger.recomputed_balances()
            unbalanced = await uow.ledger.unbalanced_transactions()
        if stored != recomputed:
            problems.append(f"tenant {tid}: stored ledger balances differ from the entries' sums")
        if unbalanced:
            problems.append(f"tenant {tid}: {len(unbalanced)} unbalanced ledger transactions")
    out["problems"] = problems
    return out
