"""The demo tenant of `make run`: created once, with an API client and a few clients and invoices."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.auth.clients import create_api_client, create_tenant, find_api_client, tenant_exists
from adapters.auth.secrets import verify_secret
from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.db.engine import app_engine
from adapters.db.uow import SqlUnitOfWork
from domain.auth import ALL_SCOPES, Principal
from domain.clients import Address, NewClient
from domain.invoices import NewInvoice, NewInvoiceLine
from domain.usecases.clients import create_client
from domain.usecases.invoices import create_invoice

DEMO_NAME = "Demo MSP"


async def _still_valid(settings: Settings, saved: dict[str, Any]) -> bool:
    engine = app_engine(settings, pool_size=1)
    try:
        record = await find_api_client(engine, saved.get("client_id", ""))
        return record is not None and verify_secret(saved.get("client_secret", ""), record.secret_hash)
    finally:
        await engine.dispose()


def load_credentials(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def save_credentials(path: Path, creds: dict[str, Any]) -> None:
    """Secrets are stored hashed, so this file is the only copy of the demo client's secret."""
    path.write_text(json.dumps(creds, indent=2))
    path.chmod(0o600)


async def ensure_demo_tenant(settings: Settings, saved: dict[str, Any]) -> dict[str, Any]:
    """Reuse the saved demo credentials when they still work; otherwise create the tenant (or a new
    client for it, when only the secret was lost)."""
    if saved and await _still_valid(settings, saved):
        return {**saved, "base_url": settings.base_url}
    engine = app_engine(settings, pool_size=1)
    try:
        tenant_id = uuid.UUID(saved["tenant_id"]) if saved.get("tenant_id") else None
        if tenant_id is None or not await tenant_exists(engine, tenant_id):
            tenant_id = await create_tenant(engine, DEMO_NAME, "America/Chicago")
            await _seed(engine, tenant_id)
        creds = await create_api_client(engine, tenant_id, "demo (make run)", ALL_SCOPES)
    finally:
        await engine.dispose()
    return {
        "tenant_id": str(tenant_id),
        "tenant_name": DEMO_NAME,
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "base_url": settings.base_url,
    }


async def _seed(engine: Any, tenant_id: uuid.UUID) -> None:
    principal = Principal(tenant_id, "demo-seed", frozenset(ALL_SCOPES))
    clock = SystemClock()
    today = clock.now().date()
    async with SqlUnitOfWork(engine, tenant_id) as uow:
        acme = await create_client(
            uow,
            principal,
            clock,
            NewClient(
                "Acme Dental Group", "ap@acmedental.example", Address("12 Main St", None, "Austin", "TX", "78701", "US")
            ),
        )
        harbor = await create_client(
            uow,
            principal,
            clock,
            NewClient(
                "Harbor Logistics",
                "billing@harbor.example",
                Address("9 Pier Rd", None, "Hartford", "CT", "06103", "US"),
            ),
        )
        for n, (client, due) in enumerate([(acme, -10), (acme, 20), (harbor, 5)], start=1001):
            await create_invoice(
                uow,
                principal,
                clock,
                NewInvoice(
                    client_id=client.id,
                    number=f"INV-{n}",
                    currency="USD",
                    issue_date=today - timedelta(days=20),
                    due_date=today + timedelta(days=due),
                    lines=[
                        NewInvoiceLine("Managed services (per seat)", Decimal(25), 9_500),
                        NewInvoiceLine("Microsoft 365 Business Premium", Decimal(25), 2_200, 4_400),
                    ],
                ),
            )
        await uow.commit()
