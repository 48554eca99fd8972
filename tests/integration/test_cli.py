"""The operator CLI, run in-process against the test database."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.config import Settings
from api import cli


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("APP_DATABASE_URL", settings.app_database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("ARBRIDGE_ENCRYPTION_KEYS", settings.encryption_keys)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_creates_tenant_and_clients(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "tenants", "create", "--name", "CLI MSP", "--with-client", "--json")
    assert code == 0
    tenant = json.loads(out)
    assert tenant["name"] == "CLI MSP" and tenant["client_secret"].startswith("arbsec_")

    code, out, _ = _run(
        capsys,
        "api-clients",
        "create",
        "--tenant",
        tenant["tenant_id"],
        "--name",
        "Reports",
        "--scopes",
        "invoices:read",
        "--json",
    )
    assert code == 0 and json.loads(out)["scopes"] == ["invoices:read"]

    code, out, _ = _run(capsys, "api-clients", "list", "--tenant", tenant["tenant_id"], "--json")
    listed = json.loads(out)
    assert {c["name"] for c in listed} == {"CLI MSP admin", "Reports"}
    assert all("secret" not in json.dumps(c) for c in listed)


def test_cli_refuses_bad_input(cli_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(
        capsys,
        "api-clients",
        "create",
        "--tenant",
        "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
        "--name",
        "x",
        "--scopes",
        "admin",
    )
    assert code == 2 and "no tenant" in err
    code, out, _ = _run(capsys, "tenants", "create", "--name", "Scopes MSP", "--json")
    tid = json.loads(out)["tenant_id"]
    code, _, err = _run(capsys, "api-clients", "create", "--tenant", tid, "--name", "x", "--scopes", "root")
    assert code == 2 and "unknown scopes" in err


async def test_cli_credentials_work_against_the_api(
    cli_env: None, capsys: pytest.CaptureFixture[str], client: AsyncTestClient[Any]
) -> None:
    import asyncio

    code = await asyncio.to_thread(cli.main, ["tenants", "create", "--name", "Token MSP", "--with-client", "--json"])
    assert code == 0
    creds = json.loads(capsys.readouterr().out)
    r = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=httpx.BasicAuth(creds["client_id"], creds["client_secret"]),
    )
    assert r.status_code == 200
    token = r.json()["access_token"]
    assert (await client.get("/v1/invoices", headers={"Authorization": f"Bearer {token}"})).json()["data"] == []
