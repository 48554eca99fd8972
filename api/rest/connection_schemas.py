"""REST bodies for vendor connections. Tokens and secrets have no field here: they cannot leak by design."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from domain.connections import ClientCredentials, Connection


class ConnectHaloPsaIn(msgspec.Struct, forbid_unknown_fields=True):
    """An API application of the MSP's Halo instance (Configuration > Integrations > Halo API), with
    "Client ID and Secret (Services)" authentication and the scopes arbridge needs (`all`, or read/edit
    invoices, read customers and contracts)."""

    resource_url: str
    client_id: str
    client_secret: str
    auth_url: str | None = None
    tenant: str | None = None
    scope: str = "all"

    def credentials(self) -> ClientCredentials:
        return ClientCredentials.typed(
            self.resource_url, self.client_id, self.client_secret, self.auth_url, self.tenant, self.scope
        )


class ChooseOrganisationIn(msgspec.Struct, forbid_unknown_fields=True):
    organisation_id: str


class OrganisationOut(msgspec.Struct):
    id: str
    name: str


class ConnectionOut(msgspec.Struct):
    id: uuid.UUID
    provider: str
    kind: str
    status: str
    external_id: str | None
    display_name: str | None
    scopes: list[str]
    organisations: list[OrganisationOut]
    needs_reauth_reason: str | None
    access_expires_at: datetime | None
    last_refreshed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    object: str = "connection"

    @staticmethod
    def of(c: Connection) -> ConnectionOut:
        return ConnectionOut(
            id=c.id,
            provider=c.provider.value,
            kind=c.provider.kind,
            status=c.status.value,
            external_id=c.external_id,
            display_name=c.display_name,
            scopes=c.scopes,
            organisations=[OrganisationOut(o.id, o.name) for o in c.organisations],
            needs_reauth_reason=c.needs_reauth_reason,
            access_expires_at=c.tokens.access_expires_at if c.tokens else None,
            last_refreshed_at=c.last_refreshed_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


class ConnectionList(msgspec.Struct):
    data: list[ConnectionOut]
    object: str = "list"


class AuthorizeOut(msgspec.Struct):
    """Send the MSP's browser to `authorization_url`; the vendor returns it to our callback."""

    authorization_url: str
    state_expires_at: datetime
    provider: str
