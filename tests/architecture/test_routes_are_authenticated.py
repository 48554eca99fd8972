"""Every REST route answers 401 without a token, except the few public ones listed here."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/problems/{code}"),
    ("POST", "/oauth/token"),
    ("GET", "/.well-known/jwks.json"),
    # The vendor's redirect: authenticated by the single-use state (tests/api/test_connections*.py).
    ("GET", "/v1/connections/{provider}/callback"),
    ("GET", "/v1/connections/{connection_id}/connected"),
    # Stripe's webhook: authenticated by its signature on the raw body (tests/payments/test_stripe_webhooks.py).
    ("POST", "/v1/webhooks/stripe"),
}


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}:]+:uuid\}", "0190f0b2-1c2d-7e3f-8a4b-5c6d7e8f9a0b", re.sub(r"\{([^}:]+):str\}", "x", path))


async def test_every_route_requires_a_token(client: AsyncTestClient[Any]) -> None:
    app: Litestar = client.app
    checked = 0
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith("/schema"):
            continue
        for method in sorted(route.methods - {"OPTIONS", "HEAD"}):
            plain = re.sub(r"\{([^}:]+)(:[^}]+)?\}", r"{\1}", route.path)
            if (method, plain) in PUBLIC:
                continue
            r = await client.request(method, _concrete(route.path), json={} if method == "POST" else None)
            assert r.status_code == 401, f"{method} {route.path} answered {r.status_code} without a token"
            checked += 1
    assert checked >= 8
