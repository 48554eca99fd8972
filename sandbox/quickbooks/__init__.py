"""A stateful local stand-in for QuickBooks Online (Intuit): OAuth, the v3 Accounting API for the
entities arbridge posts, queries, CDC, throttling, Faults and signed webhooks. See state.py to start."""

from sandbox.quickbooks.app import create_app
from sandbox.quickbooks.state import Limits, QuickBooksState
from sandbox.quickbooks.store import Company, CompanySettings
from sandbox.quickbooks.tokens import ACCOUNTING_SCOPE, OAuthApp, TokenSet
from sandbox.quickbooks.webhooks import sign as sign_webhook

__all__ = [
    "ACCOUNTING_SCOPE",
    "Company",
    "CompanySettings",
    "Limits",
    "OAuthApp",
    "QuickBooksState",
    "TokenSet",
    "create_app",
    "sign_webhook",
]
