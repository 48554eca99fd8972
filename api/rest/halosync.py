"""REST: /v1/halopsa, the HaloPSA sync (runs, issues, settings, the webhook secret), and the webhook Halo calls.

Every handler works in one `SqlSyncTransaction`: the connections unit of work and the sync's store at once.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter

from adapters.db.halosync import SqlSyncStore, SqlSyncTransaction
from api.rest.clients import Cursor, Limit
from api.rest.halosync_schemas import (
    RequestSyncIn,
    SyncIssueList,
    SyncIssueOut,
    SyncRunList,
    SyncRunOut,
    SyncSettingsOut,
    UpdateSyncSettingsIn,
    WebhookReceivedOut,
    WebhookSecretOut,
)
from api.rest.idempotency import respond_once
from api.rest.problems import Problem
from api.rest.security import services_of
from api.services import Services
from domain.auth import Principal, Scope
from domain.connections import Provider
from domain.pagination import PageRequest
from domain.usecases import halosync as uc

WEBHOOK_SECRET_HEADER = "X-Arbridge-Webhook-Secret"
WEBHOOK_EVENTS = "invoice, client and contract created/updated/deleted, and invoice voided"


def sync_transaction(services: Services, tenant_id: uuid.UUID) -> SqlSyncTransaction:
    return SqlSyncStore(services.engine, tenant_id, services.ring).transaction()


async def provide_sync_uow(state: State, principal: Principal) -> AsyncGenerator[SqlSyncTransaction, None]:
    """The token's tenant, as for every other unit of work."""
    async with sync_transaction(services_of(state), principal.tenant_id) as tx:
        yield tx


def webhook_url(services: Services, tenant_id: uuid.UUID) -> str:
    return f"{services.settings.base_url.rstrip('/')}/v1/webhooks/halopsa/{tenant_id}"


class HaloSyncController(Controller):
    path = "/v1/halopsa"
    tags = ["halopsa sync"]
    dependencies = {"uow": Provide(provide_sync_uow)}

    @post(
        "/sync",
        status_code=202,
        summary="Sync now",
        description="Scope `connections:write`. Queues a run and answers it (202); while a run is queued or "
        "running, answers that run instead of queueing another. `mode`: `incremental` (default), `full` or "
        "`unpaid` (every unpaid or part-paid invoice, before a collection run). 409 `halopsa_not_connected` "
        "before HaloPSA is connected. Accepts `Idempotency-Key`.",
    )
    async def request_sync(
        self,
        request: Request[Any, Any, Any],
        principal: Principal,
        uow: SqlSyncTransaction,
        data: RequestSyncIn | None = None,
    ) -> Response[SyncRunOut]:
        clock = services_of(request.app.state).clock
        mode = (data or RequestSyncIn()).sync_mode()

        async def work() -> SyncRunOut:
            return SyncRunOut.of(await uc.request_sync(uow, uow, principal, clock, mode))

        return await respond_once(request, uow, work, status_code=202)  # type: ignore[return-value]

    @get("/sync-runs", summary="List sync runs", description="Newest first. Scope `invoices:read`.")
    async def list_runs(
        self, principal: Principal, uow: SqlSyncTransaction, limit: Limit = None, cursor: Cursor = None
    ) -> SyncRunList:
        page = await uc.list_runs(uow, principal, PageRequest.build(limit, cursor))
        return SyncRunList([SyncRunOut.of(r) for r in page.items], page.has_more, page.next_cursor)

    @get("/sync-runs/{run_id:uuid}", summary="Get a sync run", description="Scope `invoices:read`.")
    async def get_run(self, run_id: uuid.UUID, principal: Principal, uow: SqlSyncTransaction) -> SyncRunOut:
        return SyncRunOut.of(await uc.get_run(uow, principal, run_id))

    @get(
        "/sync-issues",
        summary="List sync issues",
        description="What the sync could not take (missing or duplicate numbers, unknown clients, bad records), "
        "newest first. Open ones only unless `include_resolved`. Scope `invoices:read`.",
    )
    async def list_issues(
        self,
        principal: Principal,
        uow: SqlSyncTransaction,
        limit: Limit = None,
        cursor: Cursor = None,
        include_resolved: Annotated[bool, Parameter(description="Also issues fixed since.")] = False,
    ) -> SyncIssueList:
        page = await uc.list_issues(uow, principal, PageRequest.build(limit, cursor), open_only=not include_resolved)
        return SyncIssueList([SyncIssueOut.of(i) for i in page.items], page.has_more, page.next_cursor)

    @get("/settings", summary="Get the sync settings", description="Scope `invoices:read`.")
    async def get_settings(self, principal: Principal, uow: SqlSyncTransaction) -> SyncSettingsOut:
        return SyncSettingsOut.of(await uc.get_settings(uow, principal))

    @patch(
        "/settings",
        summary="Change the sync settings",
        description="Scope `connections:write`. Only the fields sent change. Changing `invoice_number_field` "
        "queues a full sync.",
    )
    async def update_settings(
        self, request: Request[Any, Any, Any], data: UpdateSyncSettingsIn, principal: Principal, uow: SqlSyncTransaction
    ) -> SyncSettingsOut:
        clock = services_of(request.app.state).clock
        principal.require(Scope.CONNECTIONS_WRITE)  # before reading what is to change
        # Locked, so two concurrent changes of different fields both stay.
        connection = await uow.connections.by_provider(Provider.HALOPSA, for_update=True)
        if connection is None:
            raise uc.NotConnected
        wanted = data.applied_to(uc.settings_of(connection))
        saved = await uc.update_settings(uow, uow, principal, clock, wanted)
        await uow.commit()
        return SyncSettingsOut.of(saved)

    @post(
        "/webhook-secret",
        summary="Issue the webhook secret",
        description="Scope `connections:write`. A new secret for Halo's webhook, shown once (arbridge keeps its "
        "hash); the previous one stops working. Not replayed by `Idempotency-Key`: a retry issues a new secret.",
    )
    async def issue_webhook_secret(
        self, request: Request[Any, Any, Any], principal: Principal, uow: SqlSyncTransaction
    ) -> WebhookSecretOut:
        services = services_of(request.app.state)
        secret = await uc.rotate_webhook_secret(uow, principal, services.clock)
        await uow.commit()
        return WebhookSecretOut(
            secret=secret,
            webhook_url=webhook_url(services, principal.tenant_id),
            how=f"In HaloPSA (Configuration > Integrations > Webhooks), add a webhook to `webhook_url` for the "
            f"{WEBHOOK_EVENTS} events. Authenticate it with Basic authentication, any username and this secret as "
            f"the password, or with the header `{WEBHOOK_SECRET_HEADER}: <secret>`. Keep the secret now: it is "
            "not shown again.",
        )


