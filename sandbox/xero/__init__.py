"""A stateful local stand-in for Xero: OAuth 2.0 identity (consent page, PKCE, token rotation, connections),
the Accounting API (Contacts, Invoices, Payments, Accounts, BankTransactions), per-tenant rate limits and
signed webhooks with the Intent-to-Receive check. See app.py for the routes and each module for the
behaviour it emulates and where it had to guess.

    state = XeroState(seed=1)
    org = state.add_organisation("Acme MSP")
    app_reg = state.register_app()
    tokens = state.connect(app_reg)
    asgi = create_app(state)
"""

from .app import create_app
from .limits import XeroLimits
from .state import XeroConfig, XeroState
from .webhooks import IntentToReceiveReport, intent_to_receive, sign

__all__ = ["IntentToReceiveReport", "XeroConfig", "XeroLimits", "XeroState", "create_app", "intent_to_receive", "sign"]
