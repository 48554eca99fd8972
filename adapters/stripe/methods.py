"""Stripe customers and SetupIntents on the MSP's connected account (MethodsGateway)."""

from __future__ import annotations

import contextlib
from typing import Any

import stripe

from domain.errors import FieldError, NotFound, ValidationFailed
from domain.payment_gateway import GatewayUnavailable, MethodDetails, SetupOutcome


def _mandate(ip_address: str, user_agent: str) -> dict[str, Any]:
    """The payer's acceptance of the ACH debit mandate, as Stripe records it (server-side confirmation; Stripe.js
    sends its own)."""
    online = {"ip_address": ip_address, "user_agent": user_agent}
    return {"customer_acceptance": {"type": "online", "online": online}}


def details_of(pm: Any) -> MethodDetails:
    if pm.type == "card" and pm.card is not None:
        c = pm.card
        return MethodDetails(pm.id, "card", c.brand, c.funding, c.last4, c.exp_month, c.exp_year)
    bank = getattr(pm, "us_bank_account", None)
    return MethodDetails(
        pm.id, "us_bank_account", last4=getattr(bank, "last4", None), bank_name=getattr(bank, "bank_name", None)
    )


class StripeMethods:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        except stripe.APIError as exc:
            raise GatewayUnavailable(f"Stripe answered {exc.http_status}") from exc

    async def create_customer(self, account: str, name: str, email: str | None, client_id: str) -> str:
        params: Any = {"name": name, "metadata": {"arbridge_client_id": client_id}}
        if email:
            params["email"] = email
        options: Any = {"stripe_account": account, "idempotency_key": f"arbridge-customer-{client_id}-{account}"}
        customer = await self._call(self.client.v1.customers.create_async(params=params, options=options))
        return str(customer.id)

    async def _outcome(self, account: str, si: Any) -> SetupOutcome:
        method = None
        if si.status == "succeeded" and si.payment_method:
            pm = si.payment_method
            if isinstance(pm, str):
                pm = await self._call(
                    self.client.v1.payment_methods.retrieve_async(pm, options={"stripe_account": account})
                )
            method = details_of(pm)
        error = getattr(si, "last_setup_error", None)
        customer = si.customer if isinstance(si.customer, str) or si.customer is None else si.customer.id
        return SetupOutcome(si.id, si.status, si.client_secret, method, getattr(error, "message", None), customer)

    async def setup(
        self,
        account: str,
        customer: str,
        kind: str,
        payment_method: str | None,
        idempotency_key: str,
        mandate: tuple[str, str] | None = None,
    ) -> SetupOutcome:
        params: Any = {"customer": customer, "usage": "off_session", "payment_method_types": [kind]}
        if payment_method:
            params |= {"payment_method": payment_method, "confirm": True}
            if mandate is not None:
                params["mandate_data"] = _mandate(*mandate)
        options: Any = {"stripe_account": account, "idempotency_key": idempotency_key}
        try:
            si = await self._call(self.client.v1.setup_intents.create_async(params=params, options=options))
        except stripe.InvalidRequestError as exc:
            # An id Stripe does not know (a typo, another account's method): the caller's mistake, not ours.
            raise ValidationFailed(
                [FieldError("payment_method", exc.user_message or "Stripe does not know it")]
            ) from None
        except stripe.CardError as exc:
            err = exc.error
            si_obj = getattr(err, "setup_intent", None) if err is not None else None
            message = exc.user_message or "The card could not be saved."
            return SetupOutcome(getattr(si_obj, "id", ""), "requires_payment_method", None, None, message)
        return await self._outcome(account, si)

    async def setup_intent(self, account: str, setup_intent_id: str) -> SetupOutcome:
        try:
            si = await self._call(
                self.client.v1.setup_intents.retrieve_async(setup_intent_id, options={"stripe_account": account})
            )
        except stripe.InvalidRequestError:
            raise NotFound("setup intent", setup_intent_id) from None
        return await self._outcome(account, si)

    async def detach(self, account: str, payment_method: str) -> None:
        # Already detached (or removed at Stripe) is what we wanted.
        with contextlib.suppress(stripe.InvalidRequestError):
            await self._call(
                self.client.v1.payment_methods.detach_async(payment_method, options={"stripe_account": account})
            )
