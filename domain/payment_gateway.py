"""What paying needs from the payment processor (Stripe): charging a stored method, reading a charge back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from domain.payments import PaymentStatus
from domain.refunds import RefundStatus


@dataclass(frozen=True)
class ChargeOutcome:
    """A PaymentIntent's state as arbridge records it."""

    intent_id: str | None
    status: PaymentStatus
    failure_code: str | None = None  # Stripe's error code: card_declined, authentication_required, ...
    decline_code: str | None = None  # the issuer's reason: insufficient_funds, lost_card, ...
    message: str | None = None  # for the payer; never Stripe's raw text when it could reveal too much
    fee: int | None = None  # Stripe's processing fee, once known (balance transaction)


class GatewayUnavailable(Exception):
    """Stripe could not be reached or answered 5xx: whether the charge happened is unknown until asked
    again (with the same idempotency key, which cannot charge twice)."""


@dataclass(frozen=True)
class ChargeRequest:
    account: str  # the MSP's connected account (Stripe-Account)
    customer: str
    payment_method: str
    amount: int
    currency: str
    idempotency_key: str
    payment_id: str  # ours, in the PaymentIntent's metadata: webhooks find the attempt by it
    surcharge: int = 0
    description: str | None = None


@dataclass(frozen=True)
class RefundRequest:
    account: str  # the MSP's connected account (Stripe-Account)
    payment_intent: str
    amount: int  # the invoice part plus the surcharge part
    idempotency_key: str
    refund_id: str  # ours, in the refund's metadata: webhooks find the refund by it
    reason: str | None = None  # duplicate | fraudulent | requested_by_customer


@dataclass(frozen=True)
class RefundOutcome:
    """A Stripe refund's state as arbridge records it (never STARTED)."""

    stripe_refund_id: str | None  # None when Stripe refused to make one
    status: RefundStatus
    failure_reason: str | None = None


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Create and confirm an off-session PaymentIntent. Declines are outcomes, not exceptions; raises
        GatewayUnavailable when the result is unknown."""

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        """The PaymentIntent as it is now (webhooks arrive out of order: re-read before acting)."""

    async def find_intent(self, request: ChargeRequest) -> ChargeOutcome | None:
        """The PaymentIntent an earlier try of this attempt created, if any (found by our payment id)."""

    async def refund(self, request: RefundRequest) -> RefundOutcome:
        """Refund part or all of a PaymentIntent's charge. Stripe refusing it (already refunded, disputed) is
        a failed outcome, not an exception; raises GatewayUnavailable when the result is unknown."""

    async def refund_state(self, account: str, stripe_refund_id: str) -> RefundOutcome:
        """The refund as it is now (webhooks arrive out of order: re-read before acting)."""

    async def find_refund(self, account: str, payment_intent: str, refund_id: str) -> RefundOutcome | None:
        """The refund made for our refund `refund_id` (its metadata), if Stripe has one: how a resumed refund
        finds out whether it was made, whatever became of Stripe's idempotency key meanwhile."""

    async def dispute(self, account: str, dispute_id: str) -> DisputeFacts:
        """A dispute as it is now, with the PaymentIntent's metadata (our payment id). Raises GatewayUnavailable."""

    async def payout(self, account: str, payout_id: str) -> PayoutFacts:
        """A payout as it is now. Raises GatewayUnavailable."""

    async def payout_transactions(self, account: str, payout_id: str) -> list[PayoutTransaction]:
        """Every balance transaction an automatic payout carries (charges, refunds, disputes, adjustments),
        its own payout transaction left out, each with our payment id when it is one of ours."""


@dataclass(frozen=True)
class MethodDetails:
    """A saved PaymentMethod as Stripe describes it."""

    stripe_id: str
    kind: str  # card | us_bank_account
    brand: str | None = None
    funding: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    bank_name: str | None = None


@dataclass(frozen=True)
class SetupOutcome:
    setup_intent_id: str
    status: str  # succeeded | requires_action | requires_payment_method | processing ...
    client_secret: str | None
    method: MethodDetails | None  # once succeeded
    failure_message: str | None = None
    customer: str | None = None  # the Stripe customer the setup belongs to


class MethodsGateway(Protocol):
    async def create_customer(self, account: str, name: str, email: str | None, client_id: str) -> str: ...

    async def setup(
        self,
        account: str,
        customer: str,
        kind: str,
        payment_method: str | None,
        idempotency_key: str,
        mandate: tuple[str, str] | None = None,
    ) -> SetupOutcome:
        """A SetupIntent for off-session use; confirmed at once when `payment_method` is given (`mandate`: the
        payer's IP address and user agent, accepting a bank debit mandate)."""

    async def setup_intent(self, account: str, setup_intent_id: str) -> SetupOutcome: ...

    async def detach(self, account: str, payment_method: str) -> None: ...


@dataclass(frozen=True)
class DisputeFacts:
    """A dispute (a card chargeback, or an ACH debit returned after it settled) as Stripe describes it."""

    id: str
    amount: int
    currency: str  # upper case
    status: str  # Stripe's: warning_needs_response, needs_response, under_review, won, lost, ...
    reason: str | None
    payment_intent: str | None
    payment_id: str | None  # ours, from the PaymentIntent's metadata
    withdrawn: int = 0  # what Stripe took from the balance for it (0 for an inquiry)
    fee: int = 0  # the dispute fee withdrawn with it
    reinstated: int = 0  # given back when won
    fee_returned: int = 0
    bank_debit: bool = False  # an ACH return: final when it opens


@dataclass(frozen=True)
class PayoutFacts:
    id: str
    amount: int
    currency: str  # upper case
    status: str  # pending, in_transit, paid, failed, canceled
    automatic: bool
    arrival_date: date | None = None


@dataclass(frozen=True)
class PayoutTransaction:
    """One balance transaction in a payout: gross, Stripe's fee, and net (gross - fee) in minor units."""

    id: str
    type: str  # charge, payment (ACH), refund, adjustment (disputes), ...
    gross: int
    fee: int
    net: int
    payment_intent: str | None = None
    payment_id: str | None = None  # ours, from the charge's metadata, when the source says so
