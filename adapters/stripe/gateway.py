"""Stripe behind the PaymentGateway port: off-session PaymentIntents on the MSP's connected account."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from domain.payment_gateway import (
    ChargeOutcome,
    ChargeRequest,
    DisputeFacts,
    GatewayUnavailable,
    PayoutFacts,
    PayoutTransaction,
    RefundOutcome,
    RefundRequest,
)
from domain.payments import PaymentStatus
from domain.refunds import RefundStatus

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


def _fee(intent: Mapping[str, Any]) -> int | None:
    charge = intent.get("latest_charge")
    bt = charge.get("balance_transaction") if isinstance(charge, Mapping) else None
    fee = bt.get("fee") if isinstance(bt, Mapping) else None
    return fee if isinstance(fee, int) else None


def outcome_of(intent: Mapping[str, Any]) -> ChargeOutcome:
    """A PaymentIntent as Stripe's JSON has it (a plain dict: see StripeGateway.charge)."""
    status = _STATUS.get(str(intent.get("status")), PaymentStatus.FAILED)
    error = intent.get("last_payment_error")
    if status is PaymentStatus.FAILED and error:
        code, decline = error.get("code"), error.get("decline_code")
        return ChargeOutcome(intent["id"], status, code, decline, _MESSAGES.get(decline or code or "", _GENERIC))
    if status is PaymentStatus.REQUIRES_ACTION:
        message = _MESSAGES["authentication_required"]
        return ChargeOutcome(intent["id"], status, "authentication_required", None, message)
    return ChargeOutcome(intent["id"], status, fee=_fee(intent))


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
        try:
            # The SDK's raw request: the same request, retries and errors as `v1.payment_intents.create_async`,
            # but the answer stays the JSON dict it was parsed into. Building StripeObjects from an intent with
            # its charge and balance transaction expanded cost more CPU than the rest of the call; we read four
            # fields of it.
            response = await self.client.raw_request_async(
                "post", "/v1/payment_intents", stripe_account=request.account,
                idempotency_key=request.idempotency_key, **params,
            )  # fmt: skip
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
        except stripe.StripeError as exc:
            # Refused for good (an amount below Stripe's minimum, a detached method, an account no longer
            # connected): the attempt ends failed, so it stops holding the invoices' balances.
            err = exc.error
            intent_id = err.payment_intent.id if err is not None and err.payment_intent is not None else None
            message = "The payment could not be made: " + (exc.user_message or "Stripe refused it.")
            return ChargeOutcome(intent_id, PaymentStatus.FAILED, exc.code or type(exc).__name__, None, message)
        return outcome_of(response.data)

    async def find_intent(self, request: ChargeRequest) -> ChargeOutcome | None:
        """Our attempt's PaymentIntent among the customer's, by the payment id in its metadata."""
        if not request.customer:
            return None
        options: Any = {"stripe_account": request.account}
        params: Any = {"customer": request.customer, "limit": 100}
        try:
            page = await self.client.v1.payment_intents.list_async(params=params, options=options)
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        for intent in page.data:
            metadata: Any = intent.metadata.to_dict() if intent.metadata else {}
            if metadata.get("arbridge_payment_id") == request.payment_id:
                return await self.intent(request.account, intent.id)
        return None

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        options: Any = {"stripe_account": account}
        try:
            found = await self.client.v1.payment_intents.retrieve_async(
                intent_id, params={"expand": ["latest_charge.balance_transaction"]}, options=options
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return outcome_of(found.to_dict())

    # -- refunds ------------------------------------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        params: Any = {
            "payment_intent": request.payment_intent,
            "amount": request.amount,
            "metadata": {"arbridge_refund_id": request.refund_id},
        }
        if request.reason:
            params["reason"] = request.reason
        options: Any = {"stripe_account": request.account, "idempotency_key": request.idempotency_key}
        try:
            made = await self.client.v1.refunds.create_async(params=params, options=options)
        except stripe.InvalidRequestError as exc:  # refused: already refunded, disputed, ...
            reason = exc.user_message or exc.code or "Stripe refused the refund."
            return RefundOutcome(None, RefundStatus.FAILED, str(reason))
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return refund_outcome_of(made)

    async def refund_state(self, account: str, stripe_refund_id: str) -> RefundOutcome:
        options: Any = {"stripe_account": account}
        try:
            found = await self.client.v1.refunds.retrieve_async(stripe_refund_id, options=options)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return refund_outcome_of(found)

    async def find_refund(self, account: str, payment_intent: str, refund_id: str) -> RefundOutcome | None:
        options: Any = {"stripe_account": account}
        params: Any = {"payment_intent": payment_intent, "limit": 100}
        try:
            listed = await self.client.v1.refunds.list_async(params=params, options=options)
            async for r in listed.auto_paging_iter():
                if getattr(r.metadata, "arbridge_refund_id", None) == refund_id:  # a StripeObject, not a dict
                    return refund_outcome_of(r)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return None

    # -- disputes and payouts ------------------------------------------------------------------------------

    async def dispute(self, account: str, dispute_id: str) -> DisputeFacts:
        options: Any = {"stripe_account": account}
        try:
            found = await self.client.v1.disputes.retrieve_async(
                dispute_id, params={"expand": ["payment_intent"]}, options=options
            )
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return dispute_facts_of(found.to_dict())

    async def payout(self, account: str, payout_id: str) -> PayoutFacts:
        options: Any = {"stripe_account": account}
        try:
            found = await self.client.v1.payouts.retrieve_async(payout_id, options=options)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return payout_facts_of(found.to_dict())

    async def payout_transactions(self, account: str, payout_id: str) -> list[PayoutTransaction]:
        options: Any = {"stripe_account": account}
        params: Any = {"payout": payout_id, "limit": 100, "expand": ["data.source"]}
        out = []
        try:
            listed = await self.client.v1.balance_transactions.list_async(params=params, options=options)
            async for bt in listed.auto_paging_iter():
                line = payout_transaction_of(bt.to_dict())
                if line.type != "payout":  # the payout's own transaction: what the others add up to
                    out.append(line)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as exc:
            raise GatewayUnavailable(f"Stripe: {type(exc).__name__}") from exc
        return out


