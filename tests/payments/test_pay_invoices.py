"""Paying invoices with stored methods through the Stripe sandbox: success, declines, 3-D Secure, ACH, crashes,
and many requests at once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.errors import ValidationFailed
from domain.invoices import InvoiceStatus
from domain.payment_gateway import ChargeOutcome, ChargeRequest
from domain.payments import PaymentStatus, RecoveryPoint
from domain.usecases import payments as pay_uc
from tests.payments.support import Shop, shop


async def _pay(s: Shop, request: Any, key: str | None = None, gateway: Any = None) -> Any:
    return await pay_uc.pay(s.uow, gateway or s.gateway(), s.principal, s.clock, request, key)


async def test_paying_an_invoice_in_full_with_the_default_card(engine: AsyncEngine) -> None:
    s = await shop(engine)
    client = await s.new_client()
    card = await s.save_method(client)
    assert card.is_default and card.brand == "visa" and card.funding == "credit" and card.last4 == "4242"
    invoice = await s.new_invoice(client, 50_000)
    payment = await _pay(s, s.pay_request(client, (invoice.id, 50_000)), "key-1")
    assert payment.status is PaymentStatus.SUCCEEDED and payment.recovery_point is RecoveryPoint.FINISHED
    assert payment.stripe_payment_intent_id
    paid = await s.invoice(invoice.id)
    assert paid.status is InvoiceStatus.PAID and paid.balance == 0
    # The ledger: the gross amount to clearing against AR, then Stripe's fee out of clearing.
    async with s.uow() as uow:
        balances = await uow.ledger.balances()
    fee = -balances[("stripe_clearing", "USD")] + 50_000
    assert balances[("accounts_receivable", "USD")] == -50_000  # (the invoice's own posting comes by its event)
    assert balances[("processing_fees", "USD")] == fee > 0
    # The same request again (a retry) answers the same payment; Stripe was asked once.
    again = await _pay(s, s.pay_request(client, (invoice.id, 50_000)), "key-1")
    assert again.id == payment.id
    intents = [r for r in s.stripe.controls.log if r.method == "POST" and r.path == "/v1/payment_intents"]
    assert len(intents) == 1


async def test_part_payments_and_several_invoices(engine: AsyncEngine) -> None:
    s = await shop(engine, "Partial MSP")
    client = await s.new_client()
    await s.save_method(client)
    a, b = await s.new_invoice(client, 30_000), await s.new_invoice(client, 20_000)
    payment = await _pay(s, s.pay_request(client, (a.id, 10_000), (b.id, 20_000)))
    assert payment.status is PaymentStatus.SUCCEEDED and payment.amount == 30_000
    assert (await s.invoice(a.id)).status is InvoiceStatus.PARTIALLY_PAID
    assert (await s.invoice(a.id)).balance == 20_000
    assert (await s.invoice(b.id)).status is InvoiceStatus.PAID


@pytest.mark.parametrize(
    ("token", "decline_code", "message_part"),
    [
        ("pm_card_chargeCustomerFail", "generic_decline", "declined"),
        ("pm_card_visa_chargeDeclinedInsufficientFunds", "insufficient_funds", "insufficient funds"),
        ("pm_card_visa_chargeDeclinedExpiredCard", "expired_card", "expired"),
        ("pm_card_visa_chargeDeclinedLostCard", "lost_card", "declined"),
    ],
)
async def test_a_declined_card_fails_the_payment_with_a_reason_the_client_understands(
    engine: AsyncEngine, token: str, decline_code: str, message_part: str
) -> None:
    s = await shop(engine, f"Decline MSP {decline_code}")
    client = await s.new_client()
    await s.save_method(client)
    await s.attach_directly(client, token)  # declines now, though it was accepted when saved
    invoice = await s.new_invoice(client, 12_345)
    payment = await _pay(s, s.pay_request(client, (invoice.id, 12_345)))
    assert payment.status is PaymentStatus.FAILED
    assert payment.decline_code == decline_code and message_part in (payment.failure_message or "").lower()
    assert "lost" not in (payment.failure_message or "").lower()  # the payer is not told what the bank suspects
    assert (await s.invoice(invoice.id)).balance == 12_345
    # A failed attempt holds nothing: paid with another card, the invoice is paid in full.
    other = await s.attach_directly(client, "pm_card_mastercard")
    retry = await _pay(s, s.pay_request(client, (invoice.id, 12_345), method_id=other.id))
    assert retry.status is PaymentStatus.SUCCEEDED and (await s.invoice(invoice.id)).balance == 0


async def test_authentication_required_tells_the_client_to_pay_on_session(engine: AsyncEngine) -> None:
    s = await shop(engine, "3DS MSP")
    client = await s.new_client()
    await s.save_method(client)
    await s.attach_directly(client, "pm_card_authenticationRequired")
    invoice = await s.new_invoice(client, 8_000)
    payment = await _pay(s, s.pay_request(client, (invoice.id, 8_000)))
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.failure_code == "authentication_required"
    assert "confirm" in (payment.failure_message or "")
    assert (await s.invoice(invoice.id)).balance == 8_000


async def test_ach_is_processing_until_the_bank_settles(engine: AsyncEngine) -> None:
    s = await shop(engine, "ACH MSP")
    client = await s.new_client()
    bank = await s.save_method(client, "pm_usBankAccount_success", "us_bank_account")
    assert bank.kind.value == "us_bank_account" and bank.last4
    invoice = await s.new_invoice(client, 250_000)
    payment = await _pay(s, s.pay_request(client, (invoice.id, 250_000)))
    assert payment.status is PaymentStatus.PROCESSING
    assert (await s.invoice(invoice.id)).balance == 250_000  # not paid until it settles
    with pytest.raises(ValidationFailed):  # the processing amount is held: nothing more can be collected
        await _pay(s, s.pay_request(client, (invoice.id, 1)))


class _CrashAfterStripe:
    """Stripe charges, then the process dies before recording the answer."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def charge(self, request: ChargeRequest) -> ChargeOutcome:
        await self.inner.charge(request)
        raise SystemExit("killed after the Stripe call")

    async def intent(self, account: str, intent_id: str) -> ChargeOutcome:
        return await self.inner.intent(account, intent_id)  # type: ignore[no-any-return]


