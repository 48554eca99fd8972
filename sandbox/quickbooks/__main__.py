"""Serve a QuickBooks sandbox on its own: `python -m sandbox.quickbooks [--port 8765] [--redirect-uri URL]`.

Prints the app credentials, the company's realmId and the webhook verifier token, then serves until Ctrl-C.
State lives in memory only; a restart is a fresh company.
"""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.quickbooks.app import create_app
from sandbox.quickbooks.state import QuickBooksState


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--redirect-uri", action="append", default=[])
    parser.add_argument("--customers", type=int, default=5)
    args = parser.parse_args()
    state = QuickBooksState()
    app = state.register_app(args.redirect_uri or ["http://127.0.0.1:8000/oauth/quickbooks/callback"])
    company = state.add_company()
    if args.customers:
        company.seed_bulk(args.customers, invoices_per_customer=2)
    base = f"http://{args.host}:{args.port}"
    print(f"QuickBooks sandbox on {base}")
    print(f"  client_id      {app.client_id}\n  client_secret  {app.client_secret}")
    print(f"  realmId        {company.realm_id}\n  verifier token {state.webhook_verifier_token}")
    print(f"  discovery      {base}/.well-known/openid_sandbox_configuration")
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