_REFUND_STATUS = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,  # Stripe waits for the customer's details; still in flight
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


def refund_outcome_of(refund: Any) -> RefundOutcome:
    status = _REFUND_STATUS.get(str(refund.status), RefundStatus.PENDING)
    failure = getattr(refund, "failure_reason", None) if status is RefundStatus.FAILED else None
    return RefundOutcome(str(refund.id), status, str(failure) if failure else None)


def _id(value: Any) -> str | None:
    """An id, whether Stripe sent it as a string or expanded into the object."""
    return str(value.get("id")) if isinstance(value, dict) else (str(value) if value else None)


def dispute_facts_of(dp: dict[str, Any]) -> DisputeFacts:
    """Money moved for a dispute is in its balance transactions: withdrawals (amount < 0, with the dispute fee)
    and reinstatements (amount > 0; a fee given back shows as a negative fee)."""
    intent = dp.get("payment_intent")
    metadata = (intent.get("metadata") or {}) if isinstance(intent, dict) else {}
    txns = [t for t in dp.get("balance_transactions") or [] if isinstance(t, dict)]
    out, back = [t for t in txns if int(t.get("amount", 0)) < 0], [t for t in txns if int(t.get("amount", 0)) > 0]
    details = dp.get("payment_method_details") or {}
    return DisputeFacts(
        id=str(dp["id"]), amount=int(dp["amount"]), currency=str(dp["currency"]).upper(), status=str(dp["status"]),
        reason=dp.get("reason"), payment_intent=_id(intent), payment_id=metadata.get("arbridge_payment_id"),
        withdrawn=-sum(int(t["amount"]) for t in out), fee=sum(int(t.get("fee", 0)) for t in out),
        reinstated=sum(int(t["amount"]) for t in back), fee_returned=max(0, -sum(int(t.get("fee", 0)) for t in back)),
        bank_debit=details.get("type") == "us_bank_account",
    )  # fmt: skip


def payout_facts_of(po: dict[str, Any]) -> PayoutFacts:
    arrival = po.get("arrival_date")
    return PayoutFacts(
        id=str(po["id"]), amount=int(po["amount"]), currency=str(po["currency"]).upper(), status=str(po["status"]),
        automatic=bool(po.get("automatic")),
        arrival_date=datetime.fromtimestamp(int(arrival), UTC).date() if arrival else None,
    )  # fmt: skip


def payout_transaction_of(bt: dict[str, Any]) -> PayoutTransaction:
    """The source (expanded) names the PaymentIntent: a charge directly (and our id in its metadata, copied from
    the PaymentIntent's), a refund or a dispute through its `payment_intent`."""
    source = bt.get("source")
    source = source if isinstance(source, dict) else {}
    intent = source.get("payment_intent")
    ours = (source.get("metadata") or {}).get("arbridge_payment_id") if source.get("object") == "charge" else None
    return PayoutTransaction(
        id=str(bt["id"]), type=str(bt["type"]), gross=int(bt["amount"]), fee=int(bt.get("fee") or 0),
        net=int(bt["net"]), payment_intent=_id(intent), payment_id=ours,
    )  # fmt: skip
