"""What paying needs from the payment processor (Stripe): charging a stored method, reading a charge back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from domain.payments import PaymentStatus


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


class PaymentGateway(Protocol):
    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        """Create and confirm an off-session PaymentIntent. Declines are outcomes, not exceptions; raises
        GatewayUnavailable when the result is unknown."""

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        """The PaymentIntent as it is now (webhooks arrive out of order: re-read before acting)."""


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
