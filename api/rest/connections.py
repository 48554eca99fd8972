"""REST: /v1/connections, how an MSP connects HaloPSA, QuickBooks Online or Xero, and Stripe."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.response import Redirect

from adapters.db.uow import SqlUnitOfWork
from adapters.halopsa.auth import check_urls
from api.rest.connection_schemas import (
    AuthorizeOut,
    ChooseOrganisationIn,
    ConnectHaloPsaIn,
    ConnectionList,
    ConnectionOut,
)
from api.rest.idempotency import respond_once
from api.rest.problems import Problem
from api.rest.security import authenticate, services_of
from api.services import Services
from domain.auth import Principal
from domain.connections import Provider
from domain.usecases import connections as uc
from domain.usecases.connections import OAuthFlow


def _provider(raw: str) -> Provider:
    try:
        return Provider(raw)
    except ValueError:
        raise Problem(404, "not_found", f"No provider {raw!r}; one of halopsa, quickbooks, xero, stripe.") from None


def _oauth_flow(services: Services, provider: Provider) -> OAuthFlow:
    if provider is Provider.HALOPSA:
        raise Problem(
            400, "use_client_credentials", "HaloPSA connects with an API application: POST /v1/connections/halopsa."
        )
    flow = services.vendors.oauth.get(provider)
    if flow is None:
        raise Problem(409, "provider_not_configured", f"{provider.value} is not configured on this deployment.")
    return flow


def callback_url(services: Services, provider: Provider) -> str:
    return f"{services.settings.base_url.rstrip('/')}/v1/connections/{provider.value}/callback"


class ConnectionController(Controller):
    path = "/v1/connections"
    tags = ["connections"]

    @get("/", summary="List connections", description="Scope `connections:read`. Tokens are never returned.")
    async def list_all(self, principal: Principal, uow: SqlUnitOfWork) -> ConnectionList:
        return ConnectionList([ConnectionOut.of(c) for c in await uc.list_connections(uow, principal)])

    @post(
        "/halopsa",
        summary="Connect HaloPSA",
        description="Scope `connections:write`. Checks the API application by getting a token; the secret is "
        "stored encrypted and never returned.",
    )
    async def connect_halopsa(
        self, request: Request[Any, Any, Any], data: ConnectHaloPsaIn, principal: Principal, uow: SqlUnitOfWork
    ) -> Response[ConnectionOut]:
        services = services_of(request.app.state)
        creds = data.credentials()
        check_urls(creds, services.vendors.allow_http_urls)

        async def work() -> ConnectionOut:
            return ConnectionOut.of(
                await uc.connect_with_credentials(uow, principal, services.clock, services.vendors.halopsa, creds)
            )

        return await respond_once(request, uow, work)  # type: ignore[return-value]

    @post(
        "/{provider:str}/authorize",
        status_code=200,
        summary="Start an OAuth connection",
        description="Scope `connections:write`. Returns the vendor's consent URL; its `state` is single-use, "
        "bound to your tenant, and expires in 10 minutes. PKCE where the vendor supports it.",
    )
    async def authorize(
        self, request: Request[Any, Any, Any], provider: str, principal: Principal, uow: SqlUnitOfWork
    ) -> AuthorizeOut:
        services = services_of(request.app.state)
        p = _provider(provider)
        flow = _oauth_flow(services, p)
        redirect = await uc.start_connect(uow, principal, services.clock, flow, callback_url(services, p))
        await uow.commit()
        return AuthorizeOut(redirect.url, redirect.expires_at, p.value)

    @get(
        "/{provider:str}/callback",
        security=[{}],
        summary="OAuth callback (the vendor redirects the browser here)",
        description="Authenticated by the single-use `state`. A bearer token, if sent, must be the same tenant's.",
        include_in_schema=True,
    )
    async def callback(self, request: Request[Any, Any, Any], provider: str) -> Response[Any]:
        services = services_of(request.app.state)
        p = _provider(provider)
        flow = _oauth_flow(services, p)
        caller = await authenticate(request, services) if request.headers.get("authorization") else None
        params = {k: v for k, v in request.query_params.items()}
        connection = await uc.complete_connect(services.uow, services, services.clock, flow, params, caller)
        if "text/html" in request.headers.get("accept", ""):
            return Redirect(
                path=f"/v1/connections/{connection.id}/connected",
                query_params={"status": connection.status.value},
                status_code=303,
            )
        return Response(ConnectionOut.of(connection))

    @get("/{connection_id:uuid}/connected", security=[{}], include_in_schema=False)
    async def connected_page(self, connection_id: uuid.UUID, status: str | None = None) -> Response[str]:
        """Where the browser lands after consent: a plain page; the connection itself is read via the API."""
        if status == "choosing_organisation":
            next_step = (
                "You granted several organisations: choose the one arbridge books to with "
                f"<code>POST /v1/connections/{connection_id}/organisation</code> "
                "(see <code>GET /v1/connections</code> for their ids)."
            )
        else:
            next_step = "It is ready. You can close this window."
        page = (
            "<!doctype html><title>Connected</title><body style='font-family:sans-serif'>"
            f"<h1>Connected</h1><p>Connection <code>{connection_id}</code> is set up.</p><p>{next_step}</p></body>"
        )
        return Response(page, media_type="text/html")

    @post(
        "/{connection_id:uuid}/organisation",
        status_code=200,
        summary="Choose the organisation (Xero granted several)",
        description="Scope `connections:write`.",
    )
    async def choose_organisation(
        self,
        request: Request[Any, Any, Any],
        connection_id: uuid.UUID,
        data: ChooseOrganisationIn,
        principal: Principal,
        uow: SqlUnitOfWork,
    ) -> ConnectionOut:
        services = services_of(request.app.state)
        c = await uc.choose_organisation(uow, principal, services.clock, connection_id, data.organisation_id)
        await uow.commit()
        return ConnectionOut.of(c)

    @delete(
        "/{connection_id:uuid}",
        summary="Disconnect",
        description="Scope `connections:write`. Revokes the tokens at the vendor, then forgets them.",
    )
    async def disconnect(
        self, request: Request[Any, Any, Any], connection_id: uuid.UUID, principal: Principal, uow: SqlUnitOfWork
    ) -> None:
        services = services_of(request.app.state)
        await uc.disconnect(uow, principal, services.clock, services.vendors.oauth, connection_id)
        await uow.commit()
