"""What the use cases need from the outside world. Adapters implement these; tests may fake them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from domain.agreements import Agreement, AgreementFilter, SubtypeCount
from domain.clients import Client
from domain.connections import Connection, OAuthStateRecord, Provider
from domain.events import DomainEvent
from domain.invoices import Invoice, InvoiceFilter
from domain.ledger import Balances, Entry, Kind, LedgerTransaction, Reference
from domain.pagination import Page, PageRequest


class Ledger(Protocol):
    """One tenant's ledger inside the current unit of work (its rules and postings: domain/ledger.py)."""

    async def record(self, tx: LedgerTransaction) -> bool:
        """Record once. False, and nothing written, when the key was recorded before with the same entries
        (a redelivered event); KeyReused when with different ones."""

    async def balances(self) -> Balances: ...

    async def recomputed_balances(self) -> Balances: ...

    async def entries_of(self, reference: Reference) -> list[Entry]: ...

    async def get(self, tx_id: uuid.UUID) -> LedgerTransaction | None: ...

    async def find(self, key: str) -> LedgerTransaction | None: ...

    async def list_page(
        self, page: PageRequest, *, kind: Kind | None = None, reference: Reference | None = None
    ) -> Page[LedgerTransaction]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...


class ClientRepository(Protocol):
    async def add(self, client: Client) -> None: ...

    async def get(self, client_id: uuid.UUID) -> Client | None: ...

    async def get_many(self, client_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Client]: ...

    async def list_page(self, page: PageRequest) -> Page[Client]: ...


class InvoiceRepository(Protocol):
    async def add(self, invoice: Invoice) -> None:
        """Insert invoice and lines. Raises DuplicateInvoiceNumber when the number is taken."""

    async def get(self, invoice_id: uuid.UUID, *, for_update: bool = False) -> Invoice | None: ...

    async def update_state(self, invoice: Invoice) -> None:
        """Persist status, amount paid and timestamps (lines are immutable once issued)."""

    async def list_page(self, where: InvoiceFilter, page: PageRequest) -> Page[Invoice]: ...


class AgreementRepository(Protocol):
    """Agreements the HaloPSA sync copied in; read-only here (the sync writes them)."""

    async def get(self, agreement_id: uuid.UUID) -> Agreement | None: ...

    async def list_page(self, where: AgreementFilter, page: PageRequest) -> Page[Agreement]: ...

    async def subtype_counts(self) -> list[SubtypeCount]:
        """Per subtype: the distinct type names of its agreements and how many agreements have it."""


class Outbox(Protocol):
    async def add(self, event: DomainEvent) -> None: ...


class UnitOfWork(Protocol):
    """One tenant's transaction. Nothing is kept unless `commit` is called."""

    # Read-only members, so an adapter may hold its own concrete repository types.
    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def invoices(self) -> InvoiceRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


class EventFeed(Protocol):
    """The outbox as seen by event handlers, the per-handler claim record, and the tenant's public feed."""

    async def outbox_event(self, event_id: uuid.UUID) -> DomainEvent | None: ...

    async def claim(self, event_id: uuid.UUID, handler: str) -> bool:
        """True the first time `handler` claims the event; False when it already ran it."""

    async def publish(self, event: DomainEvent) -> None: ...

    async def list_page(self, page: PageRequest, event_type: str | None = None) -> Page[DomainEvent]:
        """The tenant's published events, newest first."""


class EventUnitOfWork(UnitOfWork, Protocol):
    @property
    def events(self) -> EventFeed: ...

    @property
    def ledger(self) -> Ledger: ...


class ConnectionRepository(Protocol):
    async def get(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None: ...

    async def by_provider(self, provider: Provider, *, for_update: bool = False) -> Connection | None: ...

    async def list_all(self) -> list[Connection]: ...

    async def save(self, c: Connection, secrets: dict[str, str] | None = None) -> None:
        """Insert or replace; replaces any other connection of the same kind (QuickBooks or Xero)."""

    async def delete(self, connection_id: uuid.UUID) -> None: ...

    async def secrets(self, connection_id: uuid.UUID) -> dict[str, str]: ...


class AgreementsUnitOfWork(UnitOfWork, Protocol):
    """Agreements, and the connections that hold the HaloPSA sync settings they are read under."""

    @property
    def agreements(self) -> AgreementRepository: ...

    @property
    def connections(self) -> ConnectionRepository: ...


class OAuthStateStore(Protocol):
    async def add(
        self,
        state_id: uuid.UUID,
        state_hash: str,
        provider: Provider,
        code_verifier: str | None,
        redirect_uri: str,
        created_by: str,
        now: datetime,
        expires_at: datetime,
    ) -> None: ...

    async def take(self, state_hash: str) -> OAuthStateRecord | None:
        """The state, locked until the transaction ends."""

    async def consume(self, state_id: uuid.UUID, now: datetime) -> None: ...


class ConnectionsUnitOfWork(UnitOfWork, Protocol):
    @property
    def connections(self) -> ConnectionRepository: ...

    @property
    def oauth_states(self) -> OAuthStateStore: ...
