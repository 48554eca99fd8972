"""Stripe behind the PaymentGateway port: off-session PaymentIntents on the MSP's connected account."""

from __future__ import annotations

from typing import Any

import stripe

from domain.payment_gateway import ChargeOutcome, ChargeRequest, GatewayUnavailable
from domain.payments import PaymentStatus

_STATUS = {
    "succeeded": PaymentStatus.SUCCEEDED,
    "processing": PaymentStatus.PROCESSING,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "requires_confirmation": PaymentStatus.REQUIRES_ACTION,
    "requires_payment_method": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
}

# What a payer is told, by decline code: plain words, no issuer jargon, no hint a fraud check fired.
_MESSAGES = {
    "insufficient_funds": "The card has insufficient funds. Try another card or pay by bank transfer.",
    "expired_card": "The card has expired. Update the card or use another one.",
    "incorrect_cvc": "The card's security code was wrong. Enter the card again.",
    "processing_error": "The card could not be charged just now. Try again in a few minutes.",
    "card_velocity_exceeded": "The card has reached its limit for now. Try another card.",
    "authentication_required": "Your bank needs you to confirm this payment. Pay this invoice while signed in.",
}
_GENERIC = "The card was declined. Use another card or contact your bank."


def _fee(intent: Any) -> int | None:
    charge = getattr(intent, "latest_charge", None)
    bt = getattr(charge, "balance_transaction", None) if not isinstance(charge, str) else None
    fee = getattr(bt, "fee", None) if bt is not None and not isinstance(bt, str) else None
    return int(fee) if isinstance(fee, int) else None


def outcome_of(intent: Any) -> ChargeOutcome:
    status = _STATUS.get(str(intent.status), PaymentStatus.FAILED)
    error = getattr(intent, "last_payment_error", None)
    if status is PaymentStatus.FAILED and error is not None:
        code, decline = getattr(error, "code", None), getattr(error, "decline_code", None)
        return ChargeOutcome(intent.id, status, code, decline, _MESSAGES.get(decline or code or "", _GENERIC))
    if status is PaymentStatus.REQUIRES_ACTION:
        return ChargeOutcome(intent.id, status, "authentication_required", None, _MESSAGES["authentication_required"])
    return ChargeOutcome(intent.id, status, fee=_fee(intent))


class StripeGateway:
    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        params: Any = {  # the SDK's TypedDict, built as a plain dict
            "amount": request.amount,
            "currency": request.currency.lower(),
            "customer": request.customer,
            "payment_method": request.payment_method,
            "confirm": True,
            "off_session": True,
            "metadata": {"arbridge_payment_id": request.payment_id, "surcharge": str(request.surcharge)},
            "expand": ["latest_charge.balance_transaction"],
        }
        if request.description:
            params["description"] = request.description
        options: Any = {"stripe_account": request.account, "idempotency_key": request.idempotency_key}
        try:
            intent = await self.client.v1.payment_intents.create_async(params=params, options=options)
        except stripe.CardError as exc:
            # A decline: the PaymentIntent exists, in requires_payment_method (or requires_action for 3-D Secure).
            err = exc.error
            intent_id = err.payment_intent.id if err is not None and err.payment_intent is not None else None
            code = exc.code
            decline = err.decline_code if err is not None else None
            if code == "authentication_required":
                return ChargeOutcome(intent_id, PaymentStatus.REQUIRES_ACTION, code, decline, _MESSAGES[code])
            message = _MESSAGES.get(decline or code or "", _GENERIC)
            return ChargeOutcome(intent_id, PaymentStatus.FAILED, code, decline, message)
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        except stripe.APIError as exc:
            raise GatewayUnavailable(f"Stripe answered {exc.http_status}") from exc
        return outcome_of(intent)

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        options: Any = {"stripe_account": account}
        try:
            found = await self.client.v1.payment_intents.retrieve_async(
                intent_id, params={"expand": ["latest_charge.balance_transaction"]}, options=options
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return outcome_of(found)
