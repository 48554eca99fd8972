"""Settings from the environment. Unset URLs mean "use the embedded servers" (see sandbox/embedded.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from adapters.vendor_config import VendorSettings

APP_ROLE = "arbridge_app"  # what the API and workers connect as: not owner, not superuser, no BYPASSRLS
SYSTEM_ROLE = "arbridge_system"  # owns the few cross-tenant functions (outbox relay, client lookup)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class Settings:
    database_url: str  # the schema owner: migrations and operator tasks
    redis_url: str
    app_database_url: str  # the application role
    encryption_keys: str  # "kid:base64key,kid2:..."; the first one encrypts, all decrypt
    base_url: str = "http://127.0.0.1:8000"
    queue_name: str = "arq:queue"
    token_ttl_seconds: int = 900
    idempotency_ttl_seconds: int = 86_400
    max_body_bytes: int = 1_048_576
    db_pool_size: int = 20
    state_dir: Path = field(default_factory=lambda: Path(".arbridge"))
    vendors: VendorSettings = field(default_factory=VendorSettings)
    # Development only (the sandboxes serve plain http): production sends vendor secrets over https only.
    allow_http_vendor_urls: bool = False

    @staticmethod
    def from_env() -> Settings:
        missing = [n for n in ("DATABASE_URL", "REDIS_URL", "ARBRIDGE_ENCRYPTION_KEYS") if not os.environ.get(n)]
        if missing:
            raise RuntimeError(
                f"{', '.join(missing)} not set. `make run` sets them for the embedded servers; "
                "in production set them to your PostgreSQL, Redis and key ring."
            )
        db = os.environ["DATABASE_URL"]
        return Settings(
            database_url=db,
            redis_url=os.environ["REDIS_URL"],
            app_database_url=os.environ.get("APP_DATABASE_URL") or app_url_from_owner_url(db),
            encryption_keys=os.environ["ARBRIDGE_ENCRYPTION_KEYS"],
            base_url=os.environ.get("ARBRIDGE_BASE_URL", "http://127.0.0.1:8000"),
            queue_name=os.environ.get("ARBRIDGE_QUEUE", "arq:queue"),
            token_ttl_seconds=_env_int("ARBRIDGE_TOKEN_TTL", 900),
            db_pool_size=_env_int("ARBRIDGE_DB_POOL_SIZE", 20),
            state_dir=Path(os.environ.get("ARBRIDGE_STATE_DIR", ".arbridge")),
            vendors=VendorSettings.from_env(),
            allow_http_vendor_urls=os.environ.get("ARBRIDGE_ALLOW_HTTP_VENDOR_URLS") == "1",
        )


def app_url_from_owner_url(owner_url: str) -> str:
    """Same server and database as the owner URL, but as the application role.

    The role's password comes from ARBRIDGE_APP_DB_PASSWORD (the migration sets it); trust or peer
    auth (the embedded server, this machine's test service) needs none.
    """
    parts = urlsplit(owner_url)
    password = os.environ.get("ARBRIDGE_APP_DB_PASSWORD", "")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = APP_ROLE + (f":{quote(password, safe='')}" if password else "") + "@" + host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def sqlalchemy_url(url: str) -> str:
    """postgresql://... -> postgresql+asyncpg://... (asyncpg takes a unix socket dir as `host=` query)."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.rsplit('@', maxsplit=1)[-1]}")
