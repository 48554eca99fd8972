"""Stripe's test payment methods and what each one does (docs.stripe.com/testing and
docs.stripe.com/payments/ach-direct-debit/accept-a-payment#test-account-numbers).

Cards are reachable as `pm_card_<name>` (a PaymentMethod id usable anywhere a pm id is), `tok_<name>`
(`card[token]`) and, when the state allows raw card data, by number. Bank accounts as
`pm_usBankAccount_<name>` or by account number with routing number 110000000.

Advice codes and network codes are not published per test card; the values below follow
../shared/reference/collections.md (its class table and "[guess]" network-code column) so the retry engine
has every class to exercise. They are marked as guesses in the report.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decline:
    code: str  # error.code / charge.failure_code
    decline_code: str | None
    message: str
    advice_code: str | None = None
    network_decline_code: str | None = None
    network_advice_code: str | None = None


@dataclass(frozen=True)
class Card:
    brand: str
    last4: str
    funding: str = "credit"
    country: str = "US"
    decline: Decline | None = None  # declined when charged
    fails_when_saved: bool = False  # the issuer declines the $0 check done by SetupIntents and attach
    auth: str = "none"  # "none" | "always" (every payment asks for 3DS) | "setup" (asks once, at setup)
    available_now: bool = False  # funds skip the pending balance (4000000000000077)
    dispute_reason: str | None = None  # charge succeeds, then the cardholder disputes it


@dataclass(frozen=True)
class Bank:
    last4: str
    failure: str | None = None  # charge.failure_code after the processing period
    return_code: str | None = None  # the Nacha return code behind the failure
    blocked_reason: str | None = None  # Stripe blocks the account on non-NSF returns
    dispute_reason: str | None = None  # succeeds, then disputed (late return)
    never_settles: bool = False


GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.")
NSF = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.", "try_again_later", "51")
AUTH_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
    None,
    "1A",
)

CARDS: dict[str, Card] = {
    "visa": Card("visa", "4242"),
    "visa_debit": Card("visa", "5556", "debit"),
    "mastercard": Card("mastercard", "4444"),
    "mastercard_debit": Card("mastercard", "8210", "debit"),
    "mastercard_prepaid": Card("mastercard", "5100", "prepaid"),
    "amex": Card("amex", "0005"),
    "discover": Card("discover", "1117"),
    "diners": Card("diners", "0004"),
    "jcb": Card("jcb", "0505", country="JP"),
    "unionpay": Card("unionpay", "0005", country="CN"),
    "bypassPending": Card("visa", "0077", available_now=True),
    "chargeDeclined": Card("visa", "0002", decline=GENERIC, fails_when_saved=True),
    "chargeDeclinedInsufficientFunds": Card("visa", "9995", decline=NSF, fails_when_saved=True),
    "chargeDeclinedLostCard": Card(
        "visa",
        "9987",
        decline=Decline("card_declined", "lost_card", "Your card was declined.", "do_not_try_again", "41"),
        fails_when_saved=True,
    ),
    "chargeDeclinedStolenCard": Card(
        "visa",
        "9979",
        decline=Decline("card_declined", "stolen_card", "Your card was declined.", "do_not_try_again", "43"),
        fails_when_saved=True,
    ),
    "chargeDeclinedExpiredCard": Card(
        "visa",
        "0069",
        decline=Decline("expired_card", "expired_card", "Your card has expired.", "confirm_card_data", "54"),
        fails_when_saved=True,
    ),
    "chargeDeclinedIncorrectCvc": Card(
        "visa",
        "0127",
        decline=Decline(
            "incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "confirm_card_data", "N7"
        ),
        fails_when_saved=True,
    ),
    "chargeDeclinedProcessingError": Card(
        "visa",
        "0119",
        decline=Decline(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
            "try_again_later",
            "96",
        ),
        fails_when_saved=True,
    ),
    "chargeDeclinedFraudulent": Card(
        "visa",
        "0019",
        decline=Decline("card_declined", "fraudulent", "Your card was declined.", "do_not_try_again", "59"),
        fails_when_saved=True,
    ),
    "chargeDeclinedVelocityLimitExceeded": Card(
        "visa",
        "6975",
        decline=Decline("card_declined", "card_velocity_exceeded", "Your card was declined.", "try_again_later", "61"),
        fails_when_saved=True,
    ),
    # Saves fine, declines every charge: the documented way to test declines on a saved card.
    "chargeCustomerFail": Card("visa", "0341", decline=GENERIC),
    "authenticationRequired": Card("visa", "3184", auth="always"),
    "authenticationRequiredOnSetup": Card("visa", "3155", auth="setup"),
    "authenticationRequiredChargeDeclinedInsufficientFunds": Card("visa", "3178", decline=NSF, auth="always"),
    "createDispute": Card("visa", "0259", dispute_reason="fraudulent"),
    "createDisputeProductNotReceived": Card("visa", "2685", dispute_reason="product_not_received"),
}

# `pm_card_visa_chargeDeclined...` is the other spelling Stripe's docs use for the Visa decline cards.
ALIASES = {f"visa_{k}": k for k in CARDS if k.startswith("chargeDeclined")}

CARD_NUMBERS = {
    "4242424242424242": "visa",
    "4000056655665556": "visa_debit",
    "5555555555554444": "mastercard",
    "5200828282828210": "mastercard_debit",
    "5105105105105100": "mastercard_prepaid",
    "378282246310005": "amex",
    "6011111111111117": "discover",
    "4000000000000077": "bypassPending",
    "4000000000000002": "chargeDeclined",
    "4000000000009995": "chargeDeclinedInsufficientFunds",
    "4000000000009987": "chargeDeclinedLostCard",
    "4000000000009979": "chargeDeclinedStolenCard",
    "4000000000000069": "chargeDeclinedExpiredCard",
    "4000000000000127": "chargeDeclinedIncorrectCvc",
    "4000000000000119": "chargeDeclinedProcessingError",
    "4000000000000341": "chargeCustomerFail",
    "4000002760003184": "authenticationRequired",
    "4000002500003155": "authenticationRequiredOnSetup",
    "4000008260003178": "authenticationRequiredChargeDeclinedInsufficientFunds",
    "4000000000000259": "createDispute",
    "4000000000002685": "createDisputeProductNotReceived",
}

TEST_ROUTING_NUMBER = "110000000"

BANKS: dict[str, Bank] = {
    "000123456789": Bank("6789"),
    "000111111113": Bank("1113", "account_closed", "R02", "bank_account_closed"),
    "000111111116": Bank("1116", "no_account", "R03", "bank_account_invalid_details"),
    "000222222227": Bank("2227", "insufficient_funds", "R01"),
    "000333333335": Bank("3335", "debit_not_authorized", "R10", "debit_not_authorized"),
    "000444444440": Bank("4440", "invalid_currency"),
    "000555555559": Bank("5559", dispute_reason="insufficient_funds"),
    "000000000009": Bank("0009", never_settles=True),
    "000666666661": Bank("6661"),  # microdeposits fail to send; payments themselves are not affected here
}

BANK_TOKENS = {
    "success": "000123456789",
    "accountClosed": "000111111113",
    "noAccount": "000111111116",
    "insufficientFunds": "000222222227",
    "debitNotAuthorized": "000333333335",
    "invalidCurrency": "000444444440",
    "dispute": "000555555559",
    "processing": "000000000009",
    "failMicrodeposits": "000666666661",
}

ACH_FAILURE_MESSAGES = {
    "account_closed": "The customer's bank account has been closed.",
    "no_account": "The customer's bank account could not be located.",
    "insufficient_funds": "The customer's account has insufficient funds to cover this payment.",
    "debit_not_authorized": "The customer has notified their bank that this payment was unauthorized.",
    "invalid_currency": "The bank was unable to process this payment because of its currency.",
}


def card_for_token(name: str) -> tuple[str, Card] | None:
    """`visa` / `visa_chargeDeclined` (from pm_card_... or tok_...) -> (canonical name, card)."""
    key = ALIASES.get(name, name)
    card = CARDS.get(key)
    return (key, card) if card else None


def bank_for_token(name: str) -> tuple[str, Bank] | None:
    number = BANK_TOKENS.get(name)
    return (number, BANKS[number]) if number else None


def bank_for_number(number: str) -> Bank:
    """Any other account number behaves like the success account, as in Stripe's test mode."""
    return BANKS.get(number) or Bank(number[-4:])
