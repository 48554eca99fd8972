"""GraphQL for vendor connections: the same use cases as /v1/connections. The consent callback itself is
REST only (the vendor redirects a browser there), so `startConnection` hands back the consent URL."""

# strawberry.field(...) with arguments is typed as returning Any; the resolvers themselves are typed.
# mypy: disable-error-code="untyped-decorator"

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Annotated

import strawberry

from adapters.halopsa.auth import check_urls
from api.graphql.context import Info, forbidden
from api.graphql.inputs import lookup_id
from api.graphql.types import FieldError, InvalidState, NotFound, ValidationError
from api.rest.connections import callback_url
from domain import errors
from domain.auth import Forbidden
from domain.connections import ClientCredentials, VendorRefused
from domain.connections import Connection as ConnectionEntity
from domain.connections import Provider as DomainProvider
from domain.usecases import connections as uc


@strawberry.enum
class Provider(Enum):
    HALOPSA = "halopsa"
    QUICKBOOKS = "quickbooks"
    XERO = "xero"
    STRIPE = "stripe"


@strawberry.enum
class ConnectionStatus(Enum):
    ACTIVE = "active"
    CHOOSING_ORGANISATION = "choosing_organisation"
    NEEDS_REAUTH = "needs_reauth"


@strawberry.type
class Organisation:
    id: str
    name: str


@strawberry.type(description="A vendor the MSP has connected. Tokens and secrets are never exposed.")
class VendorConnection:
    id: strawberry.ID
    provider: Provider
    kind: str
    status: ConnectionStatus
    external_id: str | None
    display_name: str | None
    scopes: list[str]
    organisations: list[Organisation]
    needs_reauth_reason: str | None
    access_expires_at: dt.datetime | None
    last_refreshed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def of(c: ConnectionEntity) -> VendorConnection:
        return VendorConnection(
            id=strawberry.ID(str(c.id)),
            provider=Provider(c.provider.value),
            kind=c.provider.kind,
            status=ConnectionStatus(c.status.value),
            external_id=c.external_id,
            display_name=c.display_name,
            scopes=c.scopes,
            organisations=[Organisation(id=o.id, name=o.name) for o in c.organisations],
            needs_reauth_reason=c.needs_reauth_reason,
            access_expires_at=c.tokens.access_expires_at if c.tokens else None,
            last_refreshed_at=c.last_refreshed_at,
            created_at=c.created_at,
            updated_at=c.updated_at,
        )


@strawberry.type(description="Send the MSP's browser to `authorizationUrl`; the vendor returns it to arbridge.")
class ConsentRedirect:
    authorization_url: str
    state_expires_at: dt.datetime
    provider: Provider


@strawberry.type
class ProviderUnavailable:
    message: str
    provider: Provider


@strawberry.type(description="The vendor refused (wrong credentials, unreachable host, ...).")
class VendorRefusedError:
    message: str
    provider: Provider
    vendor_error: str


@strawberry.type
class Disconnected:
    id: strawberry.ID


@strawberry.input
class ConnectHaloPsaInput:
    resource_url: str
    client_id: str
    client_secret: str
    auth_url: str | None = None
    tenant: str | None = None
    scope: str = "all"


StartConnectionResult = Annotated[ConsentRedirect | ProviderUnavailable, strawberry.union("StartConnectionResult")]
ConnectHaloPsaResult = Annotated[
    VendorConnection | ValidationError | VendorRefusedError, strawberry.union("ConnectHaloPsaResult")
]
ChooseOrganisationResult = Annotated[
    VendorConnection | NotFound | InvalidState, strawberry.union("ChooseOrganisationResult")
]
DisconnectResult = Annotated[Disconnected | NotFound, strawberry.union("DisconnectResult")]


def _invalid(exc: errors.ValidationFailed) -> ValidationError:
    return ValidationError(
        message=exc.message, fields=[FieldError(field=e.field, message=e.message) for e in exc.errors]
    )


@strawberry.type
class VendorQuery:
    @strawberry.field(description="The tenant's vendor connections. Scope connections:read.")
    async def connections(self, info: Info) -> list[VendorConnection]:
        try:
            async with info.context.uow() as uow:
                return [VendorConnection.of(c) for c in await uc.list_connections(uow, info.context.principal)]
        except Forbidden as exc:
            raise forbidden(exc) from exc


@strawberry.type
class VendorMutation:
    @strawberry.mutation(description="Start an OAuth connection (QuickBooks, Xero, Stripe). Scope connections:write.")
    async def start_connection(self, info: Info, provider: Provider) -> StartConnectionResult:
        ctx = info.context
        p = DomainProvider(provider.value)
        flow = ctx.services.vendors.oauth.get(p)
        if flow is None:
            reason = (
                "connects with an API application: use connectHaloPsa"
                if p is DomainProvider.HALOPSA
                else ("is not configured on this deployment")
            )
            return ProviderUnavailable(message=f"{p.value} {reason}.", provider=provider)
        try:
            async with ctx.uow() as uow:
                redirect = await uc.start_connect(
                    uow, ctx.principal, ctx.services.clock, flow, callback_url(ctx.services, p)
                )
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        return ConsentRedirect(authorization_url=redirect.url, state_expires_at=redirect.expires_at, provider=provider)

    @strawberry.mutation(description="Connect HaloPSA with an API application. Scope connections:write.")
    async def connect_halo_psa(self, info: Info, input: ConnectHaloPsaInput) -> ConnectHaloPsaResult:
        ctx = info.context
        creds = ClientCredentials.typed(
            input.resource_url, input.client_id, input.client_secret, input.auth_url, input.tenant, input.scope
        )
        try:
            check_urls(creds, ctx.services.vendors.allow_http_urls)
            async with ctx.uow() as uow:
                connection = await uc.connect_with_credentials(
                    uow, ctx.principal, ctx.services.clock, ctx.services.vendors.halopsa, creds
                )
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.ValidationFailed as exc:
            return _invalid(exc)
        except VendorRefused as exc:
            return VendorRefusedError(message=exc.message, provider=Provider.HALOPSA, vendor_error=exc.error)
        return VendorConnection.of(connection)

    @strawberry.mutation(description="Choose the organisation when Xero granted several. Scope connections:write.")
    async def choose_organisation(
        self, info: Info, connection_id: strawberry.ID, organisation_id: str
    ) -> ChooseOrganisationResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                connection = await uc.choose_organisation(
                    uow, ctx.principal, ctx.services.clock, lookup_id(connection_id), organisation_id
                )
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.NotFound:
            return NotFound(message=f"No connection with id {connection_id}.", id=connection_id)
        except errors.DomainError as exc:
            return InvalidState(message=exc.message)
        return VendorConnection.of(connection)

    @strawberry.mutation(description="Revoke at the vendor, then forget. Scope connections:write.")
    async def disconnect(self, info: Info, connection_id: strawberry.ID) -> DisconnectResult:
        ctx = info.context
        try:
            async with ctx.uow() as uow:
                await uc.disconnect(
                    uow, ctx.principal, ctx.services.clock, ctx.services.vendors.oauth, lookup_id(connection_id)
                )
                await uow.commit()
        except Forbidden as exc:
            raise forbidden(exc) from exc
        except errors.NotFound:
            return NotFound(message=f"No connection with id {connection_id}.", id=connection_id)
        return Disconnected(id=connection_id)
