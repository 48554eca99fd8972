"""Vendor connections: how an MSP links its PSA (HaloPSA), its books (QuickBooks Online or Xero) and its
payment account (Stripe) to arbridge.

A connection holds the vendor's tokens. Tokens are secrets: they live encrypted at rest and never appear in
an API response, an event or a log line; the entity keeps them apart (`TokenSet`) so presenters can't
reach them by accident.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.errors import DomainError

STATE_TTL = timedelta(minutes=10)
# Refresh this long before the access token dies, so a call never starts with a token about to expire.
REFRESH_SKEW = timedelta(seconds=120)


class Provider(StrEnum):
    HALOPSA = "halopsa"
    QUICKBOOKS = "quickbooks"
    XERO = "xero"
    STRIPE = "stripe"

    @property
    def kind(self) -> str:
        """What the MSP uses it for; one connection of each kind per tenant (QuickBooks or Xero, not both)."""
        return {"halopsa": "psa", "quickbooks": "books", "xero": "books", "stripe": "payments"}[self.value]

    @property
    def uses_oauth_redirect(self) -> bool:
        """HaloPSA connects by client id/secret (client credentials); the others by an OAuth consent redirect."""
        return self is not Provider.HALOPSA


class ConnectionStatus(StrEnum):
    ACTIVE = "active"
    # Xero granted several organisations: the MSP picks the one arbridge books to.
    CHOOSING_ORGANISATION = "choosing_organisation"
    # The refresh token was refused for good (revoked, expired, consent withdrawn): the MSP must connect again.
    NEEDS_REAUTH = "needs_reauth"


@dataclass
class TokenSet:
    access_token: str
    access_expires_at: datetime
    refresh_token: str | None = None
    refresh_expires_at: datetime | None = None

    def __repr__(self) -> str:  # never let a token reach a log through repr()
        refresh = "yes" if self.refresh_token else "no"
        return f"TokenSet(access_expires_at={self.access_expires_at!r}, refresh={refresh})"


@dataclass
class Organisation:
    """One of the vendor-side companies a consent covered (Xero tenants, QuickBooks realms)."""

    id: str
    name: str


@dataclass
class Connection:
    tenant_id: uuid.UUID
    id: uuid.UUID
    provider: Provider
    status: ConnectionStatus
    external_id: str | None  # QuickBooks realmId, Xero tenantId, Stripe account id, HaloPSA host
    display_name: str | None
    scopes: list[str]
    created_at: datetime
    updated_at: datetime
    tokens: TokenSet | None = field(default=None, repr=False)
    organisations: list[Organisation] = field(default_factory=list)  # to choose from, when several
    settings: dict[str, Any] = field(default_factory=dict)  # non-secret vendor settings (Halo URLs, client id)
    needs_reauth_reason: str | None = None
    last_refreshed_at: datetime | None = None

    def access_token_fresh(self, now: datetime) -> bool:
        return self.tokens is not None and self.tokens.access_expires_at - REFRESH_SKEW > now

    def refreshed(self, tokens: TokenSet, now: datetime) -> None:
        self.tokens = tokens
        self.last_refreshed_at = now
        self.updated_at = now
        if self.status is ConnectionStatus.NEEDS_REAUTH:
            self.status = ConnectionStatus.ACTIVE
            self.needs_reauth_reason = None

    def refresh_failed_for_good(self, reason: str, now: datetime) -> None:
        self.status = ConnectionStatus.NEEDS_REAUTH
        self.needs_reauth_reason = reason[:500]
        self.updated_at = now

    def choose_organisation(self, organisation_id: str, now: datetime) -> None:
        if self.status is not ConnectionStatus.CHOOSING_ORGANISATION:
            raise DomainError("This connection has no organisation to choose.")
        chosen = next((o for o in self.organisations if o.id == organisation_id), None)
        if chosen is None:
            raise DomainError(f"Organisation {organisation_id} was not part of this consent.")
        self.external_id, self.display_name = chosen.id, chosen.name
        self.status = ConnectionStatus.ACTIVE
        self.updated_at = now


class InvalidOAuthState(DomainError):
    """The callback's `state` is unknown, used, expired, or another tenant's: nothing is stored."""

    code = "invalid_oauth_state"


class VendorRefused(DomainError):
    """The vendor answered an OAuth step with an error (its `error` and description are kept)."""

    code = "vendor_refused"

    def __init__(self, provider: Provider, error: str, description: str | None = None) -> None:
        detail = f"{provider.value} refused: {error}" + (f" ({description})" if description else "")
        super().__init__(detail)
        self.provider, self.error, self.description = provider, error, description


class NeedsReauth(DomainError):
    code = "connection_needs_reauth"

    def __init__(self, provider: Provider, reason: str | None) -> None:
        super().__init__(f"The {provider.value} connection must be connected again: {reason or 'access was revoked'}.")
        self.provider = provider


@dataclass(frozen=True)
class Grant:
    """What a vendor gives back for an authorization code."""

    tokens: TokenSet
    scopes: list[str]
    external_id: str | None = None  # QuickBooks realmId (from the callback), Stripe account id
    display_name: str | None = None
    organisations: list[Organisation] = field(default_factory=list)  # Xero: every organisation consented
    settings: dict[str, Any] = field(default_factory=dict)  # non-secret vendor details worth keeping


class RefreshRefused(Exception):
    """The vendor refused the refresh token for good (invalid_grant): the MSP has to connect again."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class OAuthStateRecord:
    id: uuid.UUID
    provider: Provider
    code_verifier: str | None
    redirect_uri: str
    created_by: str
    expires_at: datetime
    consumed_at: datetime | None


@dataclass(frozen=True)
class ClientCredentials:
    """How an MSP connects HaloPSA: an API application (Client ID and Secret, "Services") of its instance.

    `resource_url` is the instance's resource server (`https://acme.halopsa.com`, the API under /api);
    `auth_url` its authorisation server (defaults to `<resource_url>/auth`); `tenant` names the instance on
    hosted Halo. `client_secret` is a secret: stored encrypted, never returned.
    """

    resource_url: str
    client_id: str
    client_secret: str = field(repr=False)
    auth_url: str | None = None
    tenant: str | None = None
    scope: str = "all"

    @staticmethod
    def typed(
        resource_url: str, client_id: str, client_secret: str, auth_url: str | None, tenant: str | None, scope: str
    ) -> ClientCredentials:
        """As an MSP typed them: surrounding blanks removed, empty optional fields absent."""
        return ClientCredentials(
            resource_url.strip(),
            client_id.strip(),
            client_secret,
            (auth_url or "").strip() or None,
            (tenant or "").strip() or None,
            scope.strip() or "all",
        )
