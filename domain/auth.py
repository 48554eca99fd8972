"""Who is calling: the authenticated principal and the scopes an operation needs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import DomainError


class Scope(StrEnum):
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    PAYMENTS_WRITE = "payments:write"
    CONNECTIONS_READ = "connections:read"
    CONNECTIONS_WRITE = "connections:write"
    EVENTS_READ = "events:read"
    ADMIN = "admin"  # every scope of the tenant


ALL_SCOPES = frozenset(s.value for s in Scope)


class Forbidden(DomainError):
    code = "insufficient_scope"

    def __init__(self, needed: str) -> None:
        super().__init__(f"This operation needs the scope {needed!r}.")
        self.needed = needed


@dataclass(frozen=True)
class Principal:
    """An API client acting for exactly one tenant. The tenant comes from here, never from the request."""

    tenant_id: uuid.UUID
    client_id: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN.value in self.scopes or scope.value in self.scopes

    def require(self, scope: Scope) -> None:
        if not self.allows(scope):
            raise Forbidden(scope.value)


def parse_scopes(requested: str | None, granted: frozenset[str]) -> frozenset[str]:
    """Scopes for a token (RFC 6749 §3.3): the requested subset of what the client holds, or all of it."""
    if not requested:
        return granted
    wanted = frozenset(requested.split())
    if not wanted <= granted:
        raise DomainError("requested scope exceeds the client's scopes")
    return wanted
