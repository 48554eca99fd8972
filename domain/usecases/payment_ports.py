"""The payments store and unit of work that the payment use cases are written against (adapters/db/
attempts.py and payments.py implement them on PostgreSQL), with what the hot path's steps exchange with it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.events import DomainEvent
from domain.invoices import Invoice
from domain.ledger import LedgerTransaction
from domain.pagination import Page, PageRequest
from domain.payments import Payment, PaymentMethod, PayRequest
from domain.ports import ConnectionsUnitOfWork, Ledger


@dataclass
class AttemptFacts:
    """What recording an attempt reads, all at once, once its request key and invoices are locked."""

    existing: Payment | None  # the attempt already recorded under the request key
    stripe_account: str | None  # the tenant's connected account; None: Stripe is not connected
    stripe_settings: dict[str, Any]  # the Stripe connection's settings (its surcharge policy)
    method: PaymentMethod | None  # the method asked for (any client's: checked here), else the client's default
    customer: str | None  # the client's Stripe customer on that account
    invoices: dict[uuid.UUID, Invoice]  # the invoices asked for, locked (their lines are not read)
    held: dict[uuid.UUID, int]  # what attempts in flight hold against them


@dataclass
class Settlement:
    """What settling a payment changes, written at once: the payment, its invoices' paid amounts and statuses,
    the outbox events, and the ledger transactions (each recorded once per key, as Ledger.record does)."""

    payment: Payment
    invoices: list[Invoice] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    postings: list[LedgerTransaction] = field(default_factory=list)


class PaymentStore(Protocol):
    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None: ...

    async def by_request_key(self, key: str) -> Payment | None: ...

    async def list_page(self, page: PageRequest, client_id: uuid.UUID | None = None) -> Page[Payment]: ...

    async def held(self, invoice_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]: ...

    async def open_attempt(self, request_key: str | None, request: PayRequest) -> AttemptFacts:
        """Lock the request key (requests carrying it queue until the transaction ends) and the invoices asked
        for (in id order), then read what recording the attempt needs."""

    async def locked_for_settling(
        self, payment_id: uuid.UUID, *, with_invoices: bool
    ) -> tuple[Payment, dict[uuid.UUID, Invoice]] | None:
        """The payment under its row lock, then (`with_invoices`) its invoices under theirs, in id order."""

    async def lock_invoices(self, invoice_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Invoice]: ...

    async def lock_for_settling(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Payment]:
        """Payments under their row locks, in id order (their invoices are not locked: lock_invoices, after)."""

    async def record_settlement(self, s: Settlement) -> None: ...

    async def record_settlements(self, settlements: Sequence[Settlement]) -> None:
        """Several settlements' writes at once; an invoice in several is written as the last one left it."""

    async def lock_attempts(self, request_keys: Sequence[str], invoice_ids: Sequence[uuid.UUID]) -> None:
        """Lock the request keys (in key order), then the invoices (in id order), until the transaction ends."""

    async def read_attempts(self, requests: Sequence[tuple[str | None, PayRequest]]) -> list[AttemptFacts]:
        """What recording each (request key, request)'s attempt needs, in their order, read at once (their keys
        and invoices locked before: lock_attempts)."""

    async def add(self, p: Payment) -> None: ...

    async def add_many(self, payments: Sequence[Payment]) -> None: ...

    async def update(self, p: Payment, now: datetime) -> None: ...

    async def method(self, method_id: uuid.UUID) -> PaymentMethod | None: ...

    async def default_method(self, client_id: uuid.UUID) -> PaymentMethod | None: ...

    async def customer(self, client_id: uuid.UUID, account: str) -> str | None: ...

    async def add_customer(self, client_id: uuid.UUID, account: str, customer: str, now: datetime) -> None: ...

    async def add_method(self, m: PaymentMethod) -> PaymentMethod: ...

    async def methods(self, client_id: uuid.UUID) -> list[PaymentMethod]: ...

    async def expiring(self, year: int, month: int) -> list[PaymentMethod]: ...

    async def make_default(self, m: PaymentMethod, now: datetime) -> None: ...

    async def remove_method(self, m: PaymentMethod, now: datetime) -> None: ...

    async def in_flight(self, method_id: uuid.UUID) -> bool: ...

    async def lock_request_key(self, key: str) -> None:
        """Serialise requests carrying this Idempotency-Key until the transaction ends."""

    async def receive_event(
        self, event_id: str, event_type: str, account: str | None, payload: dict[str, Any], now: datetime
    ) -> uuid.UUID | None:
        """Keep a Stripe event; None when this event id was received before."""

    async def event_payload(self, row_id: uuid.UUID) -> dict[str, Any] | None: ...


class PaymentsUnitOfWork(ConnectionsUnitOfWork, Protocol):
    @property
    def payments(self) -> PaymentStore: ...

    @property
    def ledger(self) -> Ledger: ...


UowFactory = Callable[[], PaymentsUnitOfWork]
