"""The HaloPSA sync through GraphQL: queueing runs, listing runs and issues, settings, the webhook secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.halopsa import HaloState, create_app
from sandbox.router import SandboxRouter
from tests.conftest import Api, token_for

CONNECT = """mutation($i: ConnectHaloPsaInput!) { connectHaloPsa(input: $i) { __typename } }"""
RUN_FIELDS = """id trigger mode status requestedAt startedAt finishedAt durationMs error issues
  counts { created updated unchanged failed } progress { phase pageNo recordCount }"""
SYNC = f"""mutation($m: SyncModeInput!) {{ syncHaloPsa(mode: $m) {{
  __typename ... on SyncRun {{ {RUN_FIELDS} }} ... on NotConnected {{ message }}
  ... on ValidationError {{ fields {{ field message }} }} }} }}"""
SYNC_DEFAULT = "mutation { syncHaloPsa { __typename ... on SyncRun { id } } }"
RUNS = f"""query($after: String) {{ syncRuns(first: 1, after: $after) {{
  edges {{ cursor node {{ {RUN_FIELDS} }} }} pageInfo {{ hasNextPage endCursor }} }} }}"""
RUN = "query($id: ID!) { syncRun(id: $id) { id status } }"
ISSUES = """query($all: Boolean!) { syncIssues(includeResolved: $all) {
  edges { node { id kind resource externalId message runId firstSeenAt lastSeenAt resolvedAt } }
  pageInfo { hasNextPage } } }"""
SETTINGS_FIELDS = "invoiceNumberField contractBilledSubtypes intervalMinutes currency overlapMinutes"
SETTINGS = f"""{{ haloSyncSettings {{ __typename ... on HaloSyncSettings {{ {SETTINGS_FIELDS} }}
  ... on NotConnected {{ message }} }} }}"""
UPDATE = f"""mutation($i: UpdateHaloSyncSettingsInput!) {{ updateHaloSyncSettings(input: $i) {{
  __typename ... on HaloSyncSettings {{ {SETTINGS_FIELDS} }} ... on NotConnected {{ message }}
  ... on ValidationError {{ message fields {{ field message }} }} }} }}"""
ROTATE = """mutation { rotateHaloWebhookSecret { __typename
  ... on WebhookSecret { secret webhookUrl } ... on NotConnected { message } } }"""


@pytest.fixture
def halo(vendors: SandboxRouter) -> Iterator[tuple[HaloState, str]]:
    state = HaloState(tenant="gql")
    host = f"halo-{uuid.uuid4().hex[:8]}.sandbox.test"
    yield state, vendors.register(host, create_app(state))
    vendors.unregister(host)


async def _connect(api: Api, halo: tuple[HaloState, str]) -> None:
    state, url = halo
    app = state.add_application(scopes="all")
    body = {"resourceUrl": url, "clientId": app.client_id, "clientSecret": app.client_secret, "tenant": "gql"}
    made = await api.gql(CONNECT, {"i": body})
    assert made["data"]["connectHaloPsa"]["__typename"] == "VendorConnection", made


async def test_not_connected(tenant_a: Api) -> None:
    operations: list[tuple[str, dict[str, Any] | None, str]] = [
        (SYNC, {"m": "INCREMENTAL"}, "syncHaloPsa"),
        (SETTINGS, None, "haloSyncSettings"),
        (UPDATE, {"i": {"intervalMinutes": 30}}, "updateHaloSyncSettings"),
        (ROTATE, None, "rotateHaloWebhookSecret"),
    ]
    for query, variables, field in operations:
        r = await tenant_a.gql(query, variables)
        assert "errors" not in r, r
        answer = r["data"][field]
        assert answer["__typename"] == "NotConnected" and "connectHaloPsa" in answer["message"]
    assert (await tenant_a.gql(RUNS))["data"]["syncRuns"]["edges"] == []


async def test_sync_now_queues_one_run(tenant_a: Api, tenant_b: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    first = (await tenant_a.gql(SYNC, {"m": "INCREMENTAL"}))["data"]["syncHaloPsa"]
    assert first["__typename"] == "SyncRun"
    assert (first["trigger"], first["mode"], first["status"]) == ("MANUAL", "INCREMENTAL", "QUEUED")
    assert first["counts"] == {"created": 0, "updated": 0, "unchanged": 0, "failed": 0} and first["issues"] == 0
    assert first["startedAt"] is None and first["durationMs"] is None and first["error"] is None
    assert first["progress"] == {"phase": "CLIENTS", "pageNo": 0, "recordCount": None}
    # Asking again while it is queued answers the same run, whatever the mode.
    again = (await tenant_a.gql(SYNC, {"m": "UNPAID"}))["data"]["syncHaloPsa"]
    assert again == first
    assert (await tenant_a.gql(SYNC_DEFAULT))["data"]["syncHaloPsa"] == {"__typename": "SyncRun", "id": first["id"]}

    runs = (await tenant_a.gql(RUNS))["data"]["syncRuns"]
    assert [{"__typename": "SyncRun", **e["node"]} for e in runs["edges"]] == [first]
    assert runs["pageInfo"] == {"hasNextPage": False, "endCursor": None}
    assert (await tenant_a.gql(RUN, {"id": first["id"]}))["data"]["syncRun"] == {"id": first["id"], "status": "QUEUED"}
    assert (await tenant_a.gql(RUN, {"id": str(uuid.uuid4())}))["data"]["syncRun"] is None
    assert (await tenant_a.gql(RUN, {"id": "not-an-id"}))["data"]["syncRun"] is None
    for include_resolved in (False, True):
        issues = (await tenant_a.gql(ISSUES, {"all": include_resolved}))["data"]["syncIssues"]
        assert issues == {"edges": [], "pageInfo": {"hasNextPage": False}}

    # Another tenant sees none of it.
    assert (await tenant_b.gql(RUNS))["data"]["syncRuns"]["edges"] == []
    assert (await tenant_b.gql(RUN, {"id": first["id"]}))["data"]["syncRun"] is None

    bad = await tenant_a.gql(RUNS, {"after": "not a cursor"})
    assert bad["data"] is None and bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert bad["errors"][0]["extensions"]["fields"][0]["field"] == "after"


async def test_settings(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    defaults = (await tenant_a.gql(SETTINGS))["data"]["haloSyncSettings"]
    assert defaults == {
        "__typename": "HaloSyncSettings", "invoiceNumberField": "INVOICE_NUMBER", "contractBilledSubtypes": [],
        "intervalMinutes": 60, "currency": "USD", "overlapMinutes": 10,
    }  # fmt: skip

    changed = await tenant_a.gql(
        UPDATE, {"i": {"intervalMinutes": 15, "currency": "cad", "contractBilledSubtypes": ["Managed", "Backup"]}}
    )
    want = {**defaults, "intervalMinutes": 15, "currency": "CAD", "contractBilledSubtypes": ["Backup", "Managed"]}
    assert changed["data"]["updateHaloSyncSettings"] == want
    assert (await tenant_a.gql(SETTINGS))["data"]["haloSyncSettings"] == want
    assert (await tenant_a.gql(RUNS))["data"]["syncRuns"]["edges"] == []  # nothing that needs a sync changed

    bad = (await tenant_a.gql(UPDATE, {"i": {"intervalMinutes": 2, "currency": "XX1"}}))["data"]
    invalid = bad["updateHaloSyncSettings"]
    assert invalid["__typename"] == "ValidationError"
    assert {f["field"] for f in invalid["fields"]} == {"intervalMinutes", "currency"}
    assert (await tenant_a.gql(SETTINGS))["data"]["haloSyncSettings"] == want  # nothing was saved

    # A new invoice number field renumbers every invoice: a full sync is queued, and "sync now" answers it.
    renumbered = await tenant_a.gql(UPDATE, {"i": {"invoiceNumberField": "ID"}})
    assert renumbered["data"]["updateHaloSyncSettings"] == {**want, "invoiceNumberField": "ID"}
    [queued] = [e["node"] for e in (await tenant_a.gql(RUNS))["data"]["syncRuns"]["edges"]]
    assert (queued["mode"], queued["status"]) == ("FULL", "QUEUED")
    assert (await tenant_a.gql(SYNC_DEFAULT))["data"]["syncHaloPsa"]["id"] == queued["id"]


async def test_rotate_webhook_secret(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)
    first = (await tenant_a.gql(ROTATE))["data"]["rotateHaloWebhookSecret"]
    assert first["__typename"] == "WebhookSecret" and first["secret"].startswith("whs_")
    assert first["webhookUrl"].endswith(f"/webhooks/halopsa/{tenant_a.tenant_id}")
    second = (await tenant_a.gql(ROTATE))["data"]["rotateHaloWebhookSecret"]
    assert second["secret"] != first["secret"] and second["webhookUrl"] == first["webhookUrl"]


async def test_scopes(tenant_a: Api, halo: tuple[HaloState, str]) -> None:
    await _connect(tenant_a, halo)

    async def api(scope: str) -> Api:
        return Api(tenant_a.client, tenant_a.creds, await token_for(tenant_a.client, tenant_a.creds, scope=scope))

    reader, writer = await api("invoices:read"), await api("connections:write")
    mutations: list[tuple[str, dict[str, Any] | None]] = [
        (SYNC, {"m": "FULL"}),
        (UPDATE, {"i": {"intervalMinutes": 30}}),
        (ROTATE, None),
    ]
    for query, variables in mutations:
        r = await reader.gql(query, variables)
        assert r["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": "connections:write"}, r
    queries: list[tuple[str, dict[str, Any] | None]] = [
        (RUNS, None),
        (RUN, {"id": str(uuid.uuid4())}),
        (ISSUES, {"all": False}),
        (SETTINGS, None),
    ]
    for query, variables in queries:
        r = await writer.gql(query, variables)
        assert r["errors"][0]["extensions"] == {"code": "FORBIDDEN", "requiredScope": "invoices:read"}, r
    # Nothing was changed by the refused mutations; the reader reads.
    assert (await reader.gql(RUNS))["data"]["syncRuns"]["edges"] == []
    assert (await reader.gql(SETTINGS))["data"]["haloSyncSettings"]["intervalMinutes"] == 60
    # connections:write alone may ask for a sync.
    assert (await writer.gql(SYNC, {"m": "FULL"}))["data"]["syncHaloPsa"]["mode"] == "FULL"
