"""The committed REST spec must be what the code generates (`make specs` rewrites it)."""

from __future__ import annotations

import json

from api.specs import OPENAPI_PATH, openapi_document


def test_openapi_is_committed_and_current() -> None:
    assert OPENAPI_PATH.exists(), "run `make specs`"
    committed = OPENAPI_PATH.read_text()
    assert committed == openapi_document(), "openapi/openapi.json is stale: run `make specs` and commit it"
    spec = json.loads(committed)
    assert spec["openapi"].startswith("3.")
    for path in ("/v1/invoices", "/v1/invoices/{invoice_id}", "/v1/clients", "/oauth/token"):
        assert path in spec["paths"]
