"""`arbridge`: the operator's command line (tenants, API clients, signing keys, migrations, syncs).

Reads DATABASE_URL, REDIS_URL and ARBRIDGE_ENCRYPTION_KEYS like the server; while `make run` is up it
falls back to the settings that run saved in .arbridge/dev-env.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from adapters.auth.clients import create_api_client, create_tenant, list_api_clients, tenant_exists
from adapters.auth.tokens import SigningKeyStore
from adapters.clock import SystemClock
from adapters.config import Settings
from adapters.crypto import KeyRing
from adapters.db.engine import app_engine
from adapters.db.halosync import SqlSyncStore
from adapters.db.migrate import upgrade
from adapters.halopsa.runner import run_sync
from adapters.vendor_flows import build_vendor_flows
from domain.auth import ALL_SCOPES
from domain.connections import Provider
from domain.halopsa import HaloResource
from domain.halosync.engine import PAGE_SIZE
from domain.halosync.runs import SyncMode, SyncRun, SyncStatus, SyncTrigger
from domain.ids import new_id


def _settings() -> Settings:
    dev_env = Path(os.environ.get("ARBRIDGE_STATE_DIR", ".arbridge")) / "dev-env.json"
    if not os.environ.get("DATABASE_URL") and dev_env.exists():
        for k, v in json.loads(dev_env.read_text()).items():
            os.environ.setdefault(k, v)
    return Settings.from_env()


def _out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, default=str) if args.json else text)


async def _tenants_create(args: argparse.Namespace, s: Settings) -> int:
    engine = app_engine(s, pool_size=1)
    try:
        tid = await create_tenant(engine, args.name, args.timezone)
        data: dict[str, Any] = {"tenant_id": str(tid), "name": args.name, "timezone": args.timezone}
        text = f"tenant {tid} ({args.name})"
        if args.with_client:
            creds = await create_api_client(engine, tid, f"{args.name} admin", ALL_SCOPES)
            data |= {"client_id": creds.client_id, "client_secret": creds.client_secret, "scopes": sorted(creds.scopes)}
            text += f"\nclient_id     {creds.client_id}\nclient_secret {creds.client_secret}  (shown once)"
    finally:
        await engine.dispose()
    _out(args, data, text)
    return 0


async def _clients_create(args: argparse.Namespace, s: Settings) -> int:
    scopes = frozenset(x.strip() for x in args.scopes.split(",") if x.strip())
    engine = app_engine(s, pool_size=1)
    try:
        tid = uuid.UUID(args.tenant)
        if not await tenant_exists(engine, tid):
            print(f"error: no tenant {tid}", file=sys.stderr)
            return 2
        try:
            creds = await create_api_client(engine, tid, args.name, scopes)
        except ValueError as exc:
            print(f"error: {exc}; known scopes: {', '.join(sorted(ALL_SCOPES))}", file=sys.stderr)
            return 2
    finally:
        await engine.dispose()
    data = {
        "tenant_id": str(tid),
        "client_id": creds.client_id,
        "client_secret": creds.client_secret,
        "scopes": sorted(creds.scopes),
    }
    _out(
        args,
        data,
        f"client_id     {creds.client_id}\nclient_secret {creds.client_secret}  (shown once)\n"
        f"scopes        {' '.join(sorted(creds.scopes))}",
    )
    return 0


async def _clients_list(args: argparse.Namespace, s: Settings) -> int:
    engine = app_engine(s, pool_size=1)
    try:
        rows = await list_api_clients(engine, uuid.UUID(args.tenant))
    finally:
        await engine.dispose()
    if args.json:
        print(json.dumps(rows, default=str))
    else:
        for r in rows:
            state = "disabled" if r["disabled_at"] else "active"
            scopes = " ".join(str(x) for x in r["scopes"])  # type: ignore[attr-defined]
            print(f"{r['client_id']}  {state:8}  {scopes:60}  {r['name']}")
    return 0


async def _keys_rotate(args: argparse.Namespace, s: Settings) -> int:
    engine = app_engine(s, pool_size=1)
    try:
        kid = await SigningKeyStore(engine, KeyRing(s.encryption_keys), s.token_ttl_seconds).rotate()
    finally:
        await engine.dispose()
    _out(args, {"kid": kid}, f"new signing key {kid}; tokens signed by the old key stay valid until they expire")
    return 0


_shown: list[HaloResource] = []  # the resource whose line the bar is rewriting


def _bar(run: SyncRun, phase: HaloResource, page_no: int, record_count: int | None) -> None:
    """One line per resource, rewritten in place: `Invoice  [#######.....]  37/50 pages  new 12 ...`."""
    if _shown and _shown[-1] is not phase:
        print()
    _shown[:] = [phase]
    pages = max(1, -(-(record_count or 0) // PAGE_SIZE))
    done = min(page_no, pages)
    filled = int(30 * done / pages)
    c = run.counts
    line = f"\r{phase.value:<15} [{'#' * filled}{'.' * (30 - filled)}] {done}/{pages} pages"
    print(f"{line}  new {c.created}  changed {c.updated}  same {c.unchanged}  failed {c.failed}", end="", flush=True)


async def _sync_halopsa(args: argparse.Namespace, s: Settings) -> int:
    tenant_id = uuid.UUID(args.tenant)
    engine = app_engine(s, pool_size=2)
    clock = SystemClock()
    ring = KeyRing(s.encryption_keys)
    flows = build_vendor_flows(s, clock)
    try:
        async with SqlSyncStore(engine, tenant_id, ring).transaction() as tx:
            if await tx.connections.by_provider(Provider.HALOPSA) is None:
                print("error: this tenant has not connected HaloPSA", file=sys.stderr)
                return 1
            active = await tx.active_run()
            if active is not None:
                print(
                    f"error: sync run {active.id} is already {active.status.value}; try again when it ends",
                    file=sys.stderr,
                )
                return 1
            run = SyncRun(new_id(), SyncTrigger.MANUAL, SyncMode(args.mode), SyncStatus.QUEUED, clock.now())
            # Run here, not by a worker: no sync.requested event. (If this process dies, the scheduler finds
            # the run's heartbeat stopped and hands it to a worker, which resumes it.)
            if not await tx.add_run(run):
                print("error: another sync run has just started; try again when it ends", file=sys.stderr)
                return 1
            await tx.commit()
        done = await run_sync(engine, ring, flows, clock, tenant_id, run.id, progress=None if args.json else _bar)
    finally:
        await flows.http.aclose()
        await engine.dispose()
    if done is None:
        print(f"error: sync run {run.id} is being run by another process", file=sys.stderr)
        return 1
    c = done.counts
    data = {
        "run_id": str(done.id), "status": done.status.value, "created": c.created, "updated": c.updated,
        "unchanged": c.unchanged, "failed": c.failed, "issues": done.issues, "duration_ms": done.duration_ms,
        "error": done.error,
    }  # fmt: skip
    text = (
        f"\nsync {done.status.value} in {(done.duration_ms or 0) / 1000:.1f} s: {c.created} new, {c.updated} changed, "
        f"{c.unchanged} unchanged, {c.failed} failed, {done.issues} issues" + (f"\n{done.error}" if done.error else "")
    )
    _out(args, data, text)
    return 0 if done.status is SyncStatus.SUCCEEDED else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="arbridge", description="arbridge operator commands")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations (as DATABASE_URL, the schema owner)")
    t = sub.add_parser("tenants", help="tenants (MSPs)").add_subparsers(dest="action", required=True)
    tc = t.add_parser("create", help="create a tenant")
    tc.add_argument("--name", required=True)
    tc.add_argument("--timezone", default="UTC", help="IANA zone for 'due today' (default UTC)")
    tc.add_argument("--with-client", action="store_true", help="also create an admin API client")
    c = sub.add_parser("api-clients", help="a tenant's API clients").add_subparsers(dest="action", required=True)
    cc = c.add_parser("create", help="create an API client; prints its secret once")
    cc.add_argument("--tenant", required=True)
    cc.add_argument("--name", required=True)
    cc.add_argument("--scopes", default="admin", help=f"comma-separated, from: {', '.join(sorted(ALL_SCOPES))}")
    cl = c.add_parser("list", help="list API clients")
    cl.add_argument("--tenant", required=True)
    k = sub.add_parser("keys", help="token signing keys").add_subparsers(dest="action", required=True)
    kr = k.add_parser("rotate", help="start signing with a new key")
    sy = sub.add_parser("sync", help="sync from a vendor now").add_subparsers(dest="action", required=True)
    sh = sy.add_parser("halopsa", help="sync a tenant's HaloPSA now, showing progress")
    sh.add_argument("--tenant", required=True)
    sh.add_argument("--mode", choices=["incremental", "full", "unpaid"], default="incremental")
    for sp in (tc, cc, cl, kr, sh):
        sp.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = _settings()
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        upgrade(settings.database_url)
        print("migrations applied")
        return 0
    handlers = {
        ("tenants", "create"): _tenants_create,
        ("api-clients", "create"): _clients_create,
        ("api-clients", "list"): _clients_list,
        ("keys", "rotate"): _keys_rotate,
        ("sync", "halopsa"): _sync_halopsa,
    }
    return asyncio.run(handlers[(args.command, args.action)](args, settings))


if __name__ == "__main__":
    sys.exit(main())
