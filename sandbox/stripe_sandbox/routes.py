"""The `/v1` route table. Stripe paths put ids only at the third and fifth segments
(`/v1/customers/{id}/payment_methods/{id}`), so a route is found with one dict lookup on the path with those
segments replaced by `*`, never by trying patterns in turn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.stripe_sandbox import (
    accounts,
    charges,
    customers,
    disputes,
    events,
    mandates,
    payment_intents,
    payment_methods,
    payouts,
    refunds,
    setup_intents,
    webhook_endpoints,
)

Handler = Callable[..., Any]

_TABLE: list[tuple[str, str, Handler]] = [
    ("GET", "/v1/account", accounts.retrieve_own),
    ("GET", "/v1/accounts", accounts.list_accounts),
    ("POST", "/v1/accounts", accounts.create),
    ("GET", "/v1/accounts/*", accounts.retrieve),
    ("POST", "/v1/accounts/*", accounts.update),
    ("GET", "/v1/customers", customers.list_customers),
    ("POST", "/v1/customers", customers.create),
    ("GET", "/v1/customers/*", customers.retrieve),
    ("POST", "/v1/customers/*", customers.update),
    ("DELETE", "/v1/customers/*", customers.delete),
    ("GET", "/v1/customers/*/payment_methods", customers.list_customer_pms),
    ("GET", "/v1/customers/*/payment_methods/*", customers.retrieve_customer_pm),
    ("GET", "/v1/payment_methods", payment_methods.list_pms),
    ("POST", "/v1/payment_methods", payment_methods.create),
    ("GET", "/v1/payment_methods/*", payment_methods.retrieve),
    ("POST", "/v1/payment_methods/*", payment_methods.update),
    ("POST", "/v1/payment_methods/*/attach", customers.attach_endpoint),
    ("POST", "/v1/payment_methods/*/detach", customers.detach_endpoint),
    ("GET", "/v1/mandates/*", mandates.retrieve),
    ("GET", "/v1/setup_intents", setup_intents.list_intents),
    ("POST", "/v1/setup_intents", setup_intents.create),
    ("GET", "/v1/setup_intents/*", setup_intents.retrieve),
    ("POST", "/v1/setup_intents/*", setup_intents.update),
    ("POST", "/v1/setup_intents/*/confirm", setup_intents.confirm),
    ("POST", "/v1/setup_intents/*/cancel", setup_intents.cancel),
    ("GET", "/v1/payment_intents", payment_intents.list_intents),
    ("POST", "/v1/payment_intents", payment_intents.create),
    ("GET", "/v1/payment_intents/*", payment_intents.retrieve),
    ("POST", "/v1/payment_intents/*", payment_intents.update),
    ("POST", "/v1/payment_intents/*/confirm", payment_intents.confirm),
    ("POST", "/v1/payment_intents/*/cancel", payment_intents.cancel),
    ("POST", "/v1/payment_intents/*/capture", payment_intents.capture),
    ("GET", "/v1/charges", charges.list_charges),
    ("GET", "/v1/charges/*", charges.retrieve),
    ("POST", "/v1/charges/*", charges.update),
    ("GET", "/v1/charges/*/refunds", refunds.list_charge_refunds),
    ("GET", "/v1/application_fees", charges.list_application_fees),
    ("GET", "/v1/application_fees/*", charges.retrieve_application_fee),
    ("GET", "/v1/refunds", refunds.list_refunds),
    ("POST", "/v1/refunds", refunds.create),
    ("GET", "/v1/refunds/*", refunds.retrieve),
    ("POST", "/v1/refunds/*", refunds.update),
    ("GET", "/v1/disputes", disputes.list_disputes),
    ("GET", "/v1/disputes/*", disputes.retrieve),
    ("POST", "/v1/disputes/*", disputes.update),
    ("POST", "/v1/disputes/*/close", disputes.close),
    ("GET", "/v1/balance", payouts.retrieve_balance),
    ("GET", "/v1/balance_transactions", payouts.list_txns),
    ("GET", "/v1/balance_transactions/*", payouts.retrieve_txn),
    ("GET", "/v1/payouts", payouts.list_payouts),
    ("POST", "/v1/payouts", payouts.create),
    ("GET", "/v1/payouts/*", payouts.retrieve),
    ("POST", "/v1/payouts/*", payouts.update),
    ("GET", "/v1/events", events.list_events),
    ("GET", "/v1/events/*", events.retrieve_event),
    ("GET", "/v1/webhook_endpoints", webhook_endpoints.list_endpoints),
    ("POST", "/v1/webhook_endpoints", webhook_endpoints.create),
    ("GET", "/v1/webhook_endpoints/*", webhook_endpoints.retrieve),
    ("POST", "/v1/webhook_endpoints/*", webhook_endpoints.update),
    ("DELETE", "/v1/webhook_endpoints/*", webhook_endpoints.delete),
]

ROUTES: dict[tuple[str, tuple[str, ...]], Handler] = {
    (method, tuple(path.strip("/").split("/"))): handler for method, path, handler in _TABLE
}
_ID_SLOTS = (2, 4)


def match(method: str, path: str) -> tuple[Handler, list[str]] | None:
    segments = path.strip("/").split("/")
    ids = [segments[i] for i in _ID_SLOTS if i < len(segments)]
    shape = tuple("*" if i in _ID_SLOTS else s for i, s in enumerate(segments))
    handler = ROUTES.get((method, shape))
    if handler is None:
        return None
    return handler, ids