def _presented_secret(request: Request[Any, Any, Any]) -> str | None:
    """The header's value, else the Basic password (any username)."""
    header = request.headers.get(WEBHOOK_SECRET_HEADER.lower())
    if header:
        return header.strip()
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        pair = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = pair.partition(":")
    return password if sep else None


def _has_nul(value: Any) -> bool:
    """PostgreSQL's jsonb cannot hold U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _refused() -> Problem:
    # One answer for an unknown tenant, no HaloPSA connection, no secret issued and a wrong secret.
    return Problem(401, "invalid_webhook_secret", "Unknown tenant or webhook secret.")


@post(
    "/v1/webhooks/halopsa/{tenant_id:str}",
    security=[{}],
    tags=["halopsa sync"],
    summary="HaloPSA webhook (Halo calls this)",
    description="Authenticated by the secret of POST /v1/halopsa/webhook-secret, as the Basic auth password "
    f"(any username) or the `{WEBHOOK_SECRET_HEADER}` header; 401 otherwise. Keeps the delivery once (by the "
    "event `id`) and queues a re-read of the record it names: `run_id` is null for a redelivery or an event "
    "the sync does not copy.",
)
async def halopsa_webhook(request: Request[Any, Any, Any], tenant_id: str) -> Response[WebhookReceivedOut]:
    try:
        tenant = uuid.UUID(tenant_id)
    except ValueError:
        raise _refused() from None
    services = services_of(request.app.state)
    presented = _presented_secret(request)
    async with sync_transaction(services, tenant) as tx:
        # The sender is checked before its body is even read: a stranger's body costs us nothing.
        try:
            await uc.check_webhook_secret(tx, presented)
        except uc.WebhookRefused:
            raise _refused() from None
        try:
            payload = msgspec.json.decode(await request.body())
            has_nul = _has_nul(payload)
        except (msgspec.DecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
            raise Problem(400, "malformed_json", f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(payload, dict):
            raise Problem(400, "malformed_json", "The body must be one JSON object.")
        if has_nul:
            raise Problem(400, "malformed_json", "The body must not contain U+0000.")
        try:
            run = await uc.accept_webhook(tx, tx, services.clock, presented, payload)
        except uc.WebhookRefused:
            raise _refused() from None
        await tx.commit()
    return Response(WebhookReceivedOut(True, run.id if run else None), status_code=202)
