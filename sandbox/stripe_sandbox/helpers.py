"""What tests and the dev run do to the sandbox that a Stripe API client cannot: seed accounts and saved
payment methods, play the customer (3DS) or the bank (ACH results, disputes), pay out, connect accounts.

Mixed into `StripeState`; every helper takes the lock and first runs due scheduled work, like a request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sandbox.stripe_sandbox import (
    accounts,
    customers,
    disputes,
    mandates,
    oauth,
    payment_intents,
    payment_methods,
    payouts,
    setup_intents,
)

if TYPE_CHECKING:
    import threading

    from sandbox.stripe_sandbox.context import Op
    from sandbox.stripe_sandbox.store import Obj, Partition
    from sandbox.stripe_sandbox.webhooks import WebhookEndpoint, WebhookHub

_ACCEPTANCE = {
    "customer_acceptance": {"type": "online", "online": {"ip_address": "127.0.0.1", "user_agent": "sandbox"}}
}


class Helpers:
    lock: threading.RLock
    webhooks: WebhookHub
    connect_client_id: str

    # Provided by StripeState.
    def tick(self) -> int:
        raise NotImplementedError

    def op(self, account: str | None = None) -> Op:
        raise NotImplementedError

    def connect(self, account: Obj) -> Partition:
        raise NotImplementedError

    def run_scheduled(self, kind: str, obj_id: str | None = None) -> int:
        raise NotImplementedError

    def seed_account(
        self, *, name: str | None = None, email: str | None = None, type_: str = "standard", country: str = "US"
    ) -> str:
        """A connected account, ready for charges and payouts. Returns its id (use as Stripe-Account)."""
        with self.lock:
            acct = accounts.new_account(self, type_=type_, name=name, email=email, country=country)  # type: ignore[arg-type]
            self.connect(acct)
            return str(acct["id"])

    def seed_customer(
        self,
        *,
        account: str | None = None,
        email: str | None = None,
        name: str | None = None,
        methods: Iterable[str] = ("pm_card_visa",),
        metadata: dict[str, str] | None = None,
    ) -> Obj:
        """A customer with saved payment methods (test tokens such as pm_card_chargeDeclinedInsufficientFunds
        or pm_usBankAccount_success), the first one as invoice default. Cards are attached without the
        save-time check, so a decline card models one that was fine when saved; bank accounts get a mandate."""
        with self.lock:
            self.tick()
            op = self.op(account)
            customer = customers.create(op, {"email": email or "", "name": name or "", "metadata": metadata or {}})
            for token in methods:
                self.attach_method(customer["id"], token, account=account)
            first = op.part.customer_pms.get(customer["id"], [])
            if first:
                customer["invoice_settings"]["default_payment_method"] = first[0]
            return customer

    def attach_method(self, customer_id: str, token: str, *, account: str | None = None, validate: bool = False) -> Obj:
        with self.lock:
            op = self.op(account)
            pm = payment_methods.resolve(op, token)
            customers.attach(op, pm, op.part.require("customer", customer_id), validate=validate)
            if pm["type"] == "us_bank_account" and pm["id"] not in op.part.pm_mandate:
                mandates.from_mandate_data(op, pm, _ACCEPTANCE)
            return pm

    def advance_ach(self, payment_intent: str | None = None) -> int:
        """Settle processing ACH debits now (one, or all), whatever their due date. Returns how many."""
        return self.run_scheduled("ach_settle", payment_intent)

    def make_funds_available(self) -> int:
        """Move every pending balance transaction to available now."""
        return self.run_scheduled("txn_available")

    def complete_action(self, intent_id: str, *, account: str | None = None, succeed: bool = True) -> Obj:
        """The customer completing (or failing) 3DS for a PaymentIntent or SetupIntent in requires_action."""
        with self.lock:
            self.tick()
            op = self.op(account)
            if intent_id.startswith("seti_"):
                return setup_intents.complete_action(op, intent_id, succeed=succeed)
            return payment_intents.complete_action(op, intent_id, succeed=succeed)

    def open_dispute(
        self, charge_id: str, *, account: str | None = None, reason: str = "fraudulent", amount: int | None = None
    ) -> Obj:
        with self.lock:
            self.tick()
            op = self.op(account)
            return disputes.open_dispute(op, op.part.require("charge", charge_id), reason=reason, amount=amount)

    def close_dispute(self, dispute_id: str, *, account: str | None = None, won: bool = True) -> Obj:
        with self.lock:
            op = self.op(account)
            return disputes.close_dispute(op, op.part.require("dispute", dispute_id), won=won)

    def run_payouts(self, *, account: str | None = None, arrive: bool = False) -> list[Obj]:
        """Stripe's automatic payout run for one account: one payout per currency of everything available.
        `arrive=True` also lands them (payout.paid, payout.reconciliation_completed) without waiting a day."""
        with self.lock:
            self.tick()
            made = payouts.run_automatic(self.op(account))
            if arrive:
                for po in made:
                    self.run_scheduled("payout_paid", po["id"])
            return made

    def add_webhook_endpoint(
        self, url: str, *, secret: str | None = None, events: Iterable[str] = ("*",), connect: bool = False
    ) -> WebhookEndpoint:
        return self.webhooks.add_endpoint(url, secret=secret, events=events, connect=connect)

    def oauth_authorize(
        self,
        redirect_uri: str,
        *,
        state: str | None = None,
        scope: str = "read_write",
        account_id: str | None = None,
        email: str | None = None,
    ) -> str:
        """A standard account owner clicking "Connect": returns the redirect URL carrying `code` and `state`."""
        form: dict[str, Any] = {"client_id": self.connect_client_id, "redirect_uri": redirect_uri, "scope": scope}
        if state is not None:
            form["state"] = state
        if email:
            form["stripe_user[email]"] = email
        return oauth.approve(self, form, account_id=account_id)  # type: ignore[arg-type]