async def test_a_crash_after_the_stripe_call_resumes_without_a_second_charge(engine: AsyncEngine) -> None:
    s = await shop(engine, "Crash MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 40_000)
    request = s.pay_request(client, (invoice.id, 40_000))
    with pytest.raises(SystemExit):
        await _pay(s, request, "crash-key", _CrashAfterStripe(s.gateway()))
    assert (await s.invoice(invoice.id)).balance == 40_000  # not recorded yet
    payment = await _pay(s, request, "crash-key")  # the client retries with the same key
    assert payment.status is PaymentStatus.SUCCEEDED
    assert (await s.invoice(invoice.id)).status is InvoiceStatus.PAID
    charges = list(s.stripe.partition(s.account).table("charge").objects.values())
    assert len(charges) == 1


@pytest.mark.parametrize("same_key", [True, False])
async def test_fifty_concurrent_requests_never_collect_more_than_the_balance(
    engine: AsyncEngine, same_key: bool
) -> None:
    s = await shop(engine, f"Concurrent MSP {same_key}")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)

    async def attempt(i: int) -> Any:
        key = "same" if same_key else f"key-{i}"
        try:
            return await _pay(s, s.pay_request(client, (invoice.id, 4_000)), key)
        except (ValidationFailed, Exception) as exc:
            return exc

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    succeeded = {r.id for r in results if getattr(r, "status", None) is PaymentStatus.SUCCEEDED}
    assert len(succeeded) == (1 if same_key else 2)
    final = await s.invoice(invoice.id)
    assert final.amount_paid == 4_000 * len(succeeded) <= final.total


async def test_resuming_after_stripe_forgot_the_idempotency_key_still_charges_once(engine: AsyncEngine) -> None:
    """Stripe keeps idempotency keys about a day: a retry after that finds the PaymentIntent by our payment id
    instead of creating a second one."""
    from sandbox.stripe_sandbox.idempotency import IdempotencyStore

    s = await shop(engine, "Forgetful MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 25_000)
    request = s.pay_request(client, (invoice.id, 25_000))
    with pytest.raises(SystemExit):
        await _pay(s, request, "day-old-key", _CrashAfterStripe(s.gateway()))
    s.stripe.idempotency = IdempotencyStore()  # a day later: Stripe no longer knows the key
    payment = await _pay(s, request, "day-old-key")
    assert payment.status is PaymentStatus.SUCCEEDED
    assert len(s.stripe.partition(s.account).table("charge").objects) == 1
    assert (await s.invoice(invoice.id)).status is InvoiceStatus.PAID


async def test_a_payment_stripe_refuses_for_good_fails_and_releases_the_invoice(engine: AsyncEngine) -> None:
    s = await shop(engine, "Minimum MSP")
    client = await s.new_client()
    await s.save_method(client)
    invoice = await s.new_invoice(client, 10_000)
    payment = await _pay(s, s.pay_request(client, (invoice.id, 20)))  # below Stripe's minimum charge
    assert payment.status is PaymentStatus.FAILED, payment
    async with s.uow() as uow:
        assert await uow.payments.held([invoice.id]) == {}
    assert (await _pay(s, s.pay_request(client, (invoice.id, 10_000)))).status is PaymentStatus.SUCCEEDED
