"""api.xero.com/api.xro/2.0/{Resource}[/{id}]: the gate every accounting call passes, in Xero's order.

1. Bearer token: missing, foreign or expired -> 401 (`AuthenticationUnsuccessful` / `TokenExpired: ...`).
2. Scope for the resource and verb -> 401 `AuthorizationUnsuccessful` [S].
3. `xero-tenant-id`: missing, malformed, unknown or not connected to this user and app -> 403
   `AuthenticationUnsuccessful` [S; the status for a missing header is U].
4. Rate limits for (app, tenant) -> 429; every tenant-scoped answer carries the X-*Limit-Remaining headers.
5. `Accept` must include application/json: Xero answers XML by default, which the sandbox does not emulate,
   so a client that forgets the header gets 406 here instead of silently different bytes [U status].
6. The resource handler (paths and resource names are case-insensitive, as on Xero).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .context import as_uuid
from .http import Request, Response, text_response
from .listing import NOT_FOUND, get_record, list_records
from .oauth import Principal, authenticate_bearer
from .resources import RESOURCES, Resource
from .tokens import problem
from .writing import idempotent, run_write

if TYPE_CHECKING:
    from .models import Organisation
    from .state import XeroState

PREFIX = "/api.xro/2.0/"


def _gate(state: XeroState, req: Request, res: Resource) -> Principal | Response:
    principal = authenticate_bearer(state, req.header("authorization"))
    if isinstance(principal, str):
        return problem(401, principal, state.new_id())
    if not res.allows(principal.scopes, write=req.method in ("PUT", "POST")):
        return problem(401, "AuthorizationUnsuccessful", state.new_id())
    tenant_id = as_uuid(req.header("xero-tenant-id"))
    if tenant_id is None or tenant_id not in state.orgs or not state.identity.connected(principal, tenant_id):
        return problem(403, "AuthenticationUnsuccessful", state.new_id())
    return principal


async def accounting(state: XeroState, req: Request) -> Response:
    """Every API answer carries a Xero-Correlation-Id, which Xero support asks for [S]."""
    answer = await _accounting(state, req)
    answer.headers["xero-correlation-id"] = str(state.new_id())
    return answer


async def _accounting(state: XeroState, req: Request) -> Response:
    parts = req.path[len(PREFIX) :].strip("/").split("/")
    res = RESOURCES.get(parts[0].lower())
    if res is None or len(parts) > 2:
        return text_response(404, NOT_FOUND)
    principal = _gate(state, req, res)
    if isinstance(principal, Response):
        return principal
    tenant_id = as_uuid(req.header("xero-tenant-id"))
    assert tenant_id is not None  # the gate checked it
    admission = state.limiter.admit(principal.client_id, tenant_id, state.now().timestamp())
    if not admission.admitted:
        return Response(429, b"", None, admission.headers)  # [U] body: clients must go by status and headers
    try:
        if state.config.latency:
            await asyncio.sleep(state.config.latency)  # simulated service time; in-flight calls overlap here
        answer = _dispatch(state, res, state.orgs[tenant_id], req, principal, parts[1] if len(parts) == 2 else None)
    finally:
        state.limiter.release(principal.client_id, tenant_id)
    answer.headers.update(admission.headers)
    return answer


def _dispatch(
    state: XeroState, res: Resource, org: Organisation, req: Request, principal: Principal, ident: str | None
) -> Response:
    if "application/json" not in (req.header("accept") or "").lower():
        return text_response(406, "The sandbox answers JSON only: send Accept: application/json")
    provider = state.identity.apps[principal.client_id].name
    if req.method == "GET":
        if ident is None:
            return list_records(state, res, org, req, provider)
        return get_record(state, res, org, ident, provider)
    writer = {"PUT": res.put if ident is None else None, "POST": res.post if ident is None else res.post_id}.get(
        req.method
    )
    if writer is None:
        return text_response(405, "Method not allowed")
    path_id = as_uuid(ident) if ident is not None else None
    if ident is not None and path_id is None:
        return text_response(404, NOT_FOUND)

    def run() -> Response:
        return run_write(
            state, res, writer, org, req, provider=provider, path_id=path_id, create_only=req.method == "PUT"
        )

    return idempotent(state, org, principal.client_id, req, run)
